"""The description of one served resource type, shared by registry, handlers, OpenAPI and tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# A schema node is a JSON-schema dict. Built-in kinds use the upstream definitions shipped by
# kubernetes-validate, whose nodes refer to each other with {"$ref": "#/$defs/<name>"}; CRD and
# APIResourceSchema nodes are inline (no $ref). `resolve_schema` in builtin.py follows refs.
Schema = dict[str, Any]

DEFAULT_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One group/version/resource as a server serves it in one logical cluster."""

    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool
    singular: str = ""
    list_kind: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = DEFAULT_VERBS
    # Subresources served, e.g. ("status",). "status" means writes to the main resource ignore
    # .status and writes to /status change only .status (Kubernetes semantics).
    subresources: tuple[str, ...] = ()
    # JSON schema of the whole object (built-in: upstream definition; CRD: openAPIV3Schema).
    schema: Schema | None = field(default=None, compare=False, hash=False)
    # CRD-style additionalPrinterColumns ({name, type, jsonPath, priority, format, description}).
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)
    # True for built-in kinds (strategic merge patch allowed; native table columns).
    builtin: bool = False
    # kcp: identity hash of the APIExport whose objects these are ("" = local/built-in).
    identity: str = ""
    # Where the type comes from: "builtin", "crd", "system" (kcp system CRDs), "binding".
    source: str = "builtin"

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def group_resource(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def has_status(self) -> bool:
        return "status" in self.subresources
