"""Per-destination customization of workload objects (spec 6.9, with `%%` -> `%`).

`expand_parameters` replaces `%(key)` in every string leaf by the destination Location's
label of that key, else its annotation; unknown keys stay as written and `%%` becomes `%`.
`apply_replacements` sets JSON values at JSONPaths of the subset grammar `$`, `.name`,
`.<int>`, `[<int>]`, `['name']`, `["name"]` and `*` (all members), creating missing map
members along definite paths.

`customize` refuses (with `CustomizationError`, never another exception) what would not be a
copy of the same object: a result that is not an object or has another apiVersion, kind,
name or namespace (the copy would be created under another identity, then deleted as not
desired, over and over). Paths deeper than `MAX_PATH_STEPS` and values nested too deeply
to parse are refused too.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

from edgemc.apis.edge import ANNOTATION_CUSTOMIZER, ANNOTATION_EXPAND_PARAMETERS, Replacement

_PARAM = re.compile(r"%%|%\(([^)]*)\)")
# Longest JSONPath accepted. A stored object nests at most 128 levels (the API server's
# limit), so a longer path can never be stored; the bound also keeps `_set`'s recursion
# far from Python's limit.
MAX_PATH_STEPS = 100
_IDENTITY = (("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace"))


class CustomizationError(ValueError):
    """A Customizer that cannot be applied (bad path or value)."""


def expand_string(text: str, params: Mapping[str, str]) -> str:
    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        key = match.group(1)
        return params[key] if key in params else match.group(0)

    return _PARAM.sub(sub, text)


def expand_parameters(value: Any, params: Mapping[str, str]) -> Any:
    """`value` with every string leaf expanded (map keys are left alone)."""
    if isinstance(value, str):
        return expand_string(value, params)
    if isinstance(value, dict):
        return {k: expand_parameters(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_parameters(v, params) for v in value]
    return value


def location_parameters(location: Mapping[str, Any]) -> dict[str, str]:
    """Parameters from a Location: its annotations, overridden by its labels."""
    meta = location.get("metadata") or {}
    return {**(meta.get("annotations") or {}), **(meta.get("labels") or {})}


_SEGMENT = re.compile(r"\.([^.\[\]]+)|\[(\d+|\*|'[^']*'|\"[^\"]*\")\]")


def parse_path(path: str) -> list[str | int]:
    """The steps of a JSONPath: names, list indices, or "*" (as the string `*`)."""
    text = path.strip()
    if not text.startswith("$"):
        raise CustomizationError(f"JSONPath must start with $: {path!r}")
    rest = text[1:]
    steps: list[str | int] = []
    pos = 0
    while pos < len(rest):
        match = _SEGMENT.match(rest, pos)
        if match is None:
            raise CustomizationError(f"unsupported JSONPath {path!r} at {rest[pos:]!r}")
        token = match.group(1) if match.group(1) is not None else match.group(2)
        if token[:1] in ("'", '"'):
            steps.append(token[1:-1])
        elif token.isdigit():
            steps.append(int(token))
        else:
            steps.append(token)
        pos = match.end()
        if len(steps) > MAX_PATH_STEPS:
            raise CustomizationError(
                f"JSONPath {path[:100]!r}... has more than {MAX_PATH_STEPS} steps"
            )
    return steps


def _set(node: Any, steps: list[str | int], value: Any, path: str) -> Any:
    if not steps:
        return copy.deepcopy(value)
    step, rest = steps[0], steps[1:]
    if step == "*":
        if isinstance(node, dict):
            return {k: _set(v, rest, value, path) for k, v in node.items()}
        if isinstance(node, list):
            return [_set(v, rest, value, path) for v in node]
        return node
    if isinstance(node, list):
        if not isinstance(step, int) or step >= len(node):
            raise CustomizationError(f"{path}: no list element {step!r}")
        out = list(node)
        out[step] = _set(node[step], rest, value, path)
        return out
    if node is None:
        node = {}
    if not isinstance(node, dict):
        raise CustomizationError(f"{path}: cannot descend into a {type(node).__name__}")
    key = str(step)
    out = dict(node)
    out[key] = _set(node.get(key), rest, value, path)
    return out


def apply_replacements(
    obj: dict[str, Any],
    replacements: list[Replacement],
    params: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`obj` with each replacement applied in order (expanded first if `params` is given)."""
    for rep in replacements:
        path, text = rep.path, rep.value
        if params is not None:
            path, text = expand_string(path, params), expand_string(text, params)
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise CustomizationError(f"value for {path} is not JSON: {err}") from None
        except RecursionError:
            raise CustomizationError(f"value for {path} is nested too deeply") from None
        obj = _set(obj, parse_path(path), value, path)
    return obj


def customizer_reference(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    """(namespace, name) of the Customizer an object names, or None."""
    meta = obj.get("metadata") or {}
    ref = (meta.get("annotations") or {}).get(ANNOTATION_CUSTOMIZER)
    if not ref:
        return None
    namespace, sep, name = ref.partition("/")
    if not sep:
        return meta.get("namespace") or "", ref
    return namespace, name


def wants_expansion(obj: Mapping[str, Any]) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return annotations.get(ANNOTATION_EXPAND_PARAMETERS) == "true"


def customize(
    obj: dict[str, Any],
    customizer: Mapping[str, Any] | None,
    location: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The object as it should look at one destination.

    `customizer` is the named Customizer object (None if the object names none) and
    `location` the destination's Location (needed only when expansion is requested).
    """
    expand_obj = wants_expansion(obj)
    expand_customizer = customizer is not None and wants_expansion(customizer)
    params: dict[str, str] | None = None
    if expand_obj or expand_customizer:
        if location is None:
            raise CustomizationError("parameter expansion needs the destination Location")
        params = location_parameters(location)
    out = obj
    if expand_obj and params is not None:
        out = expand_parameters(out, params)
    if customizer is not None:
        try:
            reps = [Replacement.model_validate(r) for r in customizer.get("replacements") or []]
        except ValueError as err:
            raise CustomizationError(f"invalid replacements: {err}") from None
        out = apply_replacements(out, reps, params if expand_customizer else None)
    if not isinstance(out, dict) or not isinstance(out.get("metadata"), dict):
        raise CustomizationError("the result is not an object with metadata")
    for steps in _IDENTITY:
        if _get(out, steps) != _get(obj, steps):
            raise CustomizationError(f"{'.'.join(steps)} may not be changed")
    return out


def _get(obj: Mapping[str, Any], steps: tuple[str, ...]) -> Any:
    node: Any = obj
    for step in steps:
        node = node.get(step) if isinstance(node, Mapping) else None
    return node
