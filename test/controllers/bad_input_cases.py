"""Bad input for the edge API and its controllers: hypothesis strategies, fixed nasty cases,
and the oracle that says which fields a structural-schema server must reject. No tests here.

Every strategy draws a `Drawn`: the object, the resource it is POSTed to, and its `defects`,
the field paths a kube-apiserver validating the CRD's structural schema must name in a 422
(a wrong JSON type, a missing required field, a duplicate list-map key, an invalid label or
annotation key). Everything else the strategies vary (selector operators and values, odd
group/resource/namespace names, unicode, `*`, empty strings, long lists) is accepted by real
kcp, whose CRD schemas type these fields as plain strings; only the controllers can judge it.
A `null` in a typed field is `uncertain`: upstream prunes some nulls and rejects others.

The oracle is written here, independently of the server's validation code: the name and
label rules are apimachinery's regular expressions and lengths.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from edgemc.controllers import resources as r
from edgemc.runtime import GroupVersionResource

Obj = dict[str, Any]
EDGE_API = "edge.kcp.io/v1alpha1"

# -- the oracle: apimachinery's name rules, written independently -----------------------------

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"{_DNS_LABEL}(\.{_DNS_LABEL})*")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")


def name_ok(name: str) -> bool:
    """An RFC 1123 subdomain of at most 253 characters (custom resource and most names)."""
    return len(name) <= 253 and _DNS_SUBDOMAIN.fullmatch(name) is not None


def qualified_name_ok(key: str) -> bool:
    """`[prefix/]name`: a label or (lower-cased) annotation key."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or "/" in prefix or not name_ok(prefix)):
        return False
    return 0 < len(name) <= 63 and _QUALIFIED_NAME.fullmatch(name) is not None


def label_value_ok(value: str) -> bool:
    return value == "" or (len(value) <= 63 and _QUALIFIED_NAME.fullmatch(value) is not None)


def metadata_defects(meta: Obj) -> set[str]:
    """The metadata fields of `meta` that apimachinery's ObjectMeta validation refuses."""
    defects: set[str] = set()
    if not name_ok(meta.get("name", "")):
        defects.add("metadata.name")
    labels = meta.get("labels") or {}
    if not all(qualified_name_ok(k) and label_value_ok(v) for k, v in labels.items()):
        defects.add("metadata.labels")
    annotations = meta.get("annotations") or {}
    size = sum(len(k) + len(v) for k, v in annotations.items())
    if size > 256 * 1024 or not all(qualified_name_ok(k.lower()) for k in annotations):
        defects.add("metadata.annotations")
    return defects


def covered(defect: str, fields: list[str]) -> bool:
    """Whether some cause field names `defect` or a place inside it (map keys and list items
    are spelled `x[k]` by some servers and `x.k` by others)."""
    return any(f == defect or f.startswith((defect + ".", defect + "[")) for f in fields)


# -- drawing with defects ------------------------------------------------------------------------


@dataclass
class Drawn:
    """One generated object and what the oracle knows about it."""

    resource: GroupVersionResource
    obj: Obj
    defects: set[str] = field(default_factory=set)
    uncertain: bool = False
    note: str = ""

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind"))


class Draft:
    """Helper of the composite strategies: draws values and records the defects injected."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
        self.draw = draw
        self.defects: set[str] = set()
        self.uncertain = False
        self.repeating = 0

    def chance(self, one_in: int) -> bool:
        return self.draw(st.integers(0, one_in - 1)) == 0

    def typed(self, path: str, json_type: str, good: Callable[[], Any]) -> Any:
        """Usually `good()`; one time in 25 a value of another JSON type (a defect at `path`),
        one time in 60 a null (uncertain). An object has tens of such fields, so about half
        of the objects drawn are valid."""
        if self.chance(60):
            self.uncertain = True
            return None
        if self.chance(25):
            self.defects.add(path)
            return self.draw(_WRONG[json_type])
        return good()

    def required(self, obj: Obj, key: str, path: str) -> Obj:
        """Drop required `key` from `obj` one time in 20 (a defect at `path.key`)."""
        if key in obj and self.chance(20):
            del obj[key]
            gone = f"{path}.{key}"
            self.defects = {x for x in self.defects if not covered(gone, [x])} | {gone}
        return obj

    def optional(
        self, obj: Obj, key: str, path: str, json_type: str, good: Callable[[], Any]
    ) -> None:
        """Set optional field `key` of `obj` half the time."""
        if self.draw(st.booleans()):
            obj[key] = self.typed(f"{path}.{key}", json_type, good)

    def items(self, path: str, element: Callable[[str], Any], max_size: int = 3) -> list[Any]:
        """A list of `element(path[i])`; one time in 15 one element repeated 200-2000 times
        (not inside another repeated element: a million copies only measure the body limit)."""
        if not self.repeating and self.chance(15):
            self.repeating += 1
            try:
                one = element(f"{path}[0]")
            finally:
                self.repeating -= 1
            return [one] * self.draw(st.sampled_from([200, 2000]))
        size = self.draw(st.integers(0, max_size))
        return [element(f"{path}[{i}]") for i in range(size)]

    def strings(self, path: str, texts: st.SearchStrategy[str]) -> list[Any]:
        return self.items(path, lambda p: self.typed(p, "string", lambda: self.draw(texts)))

    def unknown_field(self, obj: Obj) -> None:
        """Sometimes a field the schema does not know (pruned, never a defect). Not in a
        repeated element: each copy adds a Warning header (see the strict xfail about them)."""
        if not self.repeating and self.chance(8):
            obj[self.draw(st.sampled_from(["foo", "Spec", "locationselectors", "ünknown"]))] = 1


_JSON_SCALARS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
_WRONG: dict[str, st.SearchStrategy[Any]] = {
    "string": st.one_of(_JSON_SCALARS, st.lists(st.text(max_size=3), max_size=2), st.just({})),
    "array": st.one_of(_JSON_SCALARS, st.text(max_size=5), st.just({"a": "b"})),
    "object": st.one_of(
        _JSON_SCALARS, st.text(max_size=5), st.lists(st.integers(-9, 9), max_size=2)
    ),
    "boolean": st.one_of(st.integers(-9, 9), st.text(max_size=5), st.just([True])),
    "integer": st.one_of(st.text(max_size=3), st.booleans(), st.just([1])),
}

# -- texts ------------------------------------------------------------------------------------

WORDS = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?", fullmatch=True)
ODD_TEXT = st.one_of(
    st.text(max_size=12),  # any unicode except surrogates
    st.sampled_from(
        [
            "",
            " ",
            "*",
            "**",
            "..",
            "-",
            "a b",
            "A",
            "ü",
            "名前",
            "\n",
            "\t",
            "%(env)",
            "%%",
            "x" * 300,
        ]
    ),
)
TEXTS = st.one_of(WORDS, ODD_TEXT)
LABEL_KEYS = st.one_of(
    WORDS,
    st.builds(lambda p, n: f"{p}.example.com/{n}", WORDS, WORDS),
    st.sampled_from(["app", "env", "kubernetes.io/x", "a/b/c", "/x", "x/", "-a", "k" * 64, "ü"]),
    st.text(max_size=6),
)
LABEL_VALUES = st.one_of(WORDS, st.sampled_from(["", "v" * 63, "v" * 64, "a b", "ü", "-x", "1"]))
OPERATORS = st.sampled_from(
    ["In", "NotIn", "Exists", "DoesNotExist", "in", "Gt", "Lt", "=", "", "Foo", "exists"]
)
GROUPS = st.one_of(
    st.sampled_from(["", "apps", "apis.kcp.io", "group1.test", "edge.kcp.io", "*", "Apps", "ü"]),
    TEXTS,
)
RESOURCES = st.one_of(
    st.sampled_from(
        ["configmaps", "deployments", "apibindings", "namespaces", "apiservices", "*", "Pods", ""]
    ),
    TEXTS,
)
JSON_PATHS = st.one_of(
    st.sampled_from(
        [
            "$.data.extra",
            "$.metadata.labels.custom",
            "$.spec.replicas",
            "$.data['k']",
            "$.spec.template.spec.containers[0].image",
            "$.spec.template.spec.containers[7].image",
            "$.data.*",
            "$",
            "data.x",
            "$[",
            "$..x",
            "$" + ".deep" * 300,
            "",
        ]
    ),
    st.builds(lambda t: "$." + t, ODD_TEXT),
)
JSON_VALUES = st.sampled_from(
    [
        '"x"',
        "3",
        "-1",
        "null",
        "{}",
        '{"a": [1, 2]}',
        "not json",
        '{"a":',
        "",
        "[" * 2000 + "]" * 2000,
    ]
)


def _labels(d: Draft, path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for _ in range(d.draw(st.integers(0, 3))):
        out[d.draw(LABEL_KEYS)] = d.typed(f"{path}", "string", lambda: d.draw(LABEL_VALUES))
    return out


def label_selector(d: Draft, path: str) -> Obj:
    """A metav1.LabelSelector: any strings are accepted by the schema, wrong types are not."""
    sel: Obj = {}
    d.optional(sel, "matchLabels", path, "object", lambda: _labels(d, f"{path}.matchLabels"))

    def expression(p: str) -> Any:
        def build() -> Obj:
            expr: Obj = {
                "key": d.typed(f"{p}.key", "string", lambda: d.draw(LABEL_KEYS)),
                "operator": d.typed(f"{p}.operator", "string", lambda: d.draw(OPERATORS)),
            }
            d.optional(expr, "values", p, "array", lambda: d.strings(f"{p}.values", LABEL_VALUES))
            d.required(expr, "key", p)
            return d.required(expr, "operator", p)

        return d.typed(p, "object", build)

    if d.draw(st.booleans()):
        sel["matchExpressions"] = d.typed(
            f"{path}.matchExpressions",
            "array",
            lambda: d.items(f"{path}.matchExpressions", expression),
        )
    d.unknown_field(sel)
    return sel


def _selector_list(d: Draft, path: str) -> list[Any]:
    return d.items(path, lambda p: d.typed(p, "object", lambda: label_selector(d, p)))


def upsync_set(d: Draft, path: str) -> Obj:
    out: Obj = {
        "resources": d.typed(
            f"{path}.resources", "array", lambda: d.strings(f"{path}.resources", RESOURCES)
        )
    }
    d.optional(out, "apiGroup", path, "string", lambda: d.draw(GROUPS))
    d.optional(out, "namespaces", path, "array", lambda: d.strings(f"{path}.namespaces", TEXTS))
    d.optional(out, "names", path, "array", lambda: d.strings(f"{path}.names", TEXTS))
    return d.required(out, "resources", path)


def _non_namespaced(d: Draft, path: str) -> Obj:
    out: Obj = {
        "resources": d.typed(
            f"{path}.resources", "array", lambda: d.strings(f"{path}.resources", RESOURCES)
        )
    }
    d.optional(out, "apiGroup", path, "string", lambda: d.draw(GROUPS))
    d.optional(
        out, "resourceNames", path, "array", lambda: d.strings(f"{path}.resourceNames", TEXTS)
    )
    d.optional(
        out, "labelSelectors", path, "array", lambda: _selector_list(d, f"{path}.labelSelectors")
    )
    return d.required(out, "resources", path)


def _metadata(d: Draft, namespace: str | None = None) -> Obj:
    meta: Obj = {"name": d.draw(TEXTS) if d.chance(5) else d.draw(WORDS)}
    if namespace is not None:
        meta["namespace"] = namespace
    if d.chance(3):
        meta["labels"] = {
            d.draw(LABEL_KEYS): d.draw(LABEL_VALUES) for _ in range(d.draw(st.integers(0, 3)))
        }
    return meta


@st.composite
def edge_placements(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Drawn:
    """EdgePlacements with odd selectors, references and upsync sets (see the module doc)."""
    d = Draft(draw)

    def spec() -> Obj:
        out: Obj = {}
        d.optional(
            out,
            "locationSelectors",
            "spec",
            "array",
            lambda: _selector_list(d, "spec.locationSelectors"),
        )
        d.optional(
            out,
            "namespaceSelector",
            "spec",
            "object",
            lambda: label_selector(d, "spec.namespaceSelector"),
        )
        d.optional(
            out,
            "nonNamespacedObjects",
            "spec",
            "array",
            lambda: d.items(
                "spec.nonNamespacedObjects",
                lambda p: d.typed(p, "object", lambda: _non_namespaced(d, p)),
            ),
        )
        d.optional(
            out,
            "upsync",
            "spec",
            "array",
            lambda: d.items(
                "spec.upsync", lambda p: d.typed(p, "object", lambda: upsync_set(d, p))
            ),
        )
        d.optional(
            out, "aggregateStatusIntoSource", "spec", "boolean", lambda: d.draw(st.booleans())
        )
        d.unknown_field(out)
        return out

    obj: Obj = {"apiVersion": EDGE_API, "kind": "EdgePlacement", "metadata": _metadata(d)}
    if not d.chance(10):
        obj["spec"] = d.typed("spec", "object", spec)
    return Drawn(r.EDGE_PLACEMENTS, obj, d.defects, d.uncertain)


def _downsync_resource(d: Draft, path: str, cluster: bool) -> Obj:
    out: Obj = {
        "group": d.typed(f"{path}.group", "string", lambda: d.draw(GROUPS)),
        "apiVersion": d.typed(
            f"{path}.apiVersion",
            "string",
            lambda: d.draw(st.one_of(st.sampled_from(["v1", "v1alpha1", "v2beta3"]), TEXTS)),
        ),
        "resource": d.typed(f"{path}.resource", "string", lambda: d.draw(RESOURCES)),
    }
    if cluster:
        d.optional(out, "objects", path, "array", lambda: d.strings(f"{path}.objects", TEXTS))
    for key in ("group", "apiVersion", "resource"):
        d.required(out, key, path)
    return out


@st.composite
def syncer_configs(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Drawn:
    """SyncerConfigs with odd namespaceScope, clusterScope entries and upsync sets."""
    d = Draft(draw)
    scope_path = "spec.namespaceScope"

    def namespace_scope() -> Obj:
        scope: Obj = {}
        d.optional(
            scope,
            "namespaces",
            scope_path,
            "array",
            lambda: d.strings(f"{scope_path}.namespaces", TEXTS),
        )
        d.optional(
            scope,
            "resources",
            scope_path,
            "array",
            lambda: d.items(
                f"{scope_path}.resources",
                lambda p: d.typed(p, "object", lambda: _downsync_resource(d, p, cluster=False)),
            ),
        )
        return scope

    def spec() -> Obj:
        out: Obj = {}
        d.optional(out, "namespaceScope", "spec", "object", namespace_scope)
        d.optional(
            out,
            "clusterScope",
            "spec",
            "array",
            lambda: d.items(
                "spec.clusterScope",
                lambda p: d.typed(p, "object", lambda: _downsync_resource(d, p, cluster=True)),
            ),
        )
        d.optional(
            out,
            "upsync",
            "spec",
            "array",
            lambda: d.items(
                "spec.upsync", lambda p: d.typed(p, "object", lambda: upsync_set(d, p))
            ),
        )
        d.unknown_field(out)
        return out

    obj: Obj = {"apiVersion": EDGE_API, "kind": "SyncerConfig", "metadata": _metadata(d)}
    obj["spec"] = d.typed("spec", "object", spec)
    return Drawn(r.SYNCER_CONFIGS, obj, d.defects, d.uncertain)


def customizer_body(d: Draft, namespace: str) -> Drawn:
    replacements: list[Any] = []

    def replacement(p: str) -> Any:
        def build() -> Obj:
            rep: Obj = {
                "path": d.typed(f"{p}.path", "string", lambda: d.draw(JSON_PATHS)),
                "value": d.typed(f"{p}.value", "string", lambda: d.draw(JSON_VALUES)),
            }
            d.required(rep, "path", p)
            return d.required(rep, "value", p)

        return d.typed(p, "object", build)

    if d.draw(st.booleans()):
        replacements = d.items("replacements", replacement, max_size=4)
    obj: Obj = {"apiVersion": EDGE_API, "kind": "Customizer", "metadata": _metadata(d, namespace)}
    if replacements:
        obj["replacements"] = replacements
        paths = [x.get("path") if isinstance(x, dict) else None for x in replacements]
        if all(isinstance(p, str) for p in paths):
            # A list-map keyed by path: the first entry repeating an earlier path is named.
            seen: set[str] = set()
            for i, p in enumerate(paths):
                if p in seen:
                    d.defects.add(f"replacements[{i}]")
                    break
                seen.add(p)
    if d.chance(3):
        obj["metadata"].setdefault("annotations", {})["edge.kcp.io/expand-parameters"] = "true"
    return Drawn(r.CUSTOMIZERS, obj, d.defects, d.uncertain)


@st.composite
def customizers(draw: Callable[[st.SearchStrategy[Any]], Any], namespace: str = "default") -> Drawn:
    """Customizers with odd JSONPaths and values that are not JSON."""
    return customizer_body(Draft(draw), namespace)


def _workload_metadata(d: Draft, namespace: str, customizers: list[str]) -> Obj:
    meta = _metadata(d, namespace)
    annotations: Obj = {}
    for _ in range(d.draw(st.integers(0, 2))):
        annotations[d.draw(LABEL_KEYS)] = d.draw(TEXTS)
    if customizers and d.chance(2):
        annotations["edge.kcp.io/customizer"] = d.draw(
            st.sampled_from([*customizers, "missing", "x/y/z", ""])
        )
    if d.chance(3):
        annotations["edge.kcp.io/expand-parameters"] = "true"
    if annotations:
        meta["annotations"] = annotations
    return meta


@st.composite
def config_maps(
    draw: Callable[[st.SearchStrategy[Any]], Any],
    namespace: str = "default",
    customizers: tuple[str, ...] = (),
) -> Drawn:
    """ConfigMaps with odd labels, annotations (customizer references) and data."""
    d = Draft(draw)
    data = {
        d.draw(st.one_of(WORDS, st.sampled_from(["a.b", "_x", "-"]))): d.draw(
            st.one_of(TEXTS, st.sampled_from(["%(env) %(nope) %%", "v" * 100_000]))
        )
        for _ in range(d.draw(st.integers(0, 3)))
    }
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _workload_metadata(d, namespace, list(customizers)),
        "data": data,
    }
    return Drawn(r.CONFIGMAPS, obj, d.defects, d.uncertain)


def deployment_body(name: str, namespace: str, app: str, image: str = "library/httpd:2.4") -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


@st.composite
def deployments(
    draw: Callable[[st.SearchStrategy[Any]], Any],
    namespace: str = "default",
    customizers: tuple[str, ...] = (),
) -> Drawn:
    """Deployments with odd metadata, parameterised images and wrongly typed replicas."""
    d = Draft(draw)
    obj = deployment_body(
        "x", namespace, d.draw(WORDS), d.draw(st.one_of(TEXTS, st.just("img:%(env)")))
    )
    obj["metadata"] = _workload_metadata(d, namespace, list(customizers))
    d.optional(obj["spec"], "replicas", "spec", "integer", lambda: d.draw(st.integers(0, 3)))
    return Drawn(r.DEPLOYMENTS, obj, d.defects, d.uncertain)


# -- fixed nasty cases ----------------------------------------------------------------------------


def _placement(name: str, spec: Any) -> Obj:
    return {
        "apiVersion": EDGE_API,
        "kind": "EdgePlacement",
        "metadata": {"name": name},
        "spec": spec,
    }


@dataclass(frozen=True)
class Nasty:
    """A fixed case: the object (or raw body), the statuses allowed and the fields to name."""

    note: str
    resource: GroupVersionResource
    obj: Obj | None
    codes: frozenset[int]
    fields: tuple[str, ...] = ()
    raw: bytes | None = None


def nasty_cases(namespace: str) -> list[Nasty]:
    """Deterministic bad input for phase 1 (the server must answer each as listed)."""
    ok, invalid = frozenset({201}), frozenset({422})
    huge_names = [f"n{i}" for i in range(60_000)]
    return [
        Nasty(
            "spec a string",
            r.EDGE_PLACEMENTS,
            _placement("n-spec-str", "hello"),
            invalid,
            ("spec",),
        ),
        Nasty(
            "null selector",
            r.EDGE_PLACEMENTS,
            _placement("n-null", {"locationSelectors": [None]}),
            invalid,
            ("spec.locationSelectors[0]",),
        ),
        Nasty(
            "operator of another type",
            r.EDGE_PLACEMENTS,
            _placement(
                "n-op-int",
                {"locationSelectors": [{"matchExpressions": [{"key": "a", "operator": 7}]}]},
            ),
            invalid,
            ("spec.locationSelectors[0].matchExpressions[0].operator",),
        ),
        Nasty(
            "unknown operator (kcp accepts it)",
            r.EDGE_PLACEMENTS,
            _placement(
                "n-op-foo",
                {"locationSelectors": [{"matchExpressions": [{"key": "a", "operator": "Foo"}]}]},
            ),
            ok,
        ),
        Nasty(
            "20000 location selectors",
            r.EDGE_PLACEMENTS,
            _placement(
                "n-huge-sel",
                {"locationSelectors": [{"matchLabels": {f"k{i}": "v"}} for i in range(20_000)]},
            ),
            ok,
        ),
        Nasty(
            "60000 upsync names",
            r.EDGE_PLACEMENTS,
            _placement(
                "n-huge-upsync",
                {"upsync": [{"apiGroup": "g.test", "resources": ["r"], "names": huge_names}]},
            ),
            ok,
        ),
        Nasty(
            "body over 3 MiB",
            r.EDGE_PLACEMENTS,
            _placement(
                "n-too-big", {"upsync": [{"resources": ["r"], "names": ["x" * 100] * 40_000}]}
            ),
            frozenset({413}),
        ),
        Nasty(
            "nested 200 deep",
            r.EDGE_PLACEMENTS,
            _placement("n-deep", {"x": _nest(200)}),
            frozenset({400}),
        ),
        Nasty(
            "unicode name", r.EDGE_PLACEMENTS, _placement("plätze", {}), invalid, ("metadata.name",)
        ),
        Nasty("empty name", r.EDGE_PLACEMENTS, _placement("", {}), invalid, ("metadata.name",)),
        Nasty(
            "name of 254", r.EDGE_PLACEMENTS, _placement("a" * 254, {}), invalid, ("metadata.name",)
        ),
        Nasty("name of 253", r.EDGE_PLACEMENTS, _placement("a" * 253, {}), ok),
        Nasty(
            "labels of another type",
            r.EDGE_PLACEMENTS,
            {
                "apiVersion": EDGE_API,
                "kind": "EdgePlacement",
                "metadata": {"name": "n-lbl", "labels": "x"},
            },
            frozenset({400, 422}),
        ),
        Nasty(
            "not JSON",
            r.EDGE_PLACEMENTS,
            None,
            frozenset({400}),
            raw=b'{"apiVersion": "edge.kcp.io/v1alpha1", "kind": "EdgePlacement", "metadata": {',
        ),
        Nasty(
            "integer beyond 64 bits",
            r.EDGE_PLACEMENTS,
            None,
            frozenset({400, 422}),
            raw=b'{"apiVersion":"edge.kcp.io/v1alpha1","kind":"EdgePlacement","metadata":{"name":"n-bigint"},"spec":{"aggregateStatusIntoSource":123456789012345678901234567890}}',
        ),
        Nasty(
            "wrong kind in body",
            r.EDGE_PLACEMENTS,
            {"apiVersion": EDGE_API, "kind": "SyncerConfig", "metadata": {"name": "n-kind"}},
            frozenset({400}),
        ),
        Nasty(
            "clusterScope entry missing its resource",
            r.SYNCER_CONFIGS,
            {
                "apiVersion": EDGE_API,
                "kind": "SyncerConfig",
                "metadata": {"name": "n-cs"},
                "spec": {"clusterScope": [{"group": "", "apiVersion": "v1"}]},
            },
            invalid,
            ("spec.clusterScope[0].resource",),
        ),
        Nasty(
            "duplicate customizer paths",
            r.CUSTOMIZERS,
            {
                "apiVersion": EDGE_API,
                "kind": "Customizer",
                "metadata": {"name": "n-dup", "namespace": namespace},
                "replacements": [{"path": "$.a", "value": "1"}, {"path": "$.a", "value": "2"}],
            },
            invalid,
            ("replacements[1]",),
        ),
        Nasty(
            "annotations over 256 KiB",
            r.CONFIGMAPS,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": "n-ann",
                    "namespace": namespace,
                    "annotations": {"a": "x" * 270_000},
                },
            },
            invalid,
            ("metadata.annotations",),
        ),
        Nasty(
            "replicas a string",
            r.DEPLOYMENTS,
            {
                **deployment_body("n-rep", namespace, "x"),
                "spec": {**deployment_body("n-rep", namespace, "x")["spec"], "replicas": "2"},
            },
            invalid,
            ("spec.replicas",),
        ),
    ]


def _nest(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value
