"""Schema validation of written objects: unknown fields, types, value rules, metadata, CRDs.

What a kube-apiserver does between decoding a body and storing it, driven by the type's
JSON schema (upstream definitions for built-in kinds, the structural schema for CRDs):

* unknown fields: upstream's strict decoder (built-ins) and pruning (CRDs) report each one as
  `unknown field "spec.foo"` (path in document order, list items as `[0]`). With
  `fieldValidation=Strict` they fail the request with a 400 BadRequest whose message is
  `<Kind> in version "<v>" cannot be handled as a <Kind>: strict decoding error: unknown
  field "a", unknown field "b"` (kubectl prints `Error from server (BadRequest): error when
  creating "f.yaml": ` before it); with `Warn` each becomes a `Warning` header; with `Ignore`
  nothing. Upstream's default when the query parameter is absent is Warn.
* wrong JSON types: for built-in kinds upstream's Go decoder fails first, with a 400
  (`... cannot be handled as a Deployment: json: cannot unmarshal string into Go struct
  field DeploymentSpec.spec.replicas of type int32`); for custom resources it is a 422 cause.
* value rules (required, enum, pattern, bounds, lengths, item counts, list-type uniqueness,
  allOf/anyOf/oneOf/not) and metadata (names, labels, annotations) are 422 Invalid causes.

`ValidationResult.to_error` picks the upstream status in that order. Built-in schemas carry
upstream's `required` lists (Go struct tags), which are also zero-value checks here; they are
not applied under `.status`, whose writers upstream does not hold to them.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from edgemc.apis.meta import (
    SelectorError,
    selector_from_label_selector,
    validate_annotations,
    validate_dns1123_label,
    validate_dns1123_subdomain,
    validate_labels,
    validate_path_segment_name,
)
from edgemc.embedded.apiserver import errors
from edgemc.embedded.apiserver.builtin import REF_PREFIX, ref_name, resolve_schema
from edgemc.embedded.apiserver.resources import ResourceType, Schema

Cause = dict[str, str]
Resolver = Callable[[Schema | None], Schema | None]

FIELD_VALIDATION_MODES = ("Strict", "Warn", "Ignore")
OBJECT_META = REF_PREFIX + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

# Upstream enumerations of built-in string fields, by (definition short name, property). The
# shipped definitions carry none; these are the values upstream's validation accepts. An
# empty string is left to defaulting, as upstream (Go zero value).
BUILTIN_ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Container", "imagePullPolicy"): ("Always", "IfNotPresent", "Never"),
    ("Container", "terminationMessagePolicy"): ("FallbackToLogsOnError", "File"),
    ("ContainerPort", "protocol"): ("SCTP", "TCP", "UDP"),
    ("PodSpec", "restartPolicy"): ("Always", "Never", "OnFailure"),
    ("PodSpec", "dnsPolicy"): ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"),
    ("ServiceSpec", "type"): ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"),
    ("ServiceSpec", "sessionAffinity"): ("ClientIP", "None"),
    ("ServicePort", "protocol"): ("SCTP", "TCP", "UDP"),
    ("DeploymentStrategy", "type"): ("Recreate", "RollingUpdate"),
    ("HTTPIngressPath", "pathType"): ("Exact", "ImplementationSpecific", "Prefix"),
    ("CustomResourceDefinitionSpec", "scope"): ("Cluster", "Namespaced"),
}

# Which validator metadata.name gets, by (group, resource); everything else: DNS-1123 subdomain.
_LABEL_NAMED = {("", "namespaces"), ("", "services")}
_PATH_SEGMENT_NAMED = {
    ("rbac.authorization.k8s.io", r)
    for r in ("roles", "rolebindings", "clusterroles", "clusterrolebindings")
}


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


@dataclass
class ValidationResult:
    """Everything wrong with one object, and how upstream would answer.

    `causes` are StatusCause dicts; in Strict mode they include one per unknown field (reason
    FieldValueInvalid, message `unknown field "<path>"`) so that a caller looking only at
    causes still refuses the object. `warnings` are the texts of `Warning` headers.
    """

    causes: list[Cause] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Paths of unknown fields, in document order, whatever the mode.
    unknown_fields: list[str] = field(default_factory=list)
    # Built-in kinds: the Go decoder's message for the first wrong JSON type ("" = none).
    decode_error: str = ""

    @property
    def ok(self) -> bool:
        return not self.causes and not self.decode_error

    def to_error(self, rt: ResourceType, name: str) -> errors.StatusError | None:
        """The StatusError upstream would answer with (400 decode/strict, 422), or None."""
        prefix = f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
        if self.decode_error:
            return errors.bad_request(prefix + self.decode_error)
        strict = [c for c in self.causes if c.get("reason") == _STRICT_REASON and _is_unknown(c)]
        if strict:
            listed = ", ".join(c["message"] for c in strict)
            return errors.bad_request(prefix + "strict decoding error: " + listed)
        if self.causes:
            return errors.invalid(rt.kind, rt.group, name, self.causes)
        return None


_STRICT_REASON = "FieldValueInvalid"


def _is_unknown(cause: Cause) -> bool:
    return cause.get("message", "").startswith('unknown field "')


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def validate_object(
    rt: ResourceType,
    obj: dict[str, Any],
    *,
    field_validation: str = "Strict",
    resolve: Resolver = resolve_schema,
    replacing: dict[str, Any] | None = None,
) -> ValidationResult:
    """Validate `obj` against `rt`'s schema and Kubernetes' metadata rules (pure).

    `replacing` is the stored object an update replaces: unless `Strict`, its top-level
    fields that the update leaves equal are not walked again (a status write does not
    re-validate the spec). They passed when stored, unknown fields were dropped then, and
    upstream likewise lets unchanged custom-resource fields stand (validation ratcheting).
    """
    if field_validation not in FIELD_VALIDATION_MODES:
        raise ValueError(f"fieldValidation must be one of {FIELD_VALIDATION_MODES}")
    walker = _Walker(builtin=rt.builtin, resolve=resolve)
    if rt.schema is not None:
        walker.root(rt.schema, obj, None if field_validation == "Strict" else replacing)
    result = ValidationResult(unknown_fields=[u.path for u in walker.unknown])
    result.decode_error = walker.decode_error if rt.builtin else ""
    if field_validation == "Strict":
        result.causes.extend(
            {"reason": _STRICT_REASON, "message": f'unknown field "{p}"', "field": p}
            for p in result.unknown_fields
        )
    elif field_validation == "Warn":
        result.warnings.extend(f'unknown field "{p}"' for p in result.unknown_fields)
    result.causes.extend(walker.causes)
    result.causes.extend(validate_metadata(rt, obj.get("metadata")))
    result.causes.extend(_semantic_causes(rt, obj))
    return result


def prune_unknown_fields(
    rt: ResourceType, obj: dict[str, Any], *, resolve: Resolver = resolve_schema
) -> list[str]:
    """Drop the fields `rt`'s schema does not know from `obj` in place; return their paths.

    What upstream stores after a Warn/Ignore write: built-in kinds lose unknown fields when
    decoded into Go structs, custom resources by pruning.
    """
    if rt.schema is None:
        return []
    walker = _Walker(builtin=rt.builtin, resolve=resolve)
    walker.root(rt.schema, obj)
    for unknown in reversed(walker.unknown):
        unknown.parent.pop(unknown.key, None)
    return [u.path for u in walker.unknown]


def validate_metadata(rt: ResourceType, meta: Any) -> list[Cause]:
    """ObjectMeta rules every object gets: name or generateName, names, labels, annotations."""
    if not isinstance(meta, dict):
        return [_cause("FieldValueRequired", "metadata", "Required value")]
    causes: list[Cause] = []
    name, generate = meta.get("name"), meta.get("generateName")
    check = _name_validator(rt)
    if not name and not generate:
        causes.append(
            _cause(
                "FieldValueRequired",
                "metadata.name",
                "Required value: name or generateName is required",
            )
        )
    if isinstance(name, str) and name:
        causes.extend(_invalid("metadata.name", name, m) for m in check(name, False))
    if isinstance(generate, str) and generate:
        causes.extend(_invalid("metadata.generateName", generate, m) for m in check(generate, True))
    namespace = meta.get("namespace")
    if rt.namespaced and isinstance(namespace, str) and namespace:
        causes.extend(
            _invalid("metadata.namespace", namespace, m) for m in validate_dns1123_label(namespace)
        )
    labels, annotations = meta.get("labels"), meta.get("annotations")
    if isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values()):
        causes.extend(_from_field_error(e, "metadata.labels") for e in validate_labels(labels))
    if isinstance(annotations, dict) and all(isinstance(v, str) for v in annotations.values()):
        causes.extend(
            _from_field_error(e, "metadata.annotations") for e in validate_annotations(annotations)
        )
    owners = meta.get("ownerReferences")
    if isinstance(owners, list):
        controllers = [o for o in owners if isinstance(o, dict) and o.get("controller") is True]
        if len(controllers) > 1:
            causes.append(
                _cause(
                    "FieldValueInvalid",
                    "metadata.ownerReferences",
                    "Invalid value: []v1.OwnerReference: Only one reference can have "
                    "Controller set to true",
                )
            )
    return causes


def _name_validator(rt: ResourceType) -> Callable[[str, bool], list[str]]:
    key = (rt.group, rt.resource)
    if key in _PATH_SEGMENT_NAMED:
        return validate_path_segment_name

    base = validate_dns1123_label if key in _LABEL_NAMED else validate_dns1123_subdomain

    def check(value: str, prefix: bool) -> list[str]:
        # generateName is validated as a prefix: a trailing '-' stands for what is appended.
        if prefix and len(value) > 1 and value.endswith("-"):
            value = value[:-1] + "a"
        return base(value)

    return check


# Where built-in kinds hold a PodSpec.
_POD_SPEC_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "pods"): ("spec",),
    ("apps", "deployments"): ("spec", "template", "spec"),
    ("apps", "replicasets"): ("spec", "template", "spec"),
}


def _semantic_causes(rt: ResourceType, obj: dict[str, Any]) -> list[Cause]:
    """The few hand-written upstream rules edgemc relies on (container images, selectors,
    ConfigMap and Secret keys and sizes)."""
    if not rt.builtin:
        return []
    return (
        _pod_spec_causes(rt, obj) + _workload_selector_causes(rt, obj) + _data_map_causes(rt, obj)
    )


# Upstream's MaxSecretSize, which bounds ConfigMaps too.
MAX_DATA_BYTES = 1024 * 1024
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_CONFIG_KEY_MESSAGE = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)


def config_key_errors(key: str) -> list[str]:
    """Upstream's IsConfigMapKey: why `key` cannot name a ConfigMap or Secret entry."""
    errors = []
    if len(key) > 253:
        errors.append("must be no more than 253 characters")
    if not _CONFIG_KEY.fullmatch(key):
        errors.append(_CONFIG_KEY_MESSAGE)
    if key == ".":
        errors.append("must not be '.'")
    elif key == "..":
        errors.append("must not be '..'")
    elif key.startswith(".."):
        errors.append("must not start with '..'")
    return errors


def _data_map_causes(rt: ResourceType, obj: dict[str, Any]) -> list[Cause]:
    """ValidateConfigMap / ValidateSecret: entry keys, no key in both bags, at most 1 MiB."""
    if (rt.group, rt.resource) not in (("", "configmaps"), ("", "secrets")):
        return []
    secret = rt.resource == "secrets"
    bags = ("data",) if secret else ("data", "binaryData")
    causes: list[Cause] = []
    total = 0
    for bag in bags:
        entries = obj.get(bag)
        if not isinstance(entries, dict):
            continue
        for key, value in entries.items():
            path = f"{bag}[{key}]"
            causes.extend(_invalid(path, key, msg) for msg in config_key_errors(str(key)))
            other = obj.get("binaryData") if bag == "data" and not secret else None
            if isinstance(other, dict) and key in other:
                causes.append(_invalid(path, key, "duplicate of key present in binaryData"))
            if isinstance(value, str):
                # Secret data and ConfigMap binaryData are base64: count the decoded bytes.
                encoded = secret or bag == "binaryData"
                size = len(value) * 3 // 4 - value.count("=") if encoded else len(value.encode())
                total += size
    if total > MAX_DATA_BYTES:
        # Upstream names the whole object ("") for a ConfigMap, `data` for a Secret.
        causes.append(
            _cause(
                "FieldValueTooLong",
                "data" if secret else "",
                f"Too long: may not be more than {MAX_DATA_BYTES} bytes",
            )
        )
    return causes


def _pod_spec_causes(rt: ResourceType, obj: dict[str, Any]) -> list[Cause]:
    """Every container needs an image (upstream's validateContainers, not the schema)."""
    path = _POD_SPEC_PATHS.get((rt.group, rt.resource))
    spec: Any = obj
    for key in path or ():
        spec = spec.get(key) if isinstance(spec, dict) else None
    if not isinstance(spec, dict):
        return []
    causes: list[Cause] = []
    for key in ("initContainers", "containers"):
        containers = spec.get(key)
        for i, container in enumerate(containers if isinstance(containers, list) else ()):
            if container is None or (
                isinstance(container, dict) and container.get("image") in (None, "")
            ):
                field_path = ".".join(path or ()) + f".{key}[{i}].image"
                causes.append(_cause("FieldValueRequired", field_path, "Required value"))
    return causes


def _workload_selector_causes(rt: ResourceType, obj: dict[str, Any]) -> list[Cause]:
    if (rt.group, rt.resource) not in (("apps", "deployments"), ("apps", "replicasets")):
        return []
    spec = obj.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("selector"), dict):
        return []
    template = spec.get("template")
    template_meta = template.get("metadata") if isinstance(template, dict) else None
    labels = (template_meta or {}).get("labels") if isinstance(template_meta, dict) else None
    labels = labels if isinstance(labels, dict) else {}
    try:
        selector = selector_from_label_selector(spec["selector"])
    except SelectorError as exc:
        return [_invalid("spec.selector", spec["selector"], str(exc))]
    if selector.is_empty():
        return [
            _invalid(
                "spec.selector", spec["selector"], f"empty selector is invalid for {rt.singular}"
            )
        ]
    if not selector.matches(labels):
        return [
            _invalid(
                "spec.template.metadata.labels",
                labels,
                "`selector` does not match template `labels`",
            )
        ]
    return []


# --------------------------------------------------------------------------------------------
# The schema walk
# --------------------------------------------------------------------------------------------


@dataclass
class _Unknown:
    path: str
    parent: dict[str, Any]
    key: str


_GO_SCALARS = {"string": "string", "boolean": "bool", "number": "float64"}


class _Walker:
    """One pass over an object with its schema, collecting causes and unknown fields."""

    def __init__(self, *, builtin: bool, resolve: Resolver, collect_unknown: bool = True) -> None:
        self.builtin = builtin
        self.resolve = resolve
        # Off inside allOf/anyOf/oneOf/not branches: they constrain values, not the shape.
        self.collect_unknown = collect_unknown
        self.causes: list[Cause] = []
        self.unknown: list[_Unknown] = []
        self.decode_error = ""
        self.unchanged: dict[str, Any] | None = None

    def root(
        self, schema: Schema, obj: dict[str, Any], unchanged: dict[str, Any] | None = None
    ) -> None:
        """Walk `obj`; top-level fields equal to those of `unchanged` are skipped."""
        self.unchanged = unchanged
        node, struct = self._resolved(schema, "")
        if node is not None:
            self.value(node, obj, "", struct, root=True)

    # -- dispatch ---------------------------------------------------------------------------

    def _resolved(self, node: Schema | None, struct: str) -> tuple[Schema | None, str]:
        name = ref_name(node) if node else None
        if name is not None:
            return self.resolve(node), name.rsplit(".", 1)[-1]
        return node, struct

    def value(
        self,
        node: Schema,
        value: Any,
        path: str,
        struct: str,
        *,
        root: bool = False,
        in_status: bool = False,
    ) -> None:
        types = _types(node)
        if value is None:
            if self.builtin or node.get("nullable") is True or types is None:
                return
            self._type_error(node, value, path, struct, types)
            return
        if types is not None and not _has_type(value, types):
            self._type_error(node, value, path, struct, types)
            return
        if self.builtin and types is not None and not _fits_go_integer(node, value, types):
            self._range_error(node, value, path, struct, types)
            return
        self._enum_and_scalar_rules(node, value, path)
        if self.builtin and node.get("format") == "byte" and isinstance(value, str):
            self._base64(value, path)
        if not self.builtin:
            self._combinators(node, value, path)
        if isinstance(value, dict):
            self._object(node, value, path, struct, root=root, in_status=in_status)
        elif isinstance(value, list):
            self._array(node, value, path, struct, in_status=in_status)

    # -- objects ----------------------------------------------------------------------------

    def _object(
        self,
        node: Schema,
        obj: dict[str, Any],
        path: str,
        struct: str,
        *,
        root: bool,
        in_status: bool,
    ) -> None:
        props: dict[str, Schema] = node.get("properties") or {}
        extra = node.get("additionalProperties")
        preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
        embedded = node.get("x-kubernetes-embedded-resource") is True
        free_form = self.builtin and not props and extra is None
        envelope = root or embedded
        unchanged = self.unchanged if root else None
        if not (self.builtin and in_status):
            for key in node.get("required") or ():
                if self._missing(obj, key):
                    self._add("FieldValueRequired", _join(path, key), "Required value")
        for key, val in obj.items():
            child = f"{path}.{key}" if path else key
            if unchanged is not None and key in unchanged and _same(unchanged[key], val):
                continue
            if envelope and key == "metadata" and (embedded or not self.builtin):
                self._embedded_metadata(props.get("metadata"), val, child)
            elif envelope and key in ("apiVersion", "kind"):
                if val is not None and not isinstance(val, str):
                    self._type_error({"type": "string"}, val, child, struct, {"string"})
            elif key in props:
                sub, sub_struct = self._resolved(props[key], struct)
                if sub is None:
                    continue
                status = in_status or (root and key == "status")
                self.value(sub, val, child, sub_struct, in_status=status)
                self._builtin_enum(struct, key, val, child)
            elif isinstance(extra, dict):
                sub, sub_struct = self._resolved(extra, struct)
                if sub is not None:
                    self.value(sub, val, f"{path}[{key}]", sub_struct, in_status=in_status)
            elif extra is True or preserve or free_form or not self.collect_unknown:
                continue
            else:
                self.unknown.append(_Unknown(child, obj, key))
        if embedded:
            for key in ("apiVersion", "kind"):
                if not obj.get(key):
                    self._add(
                        "FieldValueRequired", _join(path, key), "Required value: must not be empty"
                    )
        self._count_rules(node, len(obj), path, "properties")

    def _missing(self, obj: dict[str, Any], key: str) -> bool:
        if key not in obj or obj[key] is None:
            return True
        # Built-in kinds: Go leaves an absent field at its zero value, which upstream's
        # validation then reports as required.
        return self.builtin and obj[key] in ("", [])

    def _embedded_metadata(self, custom: Schema | None, meta: Any, path: str) -> None:
        meta_schema = self.resolve({"$ref": OBJECT_META})
        if meta_schema is None:
            return
        was_builtin, self.builtin = self.builtin, True  # ObjectMeta is a Go struct everywhere
        try:
            self.value(meta_schema, meta, path, "ObjectMeta")
        finally:
            self.builtin = was_builtin
        # A CRD may constrain metadata.name / generateName (strings only).
        if isinstance(custom, dict) and isinstance(meta, dict):
            for key, sub in (custom.get("properties") or {}).items():
                if key in meta and isinstance(meta[key], str):
                    self._enum_and_scalar_rules(sub, meta[key], f"{path}.{key}")

    def _builtin_enum(self, struct: str, key: str, value: Any, path: str) -> None:
        if not self.builtin or not isinstance(value, str) or not value:
            return
        allowed = BUILTIN_ENUMS.get((struct, key))
        if allowed and value not in allowed:
            self._add("FieldValueNotSupported", path, _unsupported(value, allowed))

    # -- arrays -----------------------------------------------------------------------------

    def _array(
        self, node: Schema, items: list[Any], path: str, struct: str, *, in_status: bool
    ) -> None:
        item_schema, item_struct = self._resolved(node.get("items"), struct)
        if isinstance(item_schema, dict):
            struct_items = self.builtin and bool(item_schema.get("properties"))
            for i, item in enumerate(items):
                if item is None and struct_items:
                    item = {}  # Go decodes null in a slice of structs as the zero struct
                self.value(item_schema, item, f"{path}[{i}]", item_struct, in_status=in_status)
        self._count_rules(node, len(items), path, "items")
        if self.builtin:
            return
        list_type = node.get("x-kubernetes-list-type")
        if node.get("uniqueItems") is True or list_type == "set":
            self._duplicates(items, path, lambda item: item)
        elif list_type == "map":
            keys = node.get("x-kubernetes-list-map-keys") or []
            self._duplicates(
                items,
                path,
                lambda item: {k: item.get(k) for k in keys} if isinstance(item, dict) else item,
            )

    def _duplicates(self, items: list[Any], path: str, key_of: Callable[[Any], Any]) -> None:
        seen: set[bytes] = set()
        for i, item in enumerate(items):
            key = key_of(item)
            encoded = orjson.dumps(key, option=orjson.OPT_SORT_KEYS)
            if encoded in seen:
                self._add("FieldValueDuplicate", f"{path}[{i}]", f"Duplicate value: {_render(key)}")
            seen.add(encoded)

    # -- value rules ------------------------------------------------------------------------

    def _enum_and_scalar_rules(self, node: Schema, value: Any, path: str) -> None:
        enum = node.get("enum")
        if enum and value not in enum:
            self._add("FieldValueNotSupported", path, _unsupported(value, enum))
        if isinstance(value, str):
            pattern = node.get("pattern")
            if pattern and not re.search(pattern, value):
                self._invalid_in_body(path, value, f"should match '{pattern}'")
            length = len(value)
            if "minLength" in node and length < node["minLength"]:
                self._invalid_in_body(
                    path, value, f"should be at least {node['minLength']} chars long"
                )
            if "maxLength" in node and length > node["maxLength"]:
                self._add(
                    "FieldValueTooLong",
                    path,
                    f"Too long: may not be more than {node['maxLength']} bytes",
                )
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self._number_rules(node, value, path)

    def _number_rules(self, node: Schema, value: float, path: str) -> None:
        low, high = node.get("minimum"), node.get("maximum")
        if low is not None:
            if node.get("exclusiveMinimum") is True and value <= low:
                self._invalid_in_body(path, value, f"should be greater than {_num(low)}")
            elif value < low:
                self._invalid_in_body(
                    path, value, f"should be greater than or equal to {_num(low)}"
                )
        if high is not None:
            if node.get("exclusiveMaximum") is True and value >= high:
                self._invalid_in_body(path, value, f"should be less than {_num(high)}")
            elif value > high:
                self._invalid_in_body(path, value, f"should be less than or equal to {_num(high)}")
        step = node.get("multipleOf")
        if step and not math.isclose(value / step, round(value / step)):
            self._invalid_in_body(path, value, f"should be a multiple of {_num(step)}")

    def _count_rules(self, node: Schema, count: int, path: str, what: str) -> None:
        low = node.get("minItems" if what == "items" else "minProperties")
        high = node.get("maxItems" if what == "items" else "maxProperties")
        if low is not None and count < low:
            self._invalid_in_body(path, count, f"should have at least {low} {what}")
        if high is not None and count > high:
            self._add(
                "FieldValueTooMany", path, f"Too many: {count}: must have at most {high} items"
            )

    def _combinators(self, node: Schema, value: Any, path: str) -> None:
        def probe(sub: Schema) -> list[Cause]:
            walker = _Walker(builtin=False, resolve=self.resolve, collect_unknown=False)
            walker.value(sub, value, path, "")
            return walker.causes

        def passes(sub: Schema) -> bool:
            return not probe(sub)

        for sub in node.get("allOf") or ():
            self.causes.extend(probe(sub))
        if node.get("anyOf") and not any(passes(s) for s in node["anyOf"]):
            self._invalid_in_body(path, value, "must validate at least one schema (anyOf)")
        one_of = node.get("oneOf")
        if one_of and not _is_type_union(one_of) and sum(passes(s) for s in one_of) != 1:
            self._invalid_in_body(path, value, "must validate one and only one schema (oneOf)")
        if isinstance(node.get("not"), dict) and passes(node["not"]):
            self._invalid_in_body(path, value, "must not validate the schema (not)")

    def _base64(self, value: str, path: str) -> None:
        """Go decodes `format: byte` strings ([]byte) as padded standard base64."""
        offset = _base64_error_offset(value)
        if offset is None:
            return
        self._add(
            "FieldValueInvalid", path, f"Invalid value: {_render(value)}: illegal base64 data"
        )
        if not self.decode_error:
            self.decode_error = f"illegal base64 data at input byte {offset}"

    # -- reporting --------------------------------------------------------------------------

    def _add(self, reason: str, path: str, message: str) -> None:
        self.causes.append(_cause(reason, path, message))

    def _invalid_in_body(self, path: str, value: Any, rule: str) -> None:
        self._add(
            "FieldValueInvalid", path, f"Invalid value: {_render(value)}: {path} in body {rule}"
        )

    def _range_error(
        self, node: Schema, value: Any, path: str, struct: str, types: set[str]
    ) -> None:
        go_type = _go_type(node, types)
        self._add(
            "FieldValueInvalid",
            path,
            f"Invalid value: {_render(value)}: {path} in body must be of type {go_type}",
        )
        if not self.decode_error:
            self.decode_error = _go_decode_error(node, value, path, struct, types)

    def _type_error(
        self, node: Schema, value: Any, path: str, struct: str, types: set[str]
    ) -> None:
        actual = _json_type_name(value)
        expected = ",".join(sorted(types))
        self._add(
            "FieldValueTypeInvalid",
            path,
            f'Invalid value: "{actual}": {path} in body must be of type {expected}: "{actual}"',
        )
        if self.builtin and not self.decode_error:
            self.decode_error = _go_decode_error(node, value, path, struct, types)


# --------------------------------------------------------------------------------------------
# Schema and value helpers
# --------------------------------------------------------------------------------------------


_BASE64 = re.compile(r"[A-Za-z0-9+/]*")


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON, types included (in Python `True == 1 == 1.0`)."""
    return a is b or orjson.dumps(a) == orjson.dumps(b)


def _base64_error_offset(text: str) -> int | None:
    """Where padded standard base64 decoding of `text` fails (roughly Go's offset), or None."""
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        body = _BASE64.match(text).end()  # type: ignore[union-attr]
        if body < len(text) and text[body] != "=":
            return body
        return len(text) - len(text) % 4 if len(text) % 4 else body
    return None


def _is_type_union(branches: list[Any]) -> bool:
    """oneOf written only to allow several types (IntOrString, Quantity in the definitions)."""
    return all(isinstance(b, dict) and set(b) == {"type"} for b in branches)


def _types(node: Schema) -> set[str] | None:
    """The JSON types a node allows (without null), or None for any value."""
    if node.get("x-kubernetes-int-or-string") is True or node.get("format") == "int-or-string":
        return {"integer", "string"}
    declared = node.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if t != "null"} or None
    branches = node.get("oneOf")
    if branches and _is_type_union(branches):
        union: set[str] = set()
        for branch in branches:
            union |= _types(branch) or set()
        return union or None
    return None


def _has_type(value: Any, types: set[str]) -> bool:
    if isinstance(value, bool):
        return "boolean" in types
    if isinstance(value, int):
        return bool(types & {"integer", "number"})
    if isinstance(value, float):
        return "number" in types or ("integer" in types and value.is_integer())
    if isinstance(value, str):
        return "string" in types
    if isinstance(value, dict):
        return "object" in types
    if isinstance(value, list):
        return "array" in types
    return False


_GO_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def _fits_go_integer(node: Schema, value: Any, types: set[str]) -> bool:
    """Whether a number for an integer field of a built-in kind fits its Go type (int32 or
    int64); Go's decoder refuses the rest ("cannot unmarshal number 2147483648 ...")."""
    if isinstance(value, bool) or not isinstance(value, int | float) or "integer" not in types:
        return True
    if "string" in types:  # IntOrString keeps its number in an int32
        low, high = _GO_INT_RANGES["int32"]
    else:
        low, high = _GO_INT_RANGES.get(node.get("format") or "int64", _GO_INT_RANGES["int64"])
    return low <= value <= high


def _json_type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, dict) else "array"


def _go_decode_error(node: Schema, value: Any, path: str, struct: str, types: set[str]) -> str:
    """encoding/json's message for a value of the wrong type in a built-in object."""
    kind = {"boolean": "bool", "integer": "number", "number": "number"}.get(
        _json_type_name(value), _json_type_name(value)
    )
    if kind == "number":
        kind = f"number {orjson.dumps(value).decode()}"
    go_path = re.sub(r"\[[^\]]*\]", "", path)
    return (
        f"json: cannot unmarshal {kind} into Go struct field {struct or 'Object'}.{go_path} "
        f"of type {_go_type(node, types)}"
    )


def _go_type(node: Schema, types: set[str]) -> str:
    if types == {"integer", "string"}:
        return "intstr.IntOrString"
    if "integer" in types:
        return node.get("format") or "int64"
    if "array" in types:
        item = node.get("items") or {}
        name = ref_name(item)
        return "[]" + (_go_ref(name) if name else _go_type(item, _types(item) or set()))
    if "object" in types:
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            name = ref_name(extra)
            inner = _go_ref(name) if name else _go_type(extra, _types(extra) or set())
            return f"map[string]{inner}"
        return "map[string]interface {}"
    for t in ("string", "boolean", "number"):
        if t in types:
            return _GO_SCALARS[t]
    return "interface {}"


def _go_ref(name: str) -> str:
    parts = name.rsplit(".", 2)
    return f"{parts[-2]}.{parts[-1]}" if len(parts) == 3 else name


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _render(value: Any) -> str:
    """A value as field.Error shows it: strings quoted, numbers bare, others as JSON."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _num(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _unsupported(value: Any, allowed: Any) -> str:
    listed = ", ".join(_render(v) for v in sorted(allowed, key=str))
    return f"Unsupported value: {_render(value)}: supported values: {listed}"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _cause(reason: str, path: str, message: str) -> Cause:
    return {"reason": reason, "message": message, "field": path}


def _invalid(path: str, value: Any, message: str) -> Cause:
    return _cause("FieldValueInvalid", path, f"Invalid value: {_render(value)}: {message}")


def _from_field_error(error: str, path: str) -> Cause:
    """A cause from meta.py's `path: Invalid value: ...` field-error strings."""
    body = error[len(path) + 2 :] if error.startswith(path + ": ") else error
    reason = "FieldValueTooLong" if body.startswith("Too long") else "FieldValueInvalid"
    return _cause(reason, path, body)


# --------------------------------------------------------------------------------------------
# CustomResourceDefinitions
# --------------------------------------------------------------------------------------------

_ONE_STORAGE = "must have exactly one version marked as storage version"
_PRINTER_COLUMN_TYPES = ("boolean", "date", "integer", "number", "string")
_SCHEMA_TYPES = ("array", "boolean", "integer", "number", "object", "string")


def validate_crd(crd: dict[str, Any]) -> list[Cause]:
    """apiextensions' rules for a CustomResourceDefinition beyond its own schema.

    Names, group, scope, versions (exactly one storage version, unique names, a structural
    schema for each served version), printer columns, and `metadata.name` ==
    `<plural>.<group>`. Wording follows upstream where known.
    """
    causes: list[Cause] = []
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return [_cause("FieldValueRequired", "spec", "Required value")]
    group = spec.get("group")
    if not isinstance(group, str) or not group:
        causes.append(_cause("FieldValueRequired", "spec.group", "Required value"))
    else:
        causes.extend(_invalid("spec.group", group, m) for m in validate_dns1123_subdomain(group))
        if "." not in group:
            causes.append(_invalid("spec.group", group, "should be a domain with at least one dot"))
    causes.extend(_crd_names(spec.get("names")))
    scope = spec.get("scope")
    if scope not in ("Cluster", "Namespaced"):
        if not scope:
            causes.append(_cause("FieldValueRequired", "spec.scope", "Required value"))
        else:
            causes.append(
                _cause(
                    "FieldValueNotSupported",
                    "spec.scope",
                    _unsupported(scope, ("Cluster", "Namespaced")),
                )
            )
    causes.extend(_crd_versions(spec.get("versions")))
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    name = (crd.get("metadata") or {}).get("name")
    plural = names.get("plural")
    if plural and group and name != f"{plural}.{group}":
        causes.append(
            _invalid("metadata.name", name or "", 'must be spec.names.plural+"."+spec.group')
        )
    return causes


def _crd_names(names: Any) -> list[Cause]:
    path = "spec.names"
    if not isinstance(names, dict):
        return [_cause("FieldValueRequired", path, "Required value")]
    causes: list[Cause] = []
    for key in ("plural", "singular", "kind", "listKind"):
        value = names.get(key)
        if not value:
            if key != "singular":
                causes.append(_cause("FieldValueRequired", f"{path}.{key}", "Required value"))
            continue
        if not isinstance(value, str):
            continue
        lowered = value.lower() if key in ("kind", "listKind") else value
        messages = validate_dns1123_label(lowered)
        if messages and key in ("kind", "listKind"):
            messages = ["may have mixed case, but should otherwise match: " + m for m in messages]
        causes.extend(_invalid(f"{path}.{key}", value, m) for m in messages)
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        causes.append(
            _invalid(f"{path}.listKind", names["listKind"], "kind and listKind may not be the same")
        )
    for i, short in enumerate(names.get("shortNames") or ()):
        if isinstance(short, str):
            causes.extend(
                _invalid(f"{path}.shortNames[{i}]", short, m) for m in validate_dns1123_label(short)
            )
    return causes


def _crd_versions(versions: Any) -> list[Cause]:
    path = "spec.versions"
    if not isinstance(versions, list) or not versions:
        return [
            _cause(
                "FieldValueRequired",
                path,
                f"Required value: {_ONE_STORAGE}",
            )
        ]
    causes: list[Cause] = []
    storage = sum(1 for v in versions if isinstance(v, dict) and v.get("storage") is True)
    if storage != 1:
        causes.append(
            _cause(
                "FieldValueInvalid",
                path,
                f"Invalid value: {storage}: {_ONE_STORAGE}",
            )
        )
    seen: set[str] = set()
    for i, version in enumerate(versions):
        vpath = f"{path}[{i}]"
        if not isinstance(version, dict):
            continue
        name = version.get("name")
        if not name:
            causes.append(_cause("FieldValueRequired", f"{vpath}.name", "Required value"))
        elif isinstance(name, str):
            causes.extend(_invalid(f"{vpath}.name", name, m) for m in validate_dns1123_label(name))
            if name in seen:
                causes.append(
                    _cause(
                        "FieldValueDuplicate", f"{vpath}.name", f"Duplicate value: {_render(name)}"
                    )
                )
            seen.add(name)
        schema = (
            (version.get("schema") or {}).get("openAPIV3Schema")
            if isinstance(version.get("schema"), dict)
            else None
        )
        spath = f"{vpath}.schema.openAPIV3Schema"
        if schema is None:
            if version.get("served", True):
                causes.append(
                    _cause("FieldValueRequired", spath, "Required value: schemas are required")
                )
        elif isinstance(schema, dict):
            causes.extend(structural_schema_causes(schema, spath))
        for j, column in enumerate(version.get("additionalPrinterColumns") or ()):
            causes.extend(_printer_column(column, f"{vpath}.additionalPrinterColumns[{j}]"))
    return causes


def _printer_column(column: Any, path: str) -> list[Cause]:
    if not isinstance(column, dict):
        return []
    causes: list[Cause] = []
    for key in ("name", "type", "jsonPath"):
        if not column.get(key):
            causes.append(_cause("FieldValueRequired", f"{path}.{key}", "Required value"))
    ctype = column.get("type")
    if ctype and ctype not in _PRINTER_COLUMN_TYPES:
        causes.append(
            _cause(
                "FieldValueNotSupported", f"{path}.type", _unsupported(ctype, _PRINTER_COLUMN_TYPES)
            )
        )
    priority = column.get("priority")
    if isinstance(priority, int) and priority < 0:
        causes.append(_invalid(f"{path}.priority", priority, "must be greater than or equal to 0"))
    json_path = column.get("jsonPath")
    if isinstance(json_path, str) and json_path and not json_path.startswith("."):
        causes.append(
            _invalid(f"{path}.jsonPath", json_path, "must be a simple json path starting with .")
        )
    return causes


def structural_schema_causes(schema: Schema, path: str, *, at_root: bool = True) -> list[Cause]:
    """Why `schema` is not structural (a practical subset of apiextensions' rules).

    Every specified node has a type (unless it is int-or-string or preserves unknown fields),
    arrays have items, no `$ref`, properties and additionalProperties are exclusive, and the
    root is an object whose `metadata` may only constrain name and generateName.
    """
    causes: list[Cause] = []
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    int_or_string = schema.get("x-kubernetes-int-or-string") is True
    stype = schema.get("type")
    if "$ref" in schema:
        causes.append(
            _cause("FieldValueForbidden", f"{path}.$ref", "Forbidden: $ref is not supported")
        )
    if at_root:
        if not stype:
            causes.append(
                _cause(
                    "FieldValueRequired",
                    f"{path}.type",
                    "Required value: must not be empty at the root",
                )
            )
        elif stype != "object":
            causes.append(_invalid(f"{path}.type", stype, "must be object at the root"))
    elif not stype and not preserve and not int_or_string:
        causes.append(
            _cause(
                "FieldValueRequired",
                f"{path}.type",
                "Required value: must not be empty for specified object fields",
            )
        )
    if stype and stype not in _SCHEMA_TYPES:
        causes.append(
            _cause("FieldValueNotSupported", f"{path}.type", _unsupported(stype, _SCHEMA_TYPES))
        )
    props = schema.get("properties")
    extra = schema.get("additionalProperties")
    if props and isinstance(extra, dict | bool) and extra is not False:
        causes.append(
            _cause(
                "FieldValueForbidden",
                f"{path}.additionalProperties",
                "Forbidden: additionalProperties and properties are mutual exclusive",
            )
        )
    if stype == "array" and not isinstance(schema.get("items"), dict):
        causes.append(
            _cause("FieldValueRequired", f"{path}.items", "Required value: must be specified")
        )
    if isinstance(props, dict):
        for key, sub in props.items():
            sub_path = f"{path}.properties[{key}]"
            if at_root and key == "metadata" and isinstance(sub, dict):
                causes.extend(_root_metadata_causes(sub, sub_path))
            elif isinstance(sub, dict):
                causes.extend(structural_schema_causes(sub, sub_path, at_root=False))
    if isinstance(schema.get("items"), dict):
        causes.extend(structural_schema_causes(schema["items"], f"{path}.items", at_root=False))
    if isinstance(extra, dict):
        causes.extend(
            structural_schema_causes(extra, f"{path}.additionalProperties", at_root=False)
        )
    return causes


def _root_metadata_causes(meta: Schema, path: str) -> list[Cause]:
    props = meta.get("properties") or {}
    bad = (
        bool(set(meta) - {"type", "properties", "description"})
        or bool(set(props) - {"name", "generateName"})
        or meta.get("type", "object") != "object"
        or any(
            not isinstance(s, dict) or s.get("type", "string") != "string" for s in props.values()
        )
    )
    if bad:
        return [
            _cause(
                "FieldValueForbidden",
                path,
                "Forbidden: must not specify anything other than name and generateName, but "
                "metadata is implicitly specified",
            )
        ]
    return []


__all__ = [
    "BUILTIN_ENUMS",
    "FIELD_VALIDATION_MODES",
    "ValidationResult",
    "prune_unknown_fields",
    "structural_schema_causes",
    "validate_crd",
    "validate_metadata",
    "validate_object",
]
