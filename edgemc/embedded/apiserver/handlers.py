"""HTTP handling of resource requests: URL parsing, bodies, content negotiation, list and watch.

Everything below `/api/v1` or `/apis/<group>/<version>` of one scope comes here; verbs are
carried out by `ObjectService` and answers are encoded as the client asked (plain JSON, YAML,
`Table`, `PartialObjectMetadata`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import yaml
from aiohttp import web

from edgemc.apis.meta import SelectorError, parse_field_selector, parse_label_selector
from edgemc.embedded.apiserver import errors, protobuf
from edgemc.embedded.apiserver.limits import MAX_NESTING, LimitsConfig, check_decoded_body
from edgemc.embedded.apiserver.objects import ObjectService, Scope, reskey_of
from edgemc.embedded.apiserver.resources import ResourceType
from edgemc.embedded.apiserver.storage import ADDED, DELETED, Event, Expired, Store
from edgemc.embedded.apiserver.table import to_table

# kube-apiserver's limit on request bodies.
MAX_BODY_BYTES = 3 * 1024 * 1024

# An idle watch gets a BOOKMARK about this often (when the client allows bookmarks; each
# watch draws its own interval within +-25%, so that watches opened together do not tick
# together), so that it can resume from a recent revision instead of one that may have been
# compacted. kube-apiserver sends one about every minute too. Every open watch costs a frame
# per interval: 5 s made 100 syncers' idle watches the busiest thing a kcp server did.
BOOKMARK_INTERVAL = 60.0

# Watches end after a random time in [MIN, 2*MIN) unless timeoutSeconds says otherwise, like
# kube-apiserver's --min-request-timeout, so that clients re-establish them periodically.
MIN_WATCH_TIMEOUT = 1800.0

# Fields every resource can be filtered on, and extra ones per resource (as upstream).
_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
_EXTRA_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "pods"): (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    ("", "secrets"): ("type",),
    ("", "namespaces"): ("status.phase",),
    ("", "events"): (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    ("apps", "replicasets"): ("status.replicas",),
}


@dataclass(frozen=True)
class ResourcePath:
    group: str
    version: str
    resource: str
    namespace: str = ""
    name: str = ""
    subresource: str = ""


def parse_resource_path(group: str, version: str, parts: list[str]) -> ResourcePath | None:
    """Parse what follows `/api/v1` or `/apis/g/v`; None when the shape is not a resource URL."""
    n = len(parts)
    if n >= 3 and parts[0] == "namespaces" and not (n == 3 and parts[2] in ("status", "finalize")):
        ns, rest = parts[1], parts[2:]
        if len(rest) > 3:
            return None
        return ResourcePath(group, version, rest[0], ns, *([*rest[1:], "", ""])[:2])
    if 1 <= n <= 3:
        return ResourcePath(group, version, parts[0], "", *([*parts[1:], "", ""])[:2])
    return None


# Encoded watch frames kept for the other watchers of the same event (see ResourceHandler).
FRAME_CACHE_SIZE = 256
# Most watch events written at once (a frame is one object, usually a few KB).
WATCH_WRITE_BATCH = 256


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def json_response(
    obj: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=dumps(obj), status=status, content_type="application/json", headers=headers
    )


def status_response(err: errors.StatusError) -> web.Response:
    return json_response(err.status(), err.code, err.headers)


@dataclass(frozen=True)
class OutputFormat:
    """What the client asked for in Accept: plain objects, Table or PartialObjectMetadata."""

    kind: str = "object"  # object | table | partial
    yaml: bool = False
    table_version: str = "v1"


def negotiate(accept: str) -> OutputFormat:
    if not accept:
        return OutputFormat()
    for raw in accept.split(","):
        parts = [p.strip() for p in raw.split(";")]
        media = parts[0].lower()
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        as_kind = params.get("as", "")
        if media in ("application/json", "*/*", "application/*"):
            if as_kind == "Table" and params.get("g") == "meta.k8s.io":
                return OutputFormat("table", table_version=params.get("v", "v1"))
            if (
                as_kind in ("PartialObjectMetadata", "PartialObjectMetadataList")
                and params.get("g") == "meta.k8s.io"
            ):
                return OutputFormat("partial")
            if not as_kind:
                return OutputFormat()
        elif media == "application/yaml" and not as_kind:
            return OutputFormat(yaml=True)
    if "application/vnd.kubernetes.protobuf" in accept and "json" not in accept:
        raise errors.not_acceptable(accept)
    return OutputFormat()


def _encode(obj: Any, fmt: OutputFormat, status: int = 200, headers: dict | None = None):
    if fmt.yaml:
        return web.Response(
            text=yaml.safe_dump(obj, sort_keys=False),
            status=status,
            content_type="application/yaml",
            headers=headers,
        )
    return json_response(obj, status, headers)


def partial_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def _as_version(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """Objects of multi-version CRDs are stored once; present them in the requested version."""
    if obj.get("apiVersion") == rt.api_version:
        return obj
    return {**obj, "apiVersion": rt.api_version}


async def read_body(request: web.Request, within: float) -> bytes:
    """The whole body, read in `within` seconds (else 408), up to MAX_BODY_BYTES (else 413)."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise errors.too_large(f"limit is {MAX_BODY_BYTES}")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(within):
            async for chunk in request.content.iter_chunked(65536):
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise errors.too_large(f"limit is {MAX_BODY_BYTES}")
                chunks.append(chunk)
    except TimeoutError:
        raise errors.StatusError(
            408, "Timeout", f"Timeout: the request body did not arrive within {within:g}s"
        ) from None
    return b"".join(chunks)


# What create and update take; PATCH takes the patch types, DeleteOptions JSON.
OBJECT_MEDIA_TYPES = ("application/json", "application/yaml", protobuf.MEDIA_TYPE, "")


def _load_yaml(data: bytes) -> Any:
    try:
        return yaml.safe_load(data)
    except RecursionError:  # PyYAML composes nested nodes recursively
        raise errors.bad_request(
            f"the request body is nested more than {MAX_NESTING} deep"
        ) from None


def decode_body(data: bytes, content_type: str, media_types: tuple[str, ...] | None = None) -> Any:
    """Decode a JSON or YAML body (of `media_types`, when given, else 415) within the limits of
    `check_decoded_body`."""
    media = content_type.split(";")[0].strip().lower()
    if media_types is not None and media not in media_types:
        raise errors.unsupported_media_type(media)
    if not data.strip():
        raise errors.bad_request("the request body is empty")
    if media == protobuf.MEDIA_TYPE:
        try:
            value = protobuf.decode(data)
        except protobuf.Unsupported as exc:
            raise errors.unsupported_media_type(
                media, f"{exc}; send the object as JSON or YAML"
            ) from exc
    elif media in ("application/yaml", "application/apply-patch+yaml"):
        try:
            value = _load_yaml(data)
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"error decoding YAML: {exc}") from exc
    elif media in (
        "application/json",
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/strategic-merge-patch+json",
        "",
    ):
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            # Kubernetes accepts YAML (a JSON superset) where JSON was declared, too.
            try:
                value = _load_yaml(data)
            except yaml.YAMLError:
                raise errors.bad_request(
                    f"couldn't get version/kind; json parse error: {exc}"
                ) from exc
    else:
        raise errors.unsupported_media_type(media)
    check_decoded_body(value, len(data))
    return value


def _bool_param(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


# As kube-apiserver's warning recorder: the warnings of one answer may total this many
# characters; past it each is cut to WARNING_ITEM_CHARS and those that still do not fit are
# dropped. Here each also counts its `299 - "..."` framing, so that the one joined header
# stays well inside what clients read (aiohttp: 8 KiB per header).
WARNINGS_TOTAL_CHARS = 4 * 1024
WARNING_ITEM_CHARS = 256
_WARNING_FRAMING = len('299 - "", ')


def bounded_warnings(warnings: list[str]) -> list[str]:
    """`warnings` without repeats and within the size bounds above."""
    unique = list(dict.fromkeys(warnings))
    if sum(len(w) + _WARNING_FRAMING for w in unique) <= WARNINGS_TOTAL_CHARS:
        return unique
    kept: list[str] = []
    total = 0
    for text in (w[:WARNING_ITEM_CHARS] for w in unique):
        total += len(text) + _WARNING_FRAMING
        if total > WARNINGS_TOTAL_CHARS:
            break
        kept.append(text)
    return kept


def _warning_headers(warnings: list[str]) -> dict[str, str] | None:
    warnings = bounded_warnings(warnings)
    if not warnings:
        return None

    # aiohttp takes one value per header name; join as a comma list like repeated headers.
    def quoted(text: str) -> str:
        return text.replace("\\", "\\\\").replace('"', '\\"')

    return {"Warning": ", ".join(f'299 - "{quoted(w)}"' for w in warnings)}


class Selection:
    """Label and field selectors of a list or watch request."""

    def __init__(self, rt: ResourceType, label: str, fieldsel: str) -> None:
        try:
            self.labels = parse_label_selector(label) if label else None
        except SelectorError as exc:
            raise errors.bad_request(str(exc)) from exc
        self.fields = None
        if fieldsel:
            try:
                self.fields = parse_field_selector(fieldsel)
            except SelectorError as exc:
                raise errors.bad_request(str(exc)) from exc
            allowed = _COMMON_FIELDS + _EXTRA_FIELDS.get((rt.group, rt.resource), ())
            for req_field in sorted(self.fields.fields):
                if req_field not in allowed:
                    raise errors.bad_request(f"field label not supported: {req_field}")

    def matches(self, obj: dict[str, Any]) -> bool:
        if self.labels is not None:
            if not self.labels.matches(obj.get("metadata", {}).get("labels") or {}):
                return False
        if self.fields is not None:
            if not self.fields.matches(_field_values(obj)):
                return False
        return True

    @property
    def everything(self) -> bool:
        return self.labels is None and self.fields is None


def _field_values(obj: dict[str, Any]) -> dict[str, str]:
    def lookup(path: str) -> str:
        node: Any = obj
        for part in path.split("."):
            if not isinstance(node, dict):
                return ""
            node = node.get(part)
        return "" if node is None else str(node)

    meta = obj.get("metadata", {})
    values = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
    }
    for fields in _EXTRA_FIELDS.values():
        for path in fields:
            values.setdefault(path, lookup(path))
    return values


def _encode_continue(rev: int, cluster: str, namespace: str, name: str) -> str:
    raw = dumps({"v": 1, "rv": rev, "start": [cluster, namespace, name]})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str, str]]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
        return int(data["rv"]), tuple(data["start"])  # type: ignore[return-value]
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.bad_request(f"invalid continue token: {exc}") from exc


def _resource_type(scope: Scope, path: ResourcePath) -> ResourceType | None:
    """The type a resource URL names; on the wildcard cluster a bound resource may carry the
    identity of its APIExport (`deployments:<identityHash>`), as kcp serves it."""
    resource, _, identity = path.resource.partition(":")
    if not identity:
        return scope.types.lookup(path.group, path.version, resource)
    if scope.identity_types is None or path.name:
        return None
    types = scope.identity_types(identity)
    return types.lookup(path.group, path.version, resource) if types is not None else None


class ResourceHandler:
    """Serves resource URLs for any scope; the server builds the scope per request."""

    def __init__(
        self,
        store: Store,
        service: ObjectService,
        authorize: Callable[[Scope, str, ResourceType, str, str, str], None] | None = None,
    ) -> None:
        self.store = store
        self.service = service
        self.authorize = authorize
        self.bookmark_interval = BOOKMARK_INTERVAL
        self.min_watch_timeout = MIN_WATCH_TIMEOUT
        # Body read timeout and stuck-watch timeout (the server installs its configuration).
        self.limits = LimitsConfig()
        # Encoded watch frames of recent events, shared by every watcher they go to (an
        # event reaches the watches of its cluster and every wildcard one): (revision,
        # event type, apiVersion) -> bytes. Bounded: watchers take an event within moments.
        self._frames: dict[tuple[int, str, str], bytes] = {}

    async def handle(
        self, request: web.Request, scope: Scope, path: ResourcePath
    ) -> web.StreamResponse:
        rt = _resource_type(scope, path)
        if rt is None:
            raise errors.resource_not_found()
        if path.namespace and not rt.namespaced:
            raise errors.resource_not_found()
        # Only /status is served; /scale is advertised by upstream discovery but not here yet.
        if path.subresource and (path.subresource != "status" or not rt.has_status()):
            raise errors.resource_not_found()
        method = request.method
        query = request.query
        verb = self._verb(method, path, query)
        if self.authorize is not None:
            self.authorize(scope, verb, rt, path.namespace, path.name, path.subresource)
        if scope.wildcard and verb not in ("list", "watch"):
            raise errors.method_not_supported(
                f'{verb} is not supported on resources of kind "{rt.group_resource}" in the '
                f"`*` logical cluster"
            )
        fmt = negotiate(request.headers.get("Accept", ""))
        dry_run = "All" in query.getall("dryRun", [])
        field_validation = query.get("fieldValidation", "Warn")
        if field_validation not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(f"fieldValidation parameter unsupported: {field_validation}")
        svc = self.service
        ns, name, sub = path.namespace, path.name, path.subresource
        if verb == "get":
            obj = svc.get(scope, rt, ns, name)
            return self._single(rt, obj, fmt, query)
        if verb == "list":
            return self._list(scope, rt, ns, query, fmt)
        if verb == "watch":
            return await self._watch(request, scope, rt, ns, query, fmt)
        if verb == "create":
            body = decode_body(await self._body(request), request.content_type, OBJECT_MEDIA_TYPES)
            obj, warnings = svc.create(
                scope, rt, ns, body, dry_run=dry_run, field_validation=field_validation
            )
            return _encode(_as_version(rt, obj), fmt, 201, _warning_headers(warnings))
        if verb == "update":
            body = decode_body(await self._body(request), request.content_type, OBJECT_MEDIA_TYPES)
            obj, warnings = svc.update(
                scope,
                rt,
                ns,
                name,
                body,
                subresource=sub,
                dry_run=dry_run,
                field_validation=field_validation,
            )
            return _encode(_as_version(rt, obj), fmt, 200, _warning_headers(warnings))
        if verb == "patch":
            content_type = request.content_type
            if content_type == "application/apply-patch+yaml":
                raise errors.unsupported_media_type(content_type)
            body = decode_body(await self._body(request), content_type)
            obj, warnings = svc.patch(
                scope,
                rt,
                ns,
                name,
                body,
                content_type,
                subresource=sub,
                dry_run=dry_run,
                field_validation=field_validation,
            )
            return _encode(_as_version(rt, obj), fmt, 200, _warning_headers(warnings))
        if verb == "delete":
            options = await self._delete_options(request)
            obj = svc.delete(
                scope,
                rt,
                ns,
                name,
                preconditions=options.get("preconditions"),
                propagation=query.get("propagationPolicy") or options.get("propagationPolicy", ""),
                dry_run=dry_run or "All" in (options.get("dryRun") or []),
            )
            return _encode(_as_version(rt, obj), fmt, 200)
        if verb == "deletecollection":
            return self._delete_collection(scope, rt, ns, query, fmt, dry_run)
        raise errors.method_not_supported(
            "the server does not allow this method on the requested resource"
        )

    @staticmethod
    def _verb(method: str, path: ResourcePath, query: Any) -> str:
        if path.name:
            verbs = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
            if path.subresource and method == "DELETE":
                verbs.pop("DELETE")
        else:
            watch = _bool_param(query.get("watch"))
            verbs = {
                "GET": "watch" if watch else "list",
                "POST": "create",
                "DELETE": "deletecollection",
            }
        verb = verbs.get(method)
        if verb is None:
            raise errors.method_not_supported(
                "the server does not allow this method on the requested resource"
            )
        return verb

    async def _body(self, request: web.Request) -> bytes:
        return await read_body(request, self.limits.body_timeout)

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        data = await self._body(request)
        if not data.strip():
            return {}
        body = decode_body(data, request.content_type or "application/json")
        if not isinstance(body, dict):
            raise errors.bad_request("DeleteOptions must be an object")
        return body

    def _single(self, rt: ResourceType, obj: dict[str, Any], fmt: OutputFormat, query: Any):
        obj = _as_version(rt, obj)
        if fmt.kind == "table":
            table = to_table(rt, [obj], include_object=query.get("includeObject", "Metadata"))
            table["metadata"] = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
            return json_response(self._table_version(table, fmt))
        if fmt.kind == "partial":
            return json_response(partial_metadata(obj))
        return _encode(obj, fmt)

    @staticmethod
    def _table_version(table: dict[str, Any], fmt: OutputFormat) -> dict[str, Any]:
        table["apiVersion"] = f"meta.k8s.io/{fmt.table_version}"
        return table

    def _select(
        self, scope: Scope, rt: ResourceType, ns: str, query: Any
    ) -> tuple[list[tuple[str, dict[str, Any]]], int, str]:
        selection = Selection(rt, query.get("labelSelector", ""), query.get("fieldSelector", ""))
        rv = query.get("resourceVersion", "")
        match = query.get("resourceVersionMatch", "")
        current = self.store.revision
        if rv not in ("", "0"):
            try:
                wanted = int(rv)
            except ValueError as exc:
                raise errors.bad_request(f"invalid resource version: {rv!r}") from exc
            if wanted > current:
                raise errors.StatusError(
                    504,
                    "Timeout",
                    f"Timeout: Too large resource version: {wanted}, current: {current}",
                    {
                        "causes": [
                            {
                                "reason": "ResourceVersionTooLarge",
                                "message": "Too large resource version",
                            }
                        ],
                        "retryAfterSeconds": 1,
                    },
                )
            if match == "Exact" and wanted != current:
                raise errors.expired(f"too old resource version: {wanted} ({current})")
        cluster = None if scope.wildcard else scope.cluster
        items = self.store.list(reskey_of(rt), cluster, ns or None)
        items = [(c, o) for c, o in items if scope_allows(scope, c) and selection.matches(o)]
        token = query.get("continue", "")
        list_rev = current
        if token:
            list_rev, start = _decode_continue(token)
            items = [
                (c, o)
                for c, o in items
                if (c, o["metadata"].get("namespace", ""), o["metadata"]["name"]) > start
            ]
        next_token = ""
        limit = query.get("limit", "")
        if limit:
            try:
                n = int(limit)
            except ValueError as exc:
                raise errors.bad_request(f"invalid limit: {limit!r}") from exc
            if n > 0 and len(items) > n:
                last_cluster, last = items[n - 1]
                next_token = _encode_continue(
                    list_rev,
                    last_cluster,
                    last["metadata"].get("namespace", ""),
                    last["metadata"]["name"],
                )
                items = items[:n]
        return items, list_rev, next_token

    def _list(self, scope: Scope, rt: ResourceType, ns: str, query: Any, fmt: OutputFormat):
        items, list_rev, next_token = self._select(scope, rt, ns, query)
        meta: dict[str, Any] = {"resourceVersion": str(list_rev)}
        if next_token:
            meta["continue"] = next_token
        objs = [_as_version(rt, o) for _, o in items]
        if fmt.kind == "table":
            table = to_table(rt, objs, include_object=query.get("includeObject", "Metadata"))
            table["metadata"] = meta
            return json_response(self._table_version(table, fmt))
        if fmt.kind == "partial":
            return json_response(
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": meta,
                    "items": [partial_metadata(o) for o in objs],
                }
            )
        body = {
            "kind": rt.list_kind or rt.kind + "List",
            "apiVersion": rt.api_version,
            "metadata": meta,
            "items": objs,
        }
        return _encode(body, fmt)

    def _delete_collection(
        self, scope: Scope, rt: ResourceType, ns: str, query: Any, fmt: OutputFormat, dry_run: bool
    ):
        items, _list_rev, _ = self._select(
            scope, rt, ns, {k: v for k, v in query.items() if k not in ("limit", "continue")}
        )
        deleted = []
        for _, obj in items:
            meta = obj["metadata"]
            try:
                deleted.append(
                    self.service.delete(
                        scope,
                        rt,
                        meta.get("namespace", ""),
                        meta["name"],
                        propagation=query.get("propagationPolicy", ""),
                        dry_run=dry_run,
                    )
                )
            except errors.StatusError as exc:
                if exc.code != 404:
                    raise
        body = {
            "kind": rt.list_kind or rt.kind + "List",
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(self.store.revision)},
            "items": [_as_version(rt, o) for o in deleted],
        }
        return _encode(body, fmt)

    async def _watch(
        self,
        request: web.Request,
        scope: Scope,
        rt: ResourceType,
        ns: str,
        query: Any,
        fmt: OutputFormat,
    ) -> web.StreamResponse:
        selection = Selection(rt, query.get("labelSelector", ""), query.get("fieldSelector", ""))
        rv_param = query.get("resourceVersion", "")
        bookmarks = _bool_param(query.get("allowWatchBookmarks"))
        send_initial = _bool_param(query.get("sendInitialEvents"))
        timeout = query.get("timeoutSeconds")
        try:
            duration = float(timeout) if timeout else self.min_watch_timeout * (1 + random.random())
        except ValueError as exc:
            raise errors.bad_request(f"invalid timeoutSeconds: {timeout!r}") from exc
        cluster = None if scope.wildcard else scope.cluster

        def accept(event: Event) -> Event | None:
            if cluster is not None and event.cluster != cluster:
                return None
            if not scope_allows(scope, event.cluster):
                return None
            if ns and event.namespace != ns:
                return None
            if selection.everything:
                return event
            now_match = event.type != DELETED and selection.matches(event.obj)
            was_match = event.prev is not None and selection.matches(event.prev)
            if event.type == DELETED:
                return event if was_match else None
            if now_match and was_match:
                return event
            if now_match:
                return Event(event.rev, ADDED, *_event_tail(event))
            if was_match:
                return Event(event.rev, DELETED, *_event_tail(event))
            return None

        start_rev: int
        initial: list[Event] = []
        error: errors.StatusError | None = None
        if rv_param in ("", "0") or send_initial:
            start_rev = self.store.revision
            for c, obj in self.store.list(reskey_of(rt), cluster, ns or None):
                if scope_allows(scope, c) and selection.matches(obj):
                    meta = obj["metadata"]
                    initial.append(
                        Event(
                            0,
                            ADDED,
                            reskey_of(rt),
                            c,
                            meta.get("namespace", ""),
                            meta["name"],
                            obj,
                            None,
                        )
                    )
        else:
            try:
                start_rev = int(rv_param)
            except ValueError as exc:
                raise errors.bad_request(f"invalid resource version: {rv_param!r}") from exc
            if start_rev > self.store.revision:
                error = errors.StatusError(
                    504,
                    "Timeout",
                    f"Timeout: Too large resource version: {start_rev}, current: "
                    f"{self.store.revision}",
                    {
                        "causes": [
                            {
                                "reason": "ResourceVersionTooLarge",
                                "message": "Too large resource version",
                            }
                        ],
                        "retryAfterSeconds": 1,
                    },
                )
            else:
                try:
                    for event in self.store.events_since(start_rev, reskey_of(rt)):
                        out = accept(event)
                        if out is not None:
                            initial.append(out)
                except Expired as exc:
                    error = errors.expired(str(exc))
        watcher = self.store.subscribe(reskey_of(rt), accept, cluster)
        response = web.StreamResponse(
            status=200,
            headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"},
        )
        response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            if error is not None:
                await self._send(response, {"type": "ERROR", "object": error.status()})
                return response
            last_rev = start_rev
            for i in range(0, len(initial), WATCH_WRITE_BATCH):
                frames = [
                    self._event_frame(rt, e, fmt, query) for e in initial[i : i + WATCH_WRITE_BATCH]
                ]
                await self._write(response, b"".join(frames))
            if send_initial and bookmarks:
                await self._send(
                    response,
                    {
                        "type": "BOOKMARK",
                        "object": self._bookmark(rt, start_rev, initial_end=True),
                    },
                )
            deadline = asyncio.get_running_loop().time() + duration
            interval = self.bookmark_interval * (0.75 + 0.5 * random.random())
            while True:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                wait = min(remaining, interval) if bookmarks else remaining
                queue = watcher.queue
                pending: list[Event | None] = []
                if queue.empty():
                    try:
                        pending.append(await asyncio.wait_for(queue.get(), wait))
                    except TimeoutError:
                        if bookmarks and queue.empty():
                            await self._send(
                                response,
                                {
                                    "type": "BOOKMARK",
                                    "object": self._bookmark(
                                        rt, max(last_rev, self.store.revision)
                                    ),
                                },
                            )
                        continue
                # Everything queued goes out in one write: a watch of many clusters (a
                # wildcard one) would otherwise send one event per turn of a busy loop and
                # fall behind its clients' own writes.
                while not queue.empty() and len(pending) < WATCH_WRITE_BATCH:
                    pending.append(queue.get_nowait())
                frames: list[bytes] = []
                closed = False
                for event in pending:
                    if event is None:
                        closed = True
                        break
                    if event.rev > last_rev:
                        last_rev = event.rev
                        frames.append(self._event_frame(rt, event, fmt, query))
                if frames:
                    await self._write(response, b"".join(frames))
                if closed:
                    break
        except ConnectionResetError:  # the client went away: the watch simply ends
            return response
        except TimeoutError:  # the client takes no data: cut it (its unsent frames are stuck)
            if request.transport is not None:
                request.transport.abort()
            return response
        finally:
            self.store.unsubscribe(watcher)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    @staticmethod
    def _bookmark(rt: ResourceType, rev: int, initial_end: bool = False) -> dict[str, Any]:
        meta: dict[str, Any] = {"resourceVersion": str(rev)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}

    def _event_frame(self, rt: ResourceType, event: Event, fmt: OutputFormat, query: Any) -> bytes:
        """One watch event as the line the client reads."""
        cache_key = (event.rev, event.type, rt.api_version)
        if fmt.kind == "object" and event.rev:  # the initial events (rev 0) are one watch's
            data = self._frames.get(cache_key)
            if data is None:
                frame = {"type": event.type, "object": _as_version(rt, event.obj)}
                data = self._frames[cache_key] = dumps(frame) + b"\n"
                if len(self._frames) > FRAME_CACHE_SIZE:
                    del self._frames[next(iter(self._frames))]  # the oldest
            return data
        obj = _as_version(rt, event.obj)
        if fmt.kind == "table":
            obj = self._table_version(
                to_table(rt, [obj], include_object=query.get("includeObject", "Metadata")), fmt
            )
            obj["metadata"] = {"resourceVersion": str(event.rev or "")}
        elif fmt.kind == "partial":
            obj = partial_metadata(obj)
        return dumps({"type": event.type, "object": obj}) + b"\n"

    async def _send(self, response: web.StreamResponse, frame: dict[str, Any]) -> None:
        """Write one watch frame; TimeoutError when the client has not taken it in time."""
        await self._write(response, dumps(frame) + b"\n")

    async def _write(self, response: web.StreamResponse, data: bytes) -> None:
        async with asyncio.timeout(self.limits.watch_send_timeout):
            await response.write(data)


def _event_tail(event: Event) -> tuple:
    return (event.reskey, event.cluster, event.namespace, event.name, event.obj, event.prev)


def scope_allows(scope: Scope, cluster: str) -> bool:
    """Whether objects of `cluster` are visible in this scope (virtual workspaces narrow it)."""
    return scope.cluster_filter is None or scope.cluster_filter(cluster)
