"""Kubernetes object-meta machinery shared by the API server and the controllers (pure, no I/O).

Three parts:

* pydantic v2 models of the metav1 types every object carries: `ObjectMeta`, `OwnerReference`,
  `Condition`, `LabelSelector` (Python attributes are snake_case, JSON names are exactly the
  Kubernetes camelCase ones, unknown fields are kept so nothing is lost on a round trip);
* label and field selectors: a compiled `Selector` / `FieldSelector` with `matches`, the
  string grammar (`parse_label_selector`, `parse_field_selector`) and the conversion from the
  structured form (`selector_from_label_selector`), all with upstream semantics;
* the name validators of apimachinery, returning lists of messages worded like upstream's.

Label-selector semantics, as upstream (labels.Parse / metav1.LabelSelectorAsSelector):

* `k=v`, `k==v`, `k in (v1,v2)`: the key is present and its value is one of the values;
* `k!=v`, `k notin (v1,v2)`: the key is absent, or present with a value not listed;
* `k`: present; `!k`: absent; `k>n`, `k<n`: present with an integer value greater/less than n;
* requirements are ANDed; the empty string selects everything;
* the empty string is a valid value: `k=` and `k in ()` (the latter is `k in ("")`) match a
  present key with an empty value, so upstream's own grammar example
  `x in (foo,,baz),y,z notin ()` is valid;
* a structured LabelSelector that is absent (None) selects nothing, `{}` selects everything.

Known quirk kept from upstream: the words `in` and `notin` cannot start a requirement, so a
label key spelled exactly `in` or `notin` can be matched only through the structured form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

__all__ = [
    "Condition",
    "FieldRequirement",
    "FieldSelector",
    "KubeModel",
    "LabelSelector",
    "LabelSelectorRequirement",
    "ObjectMeta",
    "Operator",
    "OwnerReference",
    "Requirement",
    "Selector",
    "SelectorError",
    "controller_of",
    "escape_field_value",
    "find_condition",
    "format_timestamp",
    "parse_field_selector",
    "parse_label_selector",
    "parse_timestamp",
    "selector_from_label_selector",
    "set_condition",
    "validate_annotations",
    "validate_dns1123_label",
    "validate_dns1123_subdomain",
    "validate_label_value",
    "validate_labels",
    "validate_path_segment_name",
    "validate_qualified_name",
]


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


class KubeModel(BaseModel):
    """Base of every API model: camelCase JSON names, snake_case attributes, extras kept.

    Populate with either spelling (`LabelSelector(matchLabels=...)` or `match_labels=...`);
    serialise with `to_dict()`, which drops unset (None) fields like Go's `omitempty` and
    writes unknown fields back unchanged.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: Kubernetes field names, None fields left out, extras kept."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class LabelSelectorRequirement(KubeModel):
    """One `matchExpressions` entry. `operator` is kept as a string (In, NotIn, Exists,
    DoesNotExist); an unknown operator is reported when compiling, as upstream does."""

    key: str
    operator: str
    values: list[str] | None = None


class LabelSelector(KubeModel):
    """metav1.LabelSelector; compile it with `selector_from_label_selector`."""

    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether `labels` satisfy this selector ({} matches all); SelectorError if invalid."""
        return selector_from_label_selector(self).matches(labels)


class Condition(KubeModel):
    """metav1.Condition. Timestamps are RFC 3339 strings (see `format_timestamp`)."""

    type: str
    status: str = "Unknown"
    reason: str | None = None
    message: str | None = None
    last_transition_time: str | None = None
    observed_generation: int | None = None


class OwnerReference(KubeModel):
    """metav1.OwnerReference."""

    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(KubeModel):
    """metav1.ObjectMeta. Fields not modelled here (managedFields, ...) are kept as extras.

    Timestamps stay RFC 3339 strings so that an object read and written back is unchanged.
    """

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    finalizers: list[str] | None = None
    owner_references: list[OwnerReference] | None = None


def format_timestamp(when: datetime | None = None) -> str:
    """RFC 3339 with second precision in UTC, as metav1.Time serialises (`...T12:00:00Z`)."""
    when = datetime.now(UTC) if when is None else when
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (`Z` or an offset, optional fraction) to an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))


def find_condition(conditions: Iterable[Condition] | None, type_: str) -> Condition | None:
    """The condition of the given type, or None."""
    for condition in conditions or ():
        if condition.type == type_:
            return condition
    return None


def set_condition(conditions: list[Condition], new: Condition, now: str | None = None) -> bool:
    """Add or update `new` in `conditions` in place (meta.SetStatusCondition semantics).

    `lastTransitionTime` changes only when the status changes (taken from `new` when set,
    else `now`, else the current time). Returns True when anything changed.
    """
    stamp = new.last_transition_time or now or format_timestamp()
    existing = find_condition(conditions, new.type)
    if existing is None:
        conditions.append(new.model_copy(update={"last_transition_time": stamp}))
        return True
    changed = False
    if existing.status != new.status:
        existing.status = new.status
        existing.last_transition_time = stamp
        changed = True
    for attr in ("reason", "message", "observed_generation"):
        value = getattr(new, attr)
        if getattr(existing, attr) != value:
            setattr(existing, attr, value)
            changed = True
    return changed


def controller_of(meta: ObjectMeta) -> OwnerReference | None:
    """The owner reference with `controller: true`, if any (metav1.GetControllerOf)."""
    for ref in meta.owner_references or ():
        if ref.controller:
            return ref
    return None


# --------------------------------------------------------------------------------------------
# Name validation (apimachinery's util/validation wording)
# --------------------------------------------------------------------------------------------

LABEL_VALUE_MAX_LENGTH = 63
QUALIFIED_NAME_MAX_LENGTH = 63
DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
# Sum of key and value lengths over all annotations of one object; larger objects are refused.
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024

_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_RE = re.compile(_QNAME_FMT)
_QNAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_VALUE_FMT = f"({_QNAME_FMT})?"
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character"
)
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_FMT = rf"{_DNS1123_LABEL_FMT}(\.{_DNS1123_LABEL_FMT})*"
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character"
)


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    # Upstream's shape, including its doubled space between examples.
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def validate_qualified_name(value: str) -> list[str]:
    """Problems with `value` as a qualified name (`[prefix/]name`, e.g. a label key)."""
    errors: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend(f"prefix part {m}" for m in validate_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > QUALIFIED_NAME_MAX_LENGTH:
        errors.append("name part " + _max_len_error(QUALIFIED_NAME_MAX_LENGTH))
    if name and not _QNAME_RE.fullmatch(name):
        errors.append(
            "name part " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errors


def validate_label_value(value: str) -> list[str]:
    """Problems with `value` as a label value (empty is fine)."""
    errors: list[str] = []
    if len(value) > LABEL_VALUE_MAX_LENGTH:
        errors.append(_max_len_error(LABEL_VALUE_MAX_LENGTH))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errors.append(
            _regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345")
        )
    return errors


def validate_dns1123_label(value: str) -> list[str]:
    """Problems with `value` as an RFC 1123 label (namespace names, ...)."""
    errors: list[str] = []
    if len(value) > DNS1123_LABEL_MAX_LENGTH:
        errors.append(_max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _DNS1123_LABEL_RE.fullmatch(value):
        errors.append(_regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errors


def validate_dns1123_subdomain(value: str) -> list[str]:
    """Problems with `value` as an RFC 1123 subdomain (most object names)."""
    errors: list[str] = []
    if len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errors.append(_max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errors.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errors


def validate_path_segment_name(name: str, prefix: bool = False) -> list[str]:
    """Problems with `name` as one URL path segment (names of most other objects).

    With `prefix=True` only the characters are checked (for generateName prefixes).
    """
    errors: list[str] = []
    if not prefix and name in (".", ".."):
        errors.append(f"may not be '{name}'")
    errors.extend(f"may not contain '{bad}'" for bad in ("/", "%") if bad in name)
    return errors


def _quote(value: Any) -> str:
    """Render a value the way field.Error does: strings quoted, lists as Go literals."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[]string{" + ", ".join(_quote(v) for v in value) + "}"
    return str(value)


def _invalid(path: str, value: Any, detail: str) -> str:
    return f"{path}: Invalid value: {_quote(value)}: {detail}"


def validate_labels(labels: Mapping[str, str], path: str = "metadata.labels") -> list[str]:
    """Field errors (`path: Invalid value: "x": ...`) for label keys and values."""
    errors: list[str] = []
    for key, value in labels.items():
        errors.extend(_invalid(path, key, m) for m in validate_qualified_name(key))
        errors.extend(_invalid(path, value, m) for m in validate_label_value(value))
    return errors


def validate_annotations(
    annotations: Mapping[str, str], path: str = "metadata.annotations"
) -> list[str]:
    """Field errors for annotation keys (qualified names, case-insensitive) and total size."""
    errors: list[str] = []
    total = 0
    for key, value in annotations.items():
        errors.extend(_invalid(path, key, m) for m in validate_qualified_name(key.lower()))
        total += len(key) + len(value)
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errors.append(f"{path}: Too long: may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes")
    return errors


# --------------------------------------------------------------------------------------------
# Label selectors
# --------------------------------------------------------------------------------------------


class SelectorError(ValueError):
    """An invalid label or field selector; the message is shaped like the Kubernetes one."""


class Operator(StrEnum):
    """Selector operators; values are upstream's `selection.Operator` strings."""

    IN = "in"
    NOT_IN = "notin"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


_SET_OPERATORS = frozenset({Operator.IN, Operator.NOT_IN})
_EXACT_OPERATORS = frozenset({Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS})
_NUMERIC_OPERATORS = frozenset({Operator.GREATER_THAN, Operator.LESS_THAN})
_PRESENCE_OPERATORS = frozenset({Operator.EXISTS, Operator.DOES_NOT_EXIST})
_INT64_RE = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _parse_int64(text: str) -> int | None:
    """Go's strconv.ParseInt(text, 10, 64), or None."""
    if not _INT64_RE.fullmatch(text):
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def _aggregate(errors: Sequence[str]) -> str:
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


@dataclass(frozen=True)
class Requirement:
    """One label requirement (key, operator, values), validated on construction.

    Values are kept sorted and de-duplicated (after the count checks) so that equal
    requirements compare equal and print the same.
    Raises SelectorError on an invalid key, value, operator or value count.
    """

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        try:
            operator = Operator(self.operator)
        except ValueError:
            supported = ", ".join(f'"{op.value}"' for op in Operator)
            raise SelectorError(
                f'operator: Unsupported value: "{self.operator}": supported values: {supported}'
            ) from None
        if isinstance(self.values, str):
            raise TypeError("Requirement values must be a sequence of strings, not a string")
        values = tuple(self.values)
        errors: list[str] = []
        if key_errors := validate_qualified_name(self.key):
            errors.append(_invalid("key", self.key, "; ".join(key_errors)))
        if operator in _SET_OPERATORS and not values:
            errors.append(
                _invalid("values", values, "for 'in', 'notin' operators, values set can't be empty")
            )
        elif operator in _EXACT_OPERATORS and len(values) != 1:
            errors.append(
                _invalid("values", values, "exact-match compatibility requires one single value")
            )
        elif operator in _PRESENCE_OPERATORS and values:
            errors.append(
                _invalid("values", values, "values set must be empty for exists and does not exist")
            )
        elif operator in _NUMERIC_OPERATORS:
            if len(values) != 1:
                errors.append(
                    _invalid(
                        "values", values, "for 'Gt', 'Lt' operators, exactly one value is required"
                    )
                )
            for i, value in enumerate(values):
                if _parse_int64(value) is None:
                    errors.append(
                        _invalid(
                            f"values[{i}]",
                            value,
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        )
                    )
        for i, value in enumerate(values):
            if value_errors := validate_label_value(value):
                errors.append(_invalid(f"values[{i}][{self.key}]", value, "; ".join(value_errors)))
        if errors:
            raise SelectorError(_aggregate(errors))
        object.__setattr__(self, "operator", operator)
        object.__setattr__(self, "values", tuple(sorted(set(values))))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set satisfies this requirement (labels.Requirement.Matches)."""
        op = self.operator
        present = self.key in labels
        if op is Operator.EXISTS:
            return present
        if op is Operator.DOES_NOT_EXIST:
            return not present
        if op in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return not present or labels[self.key] not in self.values
        if not present:
            return False
        if op in _NUMERIC_OPERATORS:
            have, want = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if op is Operator.GREATER_THAN else have < want
        return labels[self.key] in self.values

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        if op in _SET_OPERATORS:
            return f"{self.key} {op.value} ({','.join(self.values)})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{symbol}{self.values[0]}"


@dataclass(frozen=True)
class Selector:
    """A compiled label selector: requirements (sorted by key) that must all match.

    `Selector.empty()` matches everything; `Selector.nothing()` matches nothing. Both print
    as the empty string, as upstream; keep a `nothing()` selector away from query strings.
    """

    requirements: tuple[Requirement, ...] = ()
    matches_nothing: bool = False

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.requirements, key=lambda r: r.key))
        object.__setattr__(self, "requirements", ordered)

    @classmethod
    def empty(cls) -> Selector:
        """The selector that matches every label set."""
        return cls()

    @classmethod
    def nothing(cls) -> Selector:
        """The selector that matches no label set (a nil LabelSelector)."""
        return cls(matches_nothing=True)

    def is_empty(self) -> bool:
        """True when this selector matches everything (upstream `Selector.Empty()`)."""
        return not self.matches_nothing and not self.requirements

    def add(self, *requirements: Requirement) -> Selector:
        """A new selector with more requirements (still nothing, if this one is)."""
        if self.matches_nothing:
            return self
        return Selector(self.requirements + requirements)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether the label set satisfies every requirement."""
        if self.matches_nothing:
            return False
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


_MATCH_EXPRESSION_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def selector_from_label_selector(
    selector: LabelSelector | Mapping[str, Any] | None,
) -> Selector:
    """Compile a structured LabelSelector (metav1.LabelSelectorAsSelector semantics).

    None selects nothing; a selector with neither matchLabels nor matchExpressions selects
    everything. Raises SelectorError on an unknown operator or invalid key/values.
    """
    if selector is None:
        return Selector.nothing()
    if not isinstance(selector, LabelSelector):
        try:
            selector = LabelSelector.model_validate(selector)
        except ValidationError as exc:
            raise SelectorError(f"invalid label selector: {exc}") from None
    match_labels = selector.match_labels or {}
    expressions = selector.match_expressions or []
    if not match_labels and not expressions:
        return Selector.empty()
    requirements = [Requirement(k, Operator.EQUALS, (v,)) for k, v in match_labels.items()]
    for expr in expressions:
        operator = _MATCH_EXPRESSION_OPERATORS.get(expr.operator)
        if operator is None:
            raise SelectorError(f'"{expr.operator}" is not a valid label selector operator')
        requirements.append(Requirement(expr.key, operator, tuple(expr.values or ())))
    return Selector(tuple(requirements))


# Lexer of the string grammar. Token kinds:
_IDENT, _EOS, _COMMA, _OPEN, _CLOSE = "identifier", "end of string", ",", "(", ")"
_SYMBOLS = {
    "==": Operator.DOUBLE_EQUALS,
    "!=": Operator.NOT_EQUALS,
    "=": Operator.EQUALS,
    "!": Operator.DOES_NOT_EXIST,
    ">": Operator.GREATER_THAN,
    "<": Operator.LESS_THAN,
}
_PUNCTUATION = {",": _COMMA, "(": _OPEN, ")": _CLOSE}
_SPECIAL_CHARS = frozenset("=!<>(),")
_WHITESPACE = frozenset(" \t\r\n")
_KEYWORDS = {"in": Operator.IN, "notin": Operator.NOT_IN}
_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"


def _tokenize(text: str) -> list[tuple[Any, str]]:
    """Split a selector into (kind, literal) tokens; kind is an Operator or a _KIND string."""
    tokens: list[tuple[Any, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _WHITESPACE:
            i += 1
        elif ch in _SPECIAL_CHARS:
            two = text[i : i + 2]
            if two in _SYMBOLS:
                tokens.append((_SYMBOLS[two], two))
                i += 2
            elif ch in _SYMBOLS:
                tokens.append((_SYMBOLS[ch], ch))
                i += 1
            else:
                tokens.append((_PUNCTUATION[ch], ch))
                i += 1
        else:
            start = i
            while i < n and text[i] not in _SPECIAL_CHARS and text[i] not in _WHITESPACE:
                i += 1
            word = text[start:i]
            tokens.append((_KEYWORDS.get(word, _IDENT), word))
    tokens.append((_EOS, ""))
    return tokens


class _LabelSelectorParser:
    """Recursive-descent parser of the label-selector grammar (one instance per string).

    Where a value is expected, the words `in`/`notin` are ordinary identifiers.
    """

    def __init__(self, text: str) -> None:
        self._tokens = _tokenize(text)
        self._pos = 0

    def _peek(self, values: bool = False) -> tuple[Any, str]:
        kind, literal = self._tokens[self._pos]
        if values and kind in (Operator.IN, Operator.NOT_IN):
            kind = _IDENT
        return kind, literal

    def _next(self, values: bool = False) -> tuple[Any, str]:
        token = self._peek(values)
        if self._pos < len(self._tokens) - 1:
            self._pos += 1
        return token

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            kind, literal = self._peek()
            if kind is _EOS:
                return requirements
            if kind not in (_IDENT, Operator.DOES_NOT_EXIST):
                raise SelectorError(
                    f"found '{literal}', expected: !, identifier, or 'end of string'"
                )
            try:
                requirements.append(self._requirement())
            except SelectorError as exc:
                raise SelectorError(f"unable to parse requirement: {exc}") from None
            kind, literal = self._next(values=True)
            if kind is _EOS:
                return requirements
            if kind is not _COMMA:
                raise SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
            kind, literal = self._peek(values=True)
            if kind not in (_IDENT, Operator.DOES_NOT_EXIST):
                raise SelectorError(f"found '{literal}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        negated = False
        kind, literal = self._next(values=True)
        if kind is Operator.DOES_NOT_EXIST:
            negated = True
            kind, literal = self._next(values=True)
        if kind is not _IDENT:
            raise SelectorError(f"found '{literal}', expected: identifier")
        key = literal
        if key_errors := validate_qualified_name(key):
            raise SelectorError(_invalid("key", key, "; ".join(key_errors)))
        if negated:
            return Requirement(key, Operator.DOES_NOT_EXIST)
        if self._peek(values=True)[0] in (_EOS, _COMMA):
            return Requirement(key, Operator.EXISTS)
        kind, literal = self._next()
        if not isinstance(kind, Operator) or kind in _PRESENCE_OPERATORS:
            raise SelectorError(f"found '{literal}', expected: {_BINARY_OPERATORS}")
        values = self._value_set() if kind in _SET_OPERATORS else self._exact_value()
        return Requirement(key, kind, tuple(values))

    def _exact_value(self) -> set[str]:
        kind, literal = self._peek(values=True)
        if kind in (_EOS, _COMMA):
            return {""}
        kind, literal = self._next(values=True)
        if kind is not _IDENT:
            raise SelectorError(f"found '{literal}', expected: identifier")
        return {literal}

    def _value_set(self) -> set[str]:
        """`( [v] {, [v]} )`: comma-separated slots, an empty slot being the empty value."""
        kind, literal = self._next(values=True)
        if kind is not _OPEN:
            raise SelectorError(f"found '{literal}', expected: '('")
        values: set[str] = set()
        slot_filled = False
        while True:
            kind, literal = self._next(values=True)
            if kind is _IDENT and not slot_filled:
                values.add(literal)
                slot_filled = True
            elif kind is _COMMA or kind is _CLOSE:
                if not slot_filled:
                    values.add("")
                if kind is _CLOSE:
                    return values
                slot_filled = False
            elif slot_filled:
                raise SelectorError(f"found '{literal}', expected: ',' or ')'")
            else:
                raise SelectorError(f"found '{literal}', expected: ',', ')' or identifier")


def parse_label_selector(text: str) -> Selector:
    """Parse the label-selector string grammar (labels.Parse); "" selects everything.

    Raises SelectorError with a Kubernetes-shaped message on invalid input.
    """
    return Selector(tuple(_LabelSelectorParser(text).parse()))


# --------------------------------------------------------------------------------------------
# Field selectors
# --------------------------------------------------------------------------------------------


def escape_field_value(value: str) -> str:
    """Escape `\\`, `,` and `=` in a field-selector value."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape_field_value(value: str) -> str:
    out: list[str] = []
    escaped = False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            raise SelectorError(f"invalid field selector: unescaped character in value: {ch}")
        else:
            out.append(ch)
    if escaped:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


@dataclass(frozen=True)
class FieldRequirement:
    """`field=value` (operator EQUALS) or `field!=value` (operator NOT_EQUALS)."""

    field: str
    operator: Operator
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        """A missing field has the value "" (so `spec.nodeName=` matches unscheduled pods)."""
        equal = fields.get(self.field, "") == self.value
        return equal if self.operator is Operator.EQUALS else not equal

    def __str__(self) -> str:
        symbol = "=" if self.operator is Operator.EQUALS else "!="
        return f"{self.field}{symbol}{escape_field_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    """A compiled field selector: requirements that must all match.

    Which fields exist is the server's business: it should refuse requirements on fields it
    does not index (upstream answers 400 `field label not supported: <field>`).
    """

    requirements: tuple[FieldRequirement, ...] = ()

    @classmethod
    def empty(cls) -> FieldSelector:
        return cls()

    def is_empty(self) -> bool:
        return not self.requirements

    @property
    def fields(self) -> frozenset[str]:
        """The field paths the selector refers to."""
        return frozenset(r.field for r in self.requirements)

    def requires_exact_match(self, field: str) -> str | None:
        """The value `field` must equal, if the selector pins it (for index lookups)."""
        for r in self.requirements:
            if r.field == field and r.operator is Operator.EQUALS:
                return r.value
        return None

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    start, escaped = 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == separator:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _split_field_term(term: str) -> tuple[str, str, str] | None:
    """(field, operator symbol, raw value) at the first operator found, or None."""
    escaped = False
    for i, ch in enumerate(term):
        if escaped:
            escaped = False
            continue
        if ch == "\\":
            escaped = True
            continue
        for symbol in ("!=", "==", "="):
            if term.startswith(symbol, i):
                return term[:i], symbol, term[i + len(symbol) :]
    return None


def parse_field_selector(text: str) -> FieldSelector:
    """Parse `f=v`, `f==v`, `f!=v` terms separated by commas (fields.ParseSelector).

    Field paths are taken verbatim (no whitespace trimming, as upstream); values may escape
    `\\`, `,` and `=` with a backslash. Terms come out sorted by field, operator and value.
    """
    requirements: list[FieldRequirement] = []
    terms = sorted(_split_unescaped(text, ",")) if text else []
    for term in terms:
        if not term:
            continue
        split = _split_field_term(term)
        if split is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        field, symbol, raw_value = split
        operator = Operator.NOT_EQUALS if symbol == "!=" else Operator.EQUALS
        requirements.append(FieldRequirement(field, operator, _unescape_field_value(raw_value)))
    # Canonical order by content (not by escaped text), so rendering and re-parsing is stable.
    requirements.sort(key=lambda r: (r.field, r.operator.value, r.value))
    return FieldSelector(tuple(requirements))
