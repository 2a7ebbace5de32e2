"""Strategic merge patch (`application/strategic-merge-patch+json`) for built-in kinds.

`strategic_merge(original, patch, schema, resolve)` applies a patch the way the Kubernetes
API server does, so that a repeated client-side `kubectl apply` works. The schema is a
JSON-schema node of the object (the upstream definitions shipped by kubernetes-validate);
`$ref` nodes are followed with `resolve`. Only the patch metadata decides how to merge:

* `x-kubernetes-patch-strategy`: `merge` on a list merges it (by
  `x-kubernetes-patch-merge-key` for lists of objects, by value for lists of primitives);
  `replace` on an object replaces it; `retainKeys` is honoured through the `$retainKeys`
  directive the client sends. `x-kubernetes-list-type` / `-list-map-keys` are deliberately
  not consulted: kubectl computes its patches from the patch metadata alone, and merging a
  list kubectl expects to be replaced would keep elements the user removed.
* Objects merge key by key; `null` deletes a key; other lists, scalars and values of a
  changed type are replaced. Where the schema says nothing (unknown fields, schema None) this
  is exactly JSON merge patch (RFC 7386).

Directives: `$patch: replace | delete | merge` in an object (replace it with the rest of the
patch / empty it / merge as usual) and as a list element (`{"$patch": "replace"}` replaces
the whole list by the other elements, `{"$patch": "delete", <key>: v}` removes the elements
with that merge key, `{"$patch": "merge"}` is the default); `$deleteFromPrimitiveList/<f>`
(values removed from the primitive list f); `$setElementOrder/<f>` (order of the merged list
f); `$retainKeys` (keys of the object to keep; the rest are cleared before merging).

Order of a merged list: without `$setElementOrder`, original elements keep their places
(patched ones updated in place, deleted ones removed) and new ones are appended in patch
order. Upstream instead moves patched elements into patch order; the two agree whenever the
patch comes from kubectl, which always sends `$setElementOrder` with merged lists. With
`$setElementOrder`, listed elements follow it and elements the client did not list keep
their places relative to the listed ones as far as the live order allows (upstream rule).

Upstream rejects `$patch: merge`; here it is accepted as the explicit default. Other
malformed patches raise `PatchError`, whose `status` (400 or 422) the server can answer with.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PatchError", "Resolver", "Schema", "json_merge_patch", "strategic_merge"]

Schema = dict[str, Any]
Resolver = Callable[[str], Schema]

PATCH_DIRECTIVE = "$patch"
RETAIN_KEYS_DIRECTIVE = "$retainKeys"
SET_ELEMENT_ORDER_PREFIX = "$setElementOrder/"
DELETE_FROM_PRIMITIVE_LIST_PREFIX = "$deleteFromPrimitiveList/"

PATCH_STRATEGY = "x-kubernetes-patch-strategy"
PATCH_MERGE_KEY = "x-kubernetes-patch-merge-key"

# Depth of `$ref` chains followed before giving up (a cycle of pure references is a broken
# schema; real definitions need one hop).
_MAX_REF_HOPS = 32


class PatchError(ValueError):
    """A malformed strategic merge patch. `status` is the HTTP status to answer (400/422)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def json_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch; returns a new value and leaves its inputs untouched."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def strategic_merge(
    original: Mapping[str, Any],
    patch: Mapping[str, Any],
    schema: Schema | None = None,
    resolve: Resolver | None = None,
) -> dict[str, Any]:
    """Apply a strategic merge patch to `original`; returns a new dict, inputs untouched.

    `schema` is the JSON-schema node of the whole object (None: no patch metadata, i.e.
    JSON merge patch); `resolve("#/$defs/<name>")` returns the node a `$ref` points to.
    Raises PatchError on a malformed patch.
    """
    if not isinstance(patch, Mapping):
        raise PatchError("a strategic merge patch must be a JSON object")
    merger = _Merger(resolve)
    return merger.merge_map(
        copy.deepcopy(dict(original)), copy.deepcopy(dict(patch)), merger.deref(schema)
    )


@dataclass(frozen=True)
class _FieldMeta:
    """What the schema says about one field: its patch metadata and its (resolved) node."""

    strategies: frozenset[str] = frozenset()
    merge_key: str | None = None
    schema: Schema | None = None

    @property
    def merges_list(self) -> bool:
        return "merge" in self.strategies

    @property
    def replaces_map(self) -> bool:
        return "replace" in self.strategies


_UNKNOWN = _FieldMeta()
_MISSING = object()


def _identity(value: Any) -> Any:
    """A hashable identity of a JSON scalar (True and 1 stay distinct)."""
    if value is None or isinstance(value, str | int | float):
        return (type(value) is bool, value)
    return ("json", json.dumps(value, sort_keys=True))


def _describe(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class _Merger:
    """The merge walk. It mutates the (already copied) original and patch it is given."""

    def __init__(self, resolve: Resolver | None) -> None:
        self._resolve = resolve

    # ---- schema navigation -------------------------------------------------------------

    def deref(self, node: Any) -> Schema | None:
        """Follow `$ref` (and a lone `allOf` wrapper) to the node that describes the value."""
        for _ in range(_MAX_REF_HOPS):
            if not isinstance(node, dict):
                return None
            ref = node.get("$ref")
            if isinstance(ref, str):
                if self._resolve is None:
                    raise LookupError(f"schema has $ref {ref!r} but no resolver was given")
                node = self._resolve(ref)
                continue
            all_of = node.get("allOf")
            if isinstance(all_of, list) and len(all_of) == 1 and "properties" not in node:
                node = all_of[0]
                continue
            return node
        raise LookupError("schema $ref chain too long (cycle?)")

    def field(self, node: Schema | None, key: str) -> _FieldMeta:
        if node is None:
            return _UNKNOWN
        properties = node.get("properties")
        child: Any = None
        if isinstance(properties, dict):
            child = properties.get(key)
        if child is None:
            additional = node.get("additionalProperties")
            child = additional if isinstance(additional, dict) else None
        if not isinstance(child, dict):
            return _UNKNOWN
        resolved = self.deref(child)
        meta_source = child if PATCH_STRATEGY in child or PATCH_MERGE_KEY in child else resolved
        meta_source = meta_source or {}
        strategy = meta_source.get(PATCH_STRATEGY) or ""
        return _FieldMeta(
            strategies=frozenset(s.strip() for s in str(strategy).split(",") if s.strip()),
            merge_key=meta_source.get(PATCH_MERGE_KEY) or None,
            schema=resolved,
        )

    def items(self, node: Schema | None) -> Schema | None:
        return self.deref(node.get("items")) if node is not None else None

    # ---- objects -----------------------------------------------------------------------

    def merge_map(
        self, original: dict[str, Any], patch: dict[str, Any], node: Schema | None
    ) -> dict[str, Any]:
        directive = patch.pop(PATCH_DIRECTIVE, _MISSING)
        if directive == "replace":
            return self.merge_map({}, patch, node)
        if directive == "delete":
            return {}
        if directive not in (_MISSING, "merge"):
            raise PatchError(f"unknown patch type {_describe(directive)} in map {_describe(patch)}")

        retain = patch.pop(RETAIN_KEYS_DIRECTIVE, _MISSING)
        orders: dict[str, Any] = {}
        deletions: dict[str, Any] = {}
        for key in [k for k in patch if k.startswith("$")]:
            if key.startswith(SET_ELEMENT_ORDER_PREFIX):
                orders[key[len(SET_ELEMENT_ORDER_PREFIX) :]] = patch.pop(key)
            elif key.startswith(DELETE_FROM_PRIMITIVE_LIST_PREFIX):
                deletions[key[len(DELETE_FROM_PRIMITIVE_LIST_PREFIX) :]] = patch.pop(key)
            # Any other `$...` key is data (e.g. `$ref` in a CRD's validation schema).

        if retain is not _MISSING:
            self._retain_keys(original, patch, retain)
        for name, doomed in deletions.items():
            if not isinstance(doomed, list):
                raise PatchError(f"{DELETE_FROM_PRIMITIVE_LIST_PREFIX}{name} must be a list")
            current = original.get(name)
            if isinstance(current, list):
                gone = {_identity(v) for v in doomed}
                original[name] = [v for v in current if _identity(v) not in gone]

        for key, value in patch.items():
            if value is None:
                original.pop(key, None)
                continue
            if (
                isinstance(value, dict)
                and value.get(PATCH_DIRECTIVE) == "delete"
                and key not in original
            ):
                continue
            order = orders.pop(key, None)
            original[key] = self._merge_value(
                original.get(key, _MISSING), value, self.field(node, key), order
            )

        for name, order in orders.items():  # reorderings without a patch list
            meta = self.field(node, name)
            current = original.get(name)
            if not isinstance(order, list):
                raise PatchError(f"{SET_ELEMENT_ORDER_PREFIX}{name} must be a list")
            if meta.merges_list and isinstance(current, list):
                original[name] = self._merge_list(current, [], meta, order)
        return original

    def _retain_keys(self, original: dict[str, Any], patch: dict[str, Any], retain: Any) -> None:
        if not isinstance(retain, list) or not all(isinstance(k, str) for k in retain):
            raise PatchError(f"{RETAIN_KEYS_DIRECTIVE} must be a list of field names")
        keep = set(retain)
        stray = sorted(k for k, v in patch.items() if v is not None and k not in keep)
        if stray:
            raise PatchError(
                f"patch sets field(s) {', '.join(stray)} missing from {RETAIN_KEYS_DIRECTIVE}",
                status=422,
            )
        for key in [k for k in original if k not in keep]:
            del original[key]

    def _merge_value(self, current: Any, value: Any, meta: _FieldMeta, order: Any) -> Any:
        if isinstance(value, dict):
            base = current if isinstance(current, dict) and not meta.replaces_map else {}
            return self.merge_map(base, value, meta.schema)
        if isinstance(value, list) and meta.merges_list:
            base = current if isinstance(current, list) else []
            return self._merge_list(base, value, meta, order)
        return value

    # ---- lists -------------------------------------------------------------------------

    def _merge_list(
        self, original: list[Any], patch: list[Any], meta: _FieldMeta, order: Any
    ) -> list[Any]:
        replace = False
        deletes: list[dict[str, Any]] = []
        plain: list[Any] = []
        for element in patch:
            if isinstance(element, dict) and PATCH_DIRECTIVE in element:
                directive = element[PATCH_DIRECTIVE]
                if directive == "delete":
                    deletes.append(element)
                elif directive == "replace":
                    replace = True
                elif directive != "merge":
                    raise PatchError(
                        f"unknown patch type {_describe(directive)} in list element "
                        f"{_describe(element)}"
                    )
            else:
                plain.append(element)
        base = [] if replace else original

        kinds = {_element_kind(e) for e in (*base, *plain)}
        if "list" in kinds:
            raise PatchError("cannot merge lists of lists", status=422)
        if len(kinds) > 1:
            raise PatchError(f"list element types are not identical: {_describe(base + plain)}")
        if kinds == {"map"} or (not kinds and deletes):
            merged, server = self._merge_object_list(base, plain, deletes, meta)
            key_of = _merge_key_getter(meta.merge_key)
        else:
            if deletes:
                raise PatchError(
                    "$patch: delete is not allowed in a list of primitives; "
                    f"use {DELETE_FROM_PRIMITIVE_LIST_PREFIX}<field>"
                )
            merged = _dedupe([*base, *plain])
            server = list(base)
            key_of = _identity
        if order is None:
            return merged
        return _apply_order(merged, plain, server, order, key_of, meta.merge_key)

    def _merge_object_list(
        self,
        original: list[Any],
        plain: list[Any],
        deletes: list[dict[str, Any]],
        meta: _FieldMeta,
    ) -> tuple[list[Any], list[Any]]:
        merge_key = meta.merge_key
        if not merge_key:
            raise PatchError("cannot merge a list of objects without a patch merge key")
        for element in (*deletes, *plain):
            if element.get(merge_key) is None:
                raise PatchError(
                    f"map {_describe(element)} does not contain declared merge key: {merge_key}"
                )
        result = list(original)
        for element in deletes:
            doomed = _identity(element[merge_key])
            result = [
                e
                for e in result
                if not (isinstance(e, dict) and _key_identity(e, merge_key) == doomed)
            ]
        server = list(result)
        items_schema = self.items(meta.schema)
        positions = {_key_identity(e, merge_key): i for i, e in reversed(list(enumerate(result)))}
        for element in plain:
            key = _identity(element[merge_key])
            index = positions.get(key)
            if index is None:
                positions[key] = len(result)
                result.append(self.merge_map({}, element, items_schema))
            else:
                result[index] = self.merge_map(result[index], element, items_schema)
        return result, server


def _element_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    return "scalar"


def _key_identity(element: Any, merge_key: str) -> Any:
    return _identity(element.get(merge_key)) if isinstance(element, dict) else _identity(element)


def _merge_key_getter(merge_key: str | None) -> Callable[[Any], Any]:
    return lambda element: _key_identity(element, merge_key or "")


def _dedupe(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    out: list[Any] = []
    for value in values:
        identity = _identity(value)
        if identity not in seen:
            seen.add(identity)
            out.append(value)
    return out


def _apply_order(
    merged: list[Any],
    patch_items: list[Any],
    server_items: list[Any],
    order: Any,
    key_of: Callable[[Any], Any],
    merge_key: str | None,
) -> list[Any]:
    """Reorder a merged list by `$setElementOrder`, interleaving elements it does not list.

    Checks, as upstream: every patch element is listed, in the same relative order.
    Unlisted (server-only) elements go before a listed element when they preceded it in
    the live list; relative orders within each group are kept.
    """
    if not isinstance(order, list):
        raise PatchError("$setElementOrder must be a list")
    position: dict[Any, int] = {}
    for index, entry in enumerate(order):
        if isinstance(entry, dict):
            if not merge_key or entry.get(merge_key) is None:
                raise PatchError(
                    f"$setElementOrder entry {_describe(entry)} lacks the merge key {merge_key}"
                )
        elif merge_key and any(isinstance(e, dict) for e in merged):
            raise PatchError(f"$setElementOrder entry {_describe(entry)} must be an object")
        position.setdefault(key_of(entry), index)
    last = -1
    for item in patch_items:
        at = position.get(key_of(item))
        if at is None:
            raise PatchError(
                f"patch list element {_describe(item)} is missing from $setElementOrder"
            )
        if at < last:
            raise PatchError("the order of the patch list and $setElementOrder do not match")
        last = at

    listed = sorted((m for m in merged if key_of(m) in position), key=lambda m: position[key_of(m)])
    unlisted = [m for m in merged if key_of(m) not in position]
    live = {}
    for index, item in enumerate(server_items):
        live.setdefault(key_of(item), index)
    out: list[Any] = []
    i = j = 0
    while i < len(unlisted) or j < len(listed):
        if j >= len(listed):
            out.append(unlisted[i])
            i += 1
        elif i >= len(unlisted):
            out.append(listed[j])
            j += 1
        else:
            left, right = live.get(key_of(unlisted[i])), live.get(key_of(listed[j]))
            if left is not None and right is not None and left < right:
                out.append(unlisted[i])
                i += 1
            else:
                out.append(listed[j])
                j += 1
    return out
