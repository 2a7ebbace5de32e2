"""Label selectors: the string grammar, matching and the structured form, against an oracle."""

from __future__ import annotations

import string
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgemc.apis.meta import (
    LabelSelector,
    Operator,
    Requirement,
    Selector,
    SelectorError,
    parse_label_selector,
    selector_from_label_selector,
)

# ---- generators of the documented grammar ----------------------------------------------

ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
RESERVED_WORDS = {"in", "notin"}  # cannot start a requirement (upstream grammar)


@st.composite
def name_parts(
    draw: st.DrawFn, alphabet: str = ALNUM, inner: str = "-_.", max_size: int = 63
) -> str:
    """A qualified-name name part / label value: alnum at both ends, <= 63 characters."""
    size = draw(st.one_of(st.integers(1, 8), st.just(max_size), st.integers(1, max_size)))
    first = draw(st.sampled_from(alphabet))
    if size == 1:
        return first
    middle = draw(st.text(alphabet=alphabet + inner, min_size=size - 2, max_size=size - 2))
    return first + middle + draw(st.sampled_from(alphabet))


dns_labels = name_parts(alphabet=LOWER_ALNUM, inner="-", max_size=20)
prefixes = st.lists(dns_labels, min_size=1, max_size=3).map(".".join)
keys = st.builds(
    lambda prefix, name: f"{prefix}/{name}" if prefix else name,
    st.one_of(st.none(), prefixes),
    name_parts(),
).filter(lambda k: k not in RESERVED_WORDS)
# A small pool so that generated label sets often hit the selector's keys and values.
values = st.one_of(st.just(""), name_parts(), st.sampled_from(["a", "b", "in", "notin", "v1"]))
numbers = st.integers(0, 10**6).map(str)

SET_OPS = ["in", "notin"]
EXACT_OPS = ["=", "==", "!="]
PRESENCE_OPS = ["exists", "!"]
NUMERIC_OPS = [">", "<"]


@st.composite
def requirement_specs(draw: st.DrawFn, key_pool: list[str]) -> tuple[str, str, list[str]]:
    """(key, operator as written, values): the test's own model of one requirement."""
    key = draw(st.sampled_from(key_pool))
    op = draw(st.sampled_from(SET_OPS + EXACT_OPS + PRESENCE_OPS + NUMERIC_OPS))
    if op in SET_OPS:
        vals = draw(st.lists(values, min_size=1, max_size=4))
    elif op in EXACT_OPS:
        vals = [draw(values)]
    elif op in NUMERIC_OPS:
        vals = [draw(numbers)]
    else:
        vals = []
    return key, op, vals


@st.composite
def selector_specs(draw: st.DrawFn) -> list[tuple[str, str, list[str]]]:
    key_pool = draw(st.lists(keys, min_size=1, max_size=4, unique=True))
    return draw(st.lists(requirement_specs(key_pool), max_size=5))


def render(draw: st.DrawFn, spec: tuple[str, str, list[str]]) -> str:
    """Write one requirement with arbitrary (legal) whitespace and value order."""
    key, op, vals = spec

    def ws() -> str:
        return draw(st.sampled_from(["", " ", "  ", "\t"]))

    if op == "exists":
        return ws() + key + ws()
    if op == "!":
        return ws() + "!" + ws() + key + ws()
    if op in SET_OPS:
        shuffled = draw(st.permutations(vals))
        body = ",".join(ws() + v + ws() for v in shuffled)
        return f"{ws()}{key} {ws()}{op}{ws()}({body}){ws()}"
    # Exact and numeric operators: a trailing space after an empty value is still empty.
    return f"{ws()}{key}{ws()}{op}{ws()}{vals[0]}{ws()}"


@st.composite
def selector_strings(draw: st.DrawFn) -> tuple[str, list[tuple[str, str, list[str]]]]:
    specs = draw(selector_specs())
    return ",".join(render(draw, s) for s in specs), specs


@st.composite
def label_sets(draw: st.DrawFn, specs: list[tuple[str, str, list[str]]]) -> dict[str, str]:
    """Labels that often touch the requirements' keys with their values (or near misses)."""
    labels: dict[str, str] = {}
    for key, _op, vals in specs:
        if draw(st.booleans()):
            pool = [
                *vals,
                "",
                "zz",
                *(str(int(v) + d) for v in vals if v.isdigit() for d in (-1, 1)),
            ]
            labels[key] = draw(st.one_of(st.sampled_from(pool), values, numbers))
    extra = draw(st.dictionaries(keys, values, max_size=2))
    return {**extra, **labels}


def _go_int64(text: str) -> int | None:
    """strconv.ParseInt(text, 10, 64): an optional sign, then decimal digits, in int64 range."""
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


def oracle(specs: list[tuple[str, str, list[str]]], labels: Mapping[str, str]) -> bool:
    """The documented semantics, written independently of the implementation."""
    for key, op, vals in specs:
        present = key in labels
        value = labels.get(key)
        if op in ("=", "==", "in"):
            ok = present and value in vals
        elif op in ("!=", "notin"):
            ok = not present or value not in vals
        elif op == "exists":
            ok = present
        elif op == "!":
            ok = not present
        elif not (present and _go_int64(value) is not None):
            ok = False  # numeric comparisons need an int64 label value (Go's ParseInt)
        elif op == ">":
            ok = int(value) > int(vals[0])
        else:
            ok = int(value) < int(vals[0])
        if not ok:
            return False
    return True


# ---- properties ---------------------------------------------------------------------------


@settings(max_examples=300)
@given(data=st.data(), case=selector_strings())
def test_parse_then_match_agrees_with_oracle(data: st.DataObject, case) -> None:
    text, specs = case
    selector = parse_label_selector(text)
    assert len(selector.requirements) == len(specs)
    for _ in range(5):
        labels = data.draw(label_sets(specs))
        assert selector.matches(labels) == oracle(specs, labels), (text, labels)


@settings(max_examples=300)
@given(case=selector_strings())
def test_canonical_string_round_trips(case) -> None:
    text, _specs = case
    selector = parse_label_selector(text)
    canonical = str(selector)
    again = parse_label_selector(canonical)
    assert again == selector
    assert str(again) == canonical
    assert " " not in canonical.replace(" in ", "").replace(" notin ", "")


@settings(max_examples=200)
@given(
    data=st.data(),
    match_labels=st.dictionaries(keys, values, max_size=3),
    expressions=st.lists(
        st.tuples(
            keys,
            st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]),
            st.lists(values, min_size=1, max_size=3),
        ),
        max_size=3,
    ),
)
def test_structured_form_agrees_with_string_form(
    data: st.DataObject, match_labels: dict[str, str], expressions
) -> None:
    structured = {
        "matchLabels": match_labels,
        "matchExpressions": [
            {"key": k, "operator": op, **({"values": v} if op in ("In", "NotIn") else {})}
            for k, op, v in expressions
        ],
    }
    selector = selector_from_label_selector(structured)
    specs = [(k, "=", [v]) for k, v in match_labels.items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    specs += [(k, ops[op], v if op in ("In", "NotIn") else []) for k, op, v in expressions]
    if specs:
        assert parse_label_selector(str(selector)) == selector
    else:
        assert selector.is_empty()
    for _ in range(5):
        labels = data.draw(label_sets(specs))
        assert selector.matches(labels) == oracle(specs, labels)


BAD_REQUIREMENTS = [
    "-bad=x",
    "bad-=x",
    "_bad",
    "a/b/c",
    "/name",
    "Upper.Example.com/name",
    "x" * 64 + "=v",
    "x=" + "v" * 64,
    "x in (a," + "v" * 64 + ")",
    "x=-v",
    "x==a==b",
    "x=a=b",
    "x in",
    "x notin",
    "x in (a",
    "x in a",
    "x in (a b)",
    "x in (a))",
    "x=(a)",
    "x=a b",
    "!x=a",
    "!!x",
    "!",
    "=x",
    "==",
    "x>a",
    "x<",
    "x>1.5",
    "x foo",
    "in",
    "notin (a)",
    "x )",
    "(x)",
]


@settings(max_examples=300)
@given(data=st.data(), specs=selector_specs(), bad=st.sampled_from(BAD_REQUIREMENTS))
def test_invalid_requirement_anywhere_is_rejected(data: st.DataObject, specs, bad: str) -> None:
    parts = [render(data.draw, s) for s in specs]
    parts.insert(data.draw(st.integers(0, len(parts))), bad)
    with pytest.raises(SelectorError):
        parse_label_selector(",".join(parts))


@settings(max_examples=100)
@given(
    case=selector_strings(),
    suffix=st.sampled_from([",", ",,", "(", ")", ", ,"]),
    prefix=st.sampled_from([",", "=", "(", ")", "!=", "==", ">"]),
)
def test_stray_separators_and_operators_are_rejected(case, suffix: str, prefix: str) -> None:
    text, specs = case
    if not specs:
        text = "a"
    with pytest.raises(SelectorError):
        parse_label_selector(text + suffix)
    with pytest.raises(SelectorError):
        parse_label_selector(prefix + text)


# ---- upstream examples --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical", "matching", "not_matching"),
    [
        ("", "", [{}, {"a": "b"}], []),
        ("environment in (production, qa)", "environment in (production,qa)",
         [{"environment": "qa"}], [{}, {"environment": "dev"}]),
        ("tier notin (frontend, backend)", "tier notin (backend,frontend)",
         [{}, {"tier": "db"}], [{"tier": "frontend"}]),
        ("partition", "partition", [{"partition": ""}], [{}]),
        ("!partition", "!partition", [{}], [{"partition": "x"}]),
        ("a=b,c!=d", "a=b,c!=d", [{"a": "b"}, {"a": "b", "c": "e"}],
         [{"a": "b", "c": "d"}, {"c": "e"}]),
        ("x=a,y=b,z=c", "x=a,y=b,z=c", [{"x": "a", "y": "b", "z": "c"}], [{"x": "a"}]),
        ("x!=a,y=b", "x!=a,y=b", [{"y": "b"}], [{"x": "a", "y": "b"}]),
        ("x=", "x=", [{"x": ""}], [{}, {"x": "a"}]),
        ("x= ", "x=", [{"x": ""}], [{}]),
        ("x=,z= ", "x=,z=", [{"x": "", "z": ""}], [{"x": ""}]),
        ("x>1", "x>1", [{"x": "2"}], [{"x": "1"}, {"x": "a"}, {}]),
        ("x>1,z<5", "x>1,z<5", [{"x": "2", "z": "4"}], [{"x": "2", "z": "5"}]),
        ("x>1,z<5,a=b,b in (foo,bar)", "a=b,b in (bar,foo),x>1,z<5",
         [{"a": "b", "b": "foo", "x": "3", "z": "0"}],
         [{"a": "b", "b": "baz", "x": "3", "z": "0"}]),
        ("zoo in (mar,lar,dar),moo,thing == map,!thingy",
         "moo,thing==map,!thingy,zoo in (dar,lar,mar)",
         [{"zoo": "mar", "moo": "lar", "thing": "map"}], [{"zoo": "mar", "thing": "map"}]),
        ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()",
         [{"x": "foo", "y": "1"}, {"x": "", "y": "", "z": "q"}],
         [{"x": "foo", "y": "1", "z": ""}, {"x": "bar", "y": "1"}]),
        ("x in (), y", "x in (),y", [{"x": "", "y": "a"}], [{"y": "a"}, {"x": "a", "y": "a"}]),
        ("x notin (a,in)", "x notin (a,in)", [{"x": "b"}], [{"x": "in"}]),
        ("x=in,y=notin", "x=in,y=notin", [{"x": "in", "y": "notin"}], [{"x": "in"}]),
        ("!in", "!in", [{}], [{"in": ""}]),
        ("example.com/key=a.b-c_d", "example.com/key=a.b-c_d", [{"example.com/key": "a.b-c_d"}],
         [{"key": "a.b-c_d"}]),
    ],
)  # fmt: skip
def test_upstream_examples(
    text: str, canonical: str, matching: list[dict[str, str]], not_matching: list[dict[str, str]]
) -> None:
    selector = parse_label_selector(text)
    assert str(selector) == canonical
    for labels in matching:
        assert selector.matches(labels), labels
    for labels in not_matching:
        assert not selector.matches(labels), labels


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x=a||y=b", 'unable to parse requirement: values[0][x]: Invalid value: "a||y"'),
        ("x==a==b", "found '==', expected: ',' or 'end of string'"),
        ("!x=a", "found '=', expected: ',' or 'end of string'"),
        ("x<a", "for 'Gt', 'Lt' operators, the value must be an integer"),
        ("x in", "unable to parse requirement: found '', expected: '('"),
        ("x in (a b)", "found 'b', expected: ',' or ')'"),
        ("a,", "found '', expected: identifier after ','"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("x foo", "found 'foo', expected: in, notin, =, ==, !=, gt, lt"),
        ("_zoo=bar", 'key: Invalid value: "_zoo": name part must consist of alphanumeric'),
        ("zoo=bar,foo=_mar", 'values[0][foo]: Invalid value: "_mar"'),
        ("x=" + "a" * 64, "must be no more than 63 characters"),
        ("in=a", "found 'in', expected: !, identifier, or 'end of string'"),
    ],
)
def test_error_messages_are_shaped_like_upstream(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as excinfo:
        parse_label_selector(text)
    assert message in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


# ---- structured form ----------------------------------------------------------------------


def test_nil_selector_selects_nothing_and_empty_selects_everything() -> None:
    assert not selector_from_label_selector(None).matches({})
    assert not selector_from_label_selector(None).is_empty()
    for empty in ({}, LabelSelector(), {"matchLabels": {}, "matchExpressions": []}):
        selector = selector_from_label_selector(empty)
        assert selector.is_empty()
        assert selector.matches({}) and selector.matches({"a": "b"})
    assert str(Selector.nothing()) == "" == str(Selector.empty())
    assert Selector.nothing().add(Requirement("a", Operator.EXISTS)).matches({"a": ""}) is False


def test_match_labels_and_expressions_are_anded() -> None:
    selector = selector_from_label_selector(
        LabelSelector(
            match_labels={"env": "prod"},
            match_expressions=[
                {"key": "tier", "operator": "In", "values": ["web", "api"]},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        )
    )
    assert str(selector) == "!canary,env=prod,tier in (api,web)"
    assert selector.matches({"env": "prod", "tier": "api"})
    assert not selector.matches({"env": "prod", "tier": "api", "canary": "1"})
    assert not selector.matches({"env": "dev", "tier": "api"})


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ({"matchExpressions": [{"key": "a", "operator": "Foo"}]},
         '"Foo" is not a valid label selector operator'),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
         "for 'in', 'notin' operators, values set can't be empty"),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn"}]},
         "for 'in', 'notin' operators, values set can't be empty"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
         "values set must be empty for exists and does not exist"),
        ({"matchLabels": {"a": "b c"}}, 'values[0][a]: Invalid value: "b c"'),
        ({"matchLabels": {"-a": "b"}}, 'key: Invalid value: "-a"'),
        ({"matchLabels": "nope"}, "invalid label selector"),
    ],
)  # fmt: skip
def test_invalid_structured_selectors(selector: dict, message: str) -> None:
    with pytest.raises(SelectorError) as excinfo:
        selector_from_label_selector(selector)
    assert message in str(excinfo.value)


def test_requirement_validates_on_construction() -> None:
    assert str(Requirement("a", "in", ("b", "a"))) == "a in (a,b)"
    with pytest.raises(SelectorError, match="exact-match compatibility requires one single value"):
        Requirement("a", Operator.EQUALS, ("b", "c"))
    with pytest.raises(SelectorError, match="Unsupported value"):
        Requirement("a", "~=", ("b",))
    with pytest.raises(SelectorError, match="exactly one value is required"):
        Requirement("a", Operator.GREATER_THAN, ())


def test_label_selector_model_matches() -> None:
    from edgemc.apis.edge import NonNamespacedObjectReferenceSet
    from edgemc.apis.meta import LabelSelector

    selector = LabelSelector.model_validate(
        {
            "matchLabels": {"env": "prod"},
            "matchExpressions": [{"key": "tier", "operator": "Exists"}],
        }
    )
    assert selector.matches({"env": "prod", "tier": "web"})
    assert not selector.matches({"env": "prod"})
    assert LabelSelector().matches({"anything": "x"})
    refs = NonNamespacedObjectReferenceSet.model_validate(
        {
            "apiGroup": "",
            "resources": ["namespaces"],
            "labelSelectors": [{"matchLabels": {"a": "b"}}],
        }
    )
    assert refs.matches("", "namespaces", "n1", {"a": "b"})
    assert not refs.matches("", "namespaces", "n1", {"a": "c"})
