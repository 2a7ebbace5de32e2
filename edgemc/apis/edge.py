"""The edge.kcp.io/v1alpha1 API: pydantic models, per-kind descriptors and well-known names.

This module is the one source of truth for the edge API. `hack/gen_config.py` turns the
models' JSON schemas and the descriptors below into `config/crds/` and `config/exports/`.

Conventions shared by every model here:
- Python attributes are snake_case; the JSON names are the exact camelCase names of the
  original API (aliases), e.g. `location_selectors` <-> `locationSelectors`,
  `sync_target_uid` <-> `syncTargetUID`.
- Unknown fields are kept (``extra="allow"``), so `Model.model_validate(obj)` followed by
  `to_dict()` (= ``model_dump(by_alias=True, exclude_none=True, mode="json")``) gives back
  everything the writer put in, including fields newer writers add.
- Optional fields default to ``None`` rather than ``[]`` so that a dump never invents fields the
  writer did not send; `None` and an empty list mean the same wherever the spec says so.

Beyond the 2023q1 original: EdgePlacement has a status that the controllers write
(`matchingLocationCount`, `specGeneration`, `conditions`), a status subresource, and printer
columns, so `kubectl get edgeplacements` shows how many Locations match and whether it is ready;
and the status summarizer's kind, StatusSummary (the original only designed it, spec 8), with
the per-placement switch `spec.aggregateStatusIntoSource`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from edgemc.apis.meta import Condition, LabelSelector, ObjectMeta

GROUP = "edge.kcp.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# --- Well-known names (spec section 1.3, 2.5, 2.7) -------------------------------------------

EXPORT_NAME = "edge.kcp.io"
"""Name of the APIExport of this API in the edge service provider workspace."""
MAILBOX_BINDING_NAME = "bind-edge"
"""Name of the APIBinding to `EXPORT_NAME` inside each mailbox workspace."""
MAILBOX_NAME_SEPARATOR = "-mb-"
"""Mailbox workspace name = <SyncTarget logical cluster> + this + <SyncTarget uid>."""
SYNCER_CONFIG_NAME = "the-one"
"""The SyncerConfig the placement translator maintains in each mailbox workspace."""

ANNOTATION_SYNC_TARGET_NAME = "edge.kcp.io/sync-target-name"
"""On a mailbox Workspace: the name of its SyncTarget."""
LABEL_PROJECTED = "edge.kcp.io/projected"
"""On workload copies in mailbox workspaces; value `PROJECTED_VALUE`."""
PROJECTED_VALUE = "yes"
ANNOTATION_DOWNSYNCED = "edge.kcp.io/downsynced"
"""On edge-cluster objects the syncer created by downsync; value `"true"`."""
ANNOTATION_UPSYNCED = "edge.kcp.io/upsynced"
"""On mailbox objects the syncer created by upsync; value `"true"`."""
LABEL_SOURCE_PLACEMENT = "edge.kcp.io/source-placement"
"""Reserved for linking a SinglePlacementSlice to its EdgePlacement (the link in use is the
shared name plus an ownerReference)."""
ANNOTATION_CUSTOMIZER = "edge.kcp.io/customizer"
"""On a workload object: `name` (namespaced object) or `namespace/name` of its Customizer."""
ANNOTATION_EXPAND_PARAMETERS = "edge.kcp.io/expand-parameters"
"""`"true"` asks for `%(key)` expansion from the destination Location's labels/annotations."""

CONDITION_READY = "Ready"
"""EdgePlacement condition type summarising whether the placement is fully resolved."""

WILDCARD = "*"


def mailbox_workspace_name(sync_target_cluster: str, sync_target_uid: str) -> str:
    """Return the name of the mailbox workspace of a SyncTarget."""
    return f"{sync_target_cluster}{MAILBOX_NAME_SEPARATOR}{sync_target_uid}"


def is_mailbox_workspace_name(name: str) -> bool:
    """Tell whether a Workspace name has the mailbox form (exactly one `-mb-` in it)."""
    return len(name.split(MAILBOX_NAME_SEPARATOR)) == 2


# --- Per-kind descriptors ----------------------------------------------------------------------


@dataclass(frozen=True)
class PrinterColumn:
    """One CRD additionalPrinterColumn (what `kubectl get` shows for a kind)."""

    name: str
    type: Literal["integer", "number", "string", "boolean", "date"]
    json_path: str
    description: str = ""
    priority: int = 0
    format: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the column in its CRD / APIResourceSchema JSON form."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            out["description"] = self.description
        if self.priority:
            out["priority"] = self.priority
        if self.format:
            out["format"] = self.format
        return out


@dataclass(frozen=True)
class KindDescriptor:
    """Names, scope and serving details of one kind, as its CRD declares them."""

    kind: str
    plural: str
    singular: str
    scope: Literal["Cluster", "Namespaced"]
    short_names: tuple[str, ...] = ()
    printer_columns: tuple[PrinterColumn, ...] = ()
    status_subresource: bool = False
    group: str = GROUP
    version: str = VERSION
    categories: tuple[str, ...] = field(default=())

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def namespaced(self) -> bool:
        return self.scope == "Namespaced"

    @property
    def resource(self) -> str:
        """The resource name used in URLs (the plural)."""
        return self.plural

    @property
    def crd_name(self) -> str:
        """`<plural>.<group>`: the CRD's name and the suffix of its APIResourceSchema names."""
        return f"{self.plural}.{self.group}"

    def names(self) -> dict[str, Any]:
        """Return the `spec.names` stanza of the kind's CRD / APIResourceSchema."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "listKind": self.list_kind,
            "plural": self.plural,
            "singular": self.singular,
        }
        if self.short_names:
            out["shortNames"] = list(self.short_names)
        if self.categories:
            out["categories"] = list(self.categories)
        return out


# --- Model bases -------------------------------------------------------------------------------

Int32 = Annotated[int, Field(json_schema_extra={"format": "int32"})]
Int64 = Annotated[int, Field(json_schema_extra={"format": "int64"})]
Time = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
"""RFC 3339 timestamp kept as the text the writer sent (e.g. `2023-04-23T05:39:56Z`)."""


class EdgeModel(BaseModel):
    """Base of every edge.kcp.io model: camelCase JSON names, unknown fields preserved."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, alias_generator=to_camel)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (aliases, no `None`s), ready for the API server."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class EdgeObject(EdgeModel):
    """A top-level edge.kcp.io object; `apiVersion` and `kind` default from `descriptor`."""

    descriptor: ClassVar[KindDescriptor]

    api_version: str
    kind: str
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)

    @model_validator(mode="before")
    @classmethod
    def _default_type_meta(cls, data: Any) -> Any:
        if isinstance(data, dict) and hasattr(cls, "descriptor"):
            missing_version = "apiVersion" not in data and "api_version" not in data
            missing_kind = "kind" not in data
            if missing_version or missing_kind:
                data = dict(data)
                if missing_version:
                    data["apiVersion"] = cls.descriptor.api_version
                if missing_kind:
                    data["kind"] = cls.descriptor.kind
        return data


def _names_match(patterns: Sequence[str] | None, value: str) -> bool:
    """`value` is listed, or the list holds the wildcard `*`; an empty/absent list matches none."""
    if not patterns:
        return False
    return WILDCARD in patterns or value in patterns


def _only_wildcard_or_listed(patterns: Sequence[str] | None, value: str) -> bool:
    """Like `_names_match`, but `*` is the wildcard only as the list's single element."""
    if not patterns:
        return False
    return list(patterns) == [WILDCARD] or value in patterns


# --- Shared pieces -----------------------------------------------------------------------------


class NonNamespacedObjectReferenceSet(EdgeModel):
    """A set of cluster-scoped objects of one API group, chosen by resource and by name or labels.

    An object is in the set iff its API group equals `apiGroup`, its resource is in `resources`,
    and its name is in `resourceNames` or its labels match any of `labelSelectors`. In
    `resources` and `resourceNames` the list `["*"]` (exactly that) matches everything.
    """

    api_group: str | None = Field(
        default=None, description='API group of the objects; "" or absent is the core group.'
    )
    resources: list[str] = Field(
        description='Lowercase plural resource names; ["*"] matches all, [] matches none.'
    )
    resource_names: list[str] | None = Field(
        default=None, description='Object names; ["*"] matches all.'
    )
    label_selectors: list[LabelSelector] | None = Field(
        default=None, description="An object whose labels match any of these is in the set."
    )

    def matches(self, group: str, resource: str, name: str, labels: dict[str, str]) -> bool:
        """Tell whether the cluster-scoped object (group, resource, name, labels) is in the set."""
        if (self.api_group or "") != group:
            return False
        if not _only_wildcard_or_listed(self.resources, resource):
            return False
        if _only_wildcard_or_listed(self.resource_names, name):
            return True
        return any(sel.matches(labels) for sel in self.label_selectors or ())


class UpsyncSet(EdgeModel):
    """A set of objects, born at the edge, to copy up into the mailbox workspace.

    An object is in the set iff its API group equals `apiGroup`, its resource is listed in
    `resources`, its namespace is listed in `namespaces` (not checked for cluster-scoped
    objects) and its name is listed in `names`. In each list `*` matches everything and an
    empty or absent list matches nothing.
    """

    api_group: str | None = Field(
        default=None, description='API group of the objects; "" or absent is the core group.'
    )
    resources: list[str] = Field(description='Lowercase plural resource names; "*" matches all.')
    namespaces: list[str] | None = Field(
        default=None,
        description='Namespaces of the objects; "*" matches all; ignored for cluster-scoped ones.',
    )
    names: list[str] | None = Field(default=None, description='Object names; "*" matches all.')

    def matches(
        self, group: str, resource: str, namespace: str | None, name: str, namespaced: bool
    ) -> bool:
        """Tell whether the object is in the set (`namespace` is ignored unless `namespaced`)."""
        if (self.api_group or "") != group or not _names_match(self.resources, resource):
            return False
        if namespaced and not _names_match(self.namespaces, namespace or ""):
            return False
        return _names_match(self.names, name)


# --- EdgePlacement -----------------------------------------------------------------------------


class EdgePlacementSpec(EdgeModel):
    """What to downsync, where to, and what to upsync."""

    location_selectors: list[LabelSelector] | None = Field(
        default=None,
        description=(
            "A Location is selected iff its labels match any of these selectors. "
            "An empty or absent list selects no Location; the selector {} selects all."
        ),
    )
    namespace_selector: LabelSelector | None = Field(
        default=None,
        description=(
            "Selects the workload namespaces whose objects are downsynced. "
            "Absent or {} selects every namespace."
        ),
    )
    non_namespaced_objects: list[NonNamespacedObjectReferenceSet] | None = Field(
        default=None, description="Cluster-scoped objects to downsync."
    )
    upsync: list[UpsyncSet] | None = Field(
        default=None,
        description="Objects created at the edge to copy up; an object matching any entry is.",
    )
    aggregate_status_into_source: bool | None = Field(
        default=None,
        description=(
            "Whether the status summarizer also writes the summed edge counts (replicas, "
            "readyReplicas, availableReplicas, updatedReplicas) into the status of each selected "
            "Deployment, ReplicaSet or StatefulSet in this workspace, so `kubectl get` there shows "
            "the workload's state across all its destinations. Absent or true: yes; false: the "
            "source objects' status is left alone (StatusSummary objects are kept either way). "
            "An object selected by several EdgePlacements is aggregated unless one says false."
        ),
    )


class EdgePlacementStatus(EdgeModel):
    """What the controllers found for an EdgePlacement."""

    spec_generation: Int64 | None = Field(
        default=None,
        description="The metadata.generation this status describes; absent or 0 = none yet.",
    )
    matching_location_count: Int32 = Field(
        description="How many Locations match spec.locationSelectors."
    )
    conditions: list[Condition] | None = Field(
        default=None,
        description=f"Latest observations; the `{CONDITION_READY}` condition summarises them.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )


class EdgePlacement(EdgeObject):
    """Places the selected workload objects on every Location its selectors match.

    The "where" is `spec.locationSelectors`, the "what" is `spec.namespaceSelector` plus
    `spec.nonNamespacedObjects`, and `spec.upsync` says which edge-born objects come back.
    Several EdgePlacements may overlap; their effects add up.
    """

    descriptor: ClassVar[KindDescriptor] = KindDescriptor(
        kind="EdgePlacement",
        plural="edgeplacements",
        singular="edgeplacement",
        scope="Cluster",
        short_names=("epl",),
        status_subresource=True,
        printer_columns=(
            PrinterColumn(
                "Locations",
                "integer",
                ".status.matchingLocationCount",
                "Number of Locations matching the location selectors",
            ),
            PrinterColumn(
                "Ready",
                "string",
                f'.status.conditions[?(@.type=="{CONDITION_READY}")].status',
                "Whether the placement is fully resolved",
            ),
            PrinterColumn(
                "Reason",
                "string",
                f'.status.conditions[?(@.type=="{CONDITION_READY}")].reason',
                "Why the placement is or is not ready",
                priority=1,
            ),
            PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
        ),
    )

    spec: EdgePlacementSpec = Field(default_factory=EdgePlacementSpec)
    status: EdgePlacementStatus | None = None


# --- SinglePlacementSlice ----------------------------------------------------------------------


class Destination(EdgeModel):
    """One place an EdgePlacement's workload goes to: a Location and its SyncTarget.

    The four fields together identify the destination (hashable, so usable in sets).
    """

    model_config = ConfigDict(frozen=True)

    cluster: str = Field(
        description="Logical cluster name (not path) holding the Location and the SyncTarget."
    )
    location_name: str = Field(description="Name of the Location.")
    sync_target_name: str = Field(description="Name of the SyncTarget.")
    sync_target_uid: str = Field(
        alias="syncTargetUID", description="metadata.uid of the SyncTarget."
    )

    @property
    def mailbox_workspace_name(self) -> str:
        """The name of the mailbox workspace serving this destination."""
        return mailbox_workspace_name(self.cluster, self.sync_target_uid)


SinglePlacement = Destination
"""The original API's name for `Destination`."""


class SinglePlacementSlice(EdgeObject):
    """The resolved "where" of the EdgePlacement of the same name in the same workspace."""

    descriptor: ClassVar[KindDescriptor] = KindDescriptor(
        kind="SinglePlacementSlice",
        plural="singleplacementslices",
        singular="singleplacementslice",
        scope="Cluster",
        short_names=("sps",),
    )

    destinations: list[Destination] = Field(
        description="The Locations (with their SyncTargets) matched by the EdgePlacement."
    )


# --- StatusSummary (beyond the original: the status summarizer's output) ---------------------

LABEL_SUBJECT_RESOURCE = "edge.kcp.io/subject-resource"
"""On a StatusSummary: `<resource>.<group>` of its subject (`<resource>` for the core group)."""
LABEL_SUBJECT_NAMESPACE = "edge.kcp.io/subject-namespace"
"""On a StatusSummary: its subject's namespace."""
LABEL_SUBJECT_NAME = "edge.kcp.io/subject-name"
"""On a StatusSummary: its subject's name (a digest form when the name is no label value)."""
LABEL_EDGE_PLACEMENT = "edge.kcp.io/edge-placement"
"""On a StatusSummary: the (first, by name) EdgePlacement that places its subject."""
MAX_BROKEN_DESTINATIONS = 20
"""At most this many destinations are listed in `StatusSummary.status.broken`."""


class SubjectReference(EdgeModel):
    """The workload object a StatusSummary is about (in the summary's own workspace)."""

    group: str | None = Field(default=None, description='API group; "" or absent is core.')
    version: str = Field(description="API version the summarizer read the object at.")
    resource: str = Field(description="Lowercase plural resource name.")
    kind: str | None = Field(default=None, description="Kind of the object.")
    namespace: str | None = Field(default=None, description="Namespace (the summary's own).")
    name: str = Field(description="Name of the object.")


class BrokenDestination(EdgeModel):
    """One destination whose copy of the subject is missing, stale, behind or not ready."""

    sync_target_name: str = Field(description="Name of the destination's SyncTarget.")
    location_name: str | None = Field(default=None, description="Name of its Location.")
    cluster: str = Field(description="Logical cluster of the Location and SyncTarget.")
    mailbox: str | None = Field(default=None, description="Name of its mailbox workspace.")
    reason: str = Field(
        description=(
            "MailboxMissing, NotProjected, Stale, NoStatus, NotCurrent, Failed or NotReady."
        )
    )
    message: str | None = Field(default=None, description="Details for humans.")


class WorkloadCounts(EdgeModel):
    """Counts summed over the destinations that report status (workload kinds only)."""

    replicas: Int32 | None = None
    ready_replicas: Int32 | None = None
    available_replicas: Int32 | None = None
    updated_replicas: Int32 | None = None
    active: Int32 | None = Field(default=None, description="Jobs: running pods.")
    succeeded: Int32 | None = Field(default=None, description="Jobs: succeeded pods.")
    failed: Int32 | None = Field(default=None, description="Jobs: failed pods.")


class StatusSummaryStatus(EdgeModel):
    """How the subject fares across the destinations of the EdgePlacements that place it."""

    observed_generation: Int64 | None = Field(
        default=None, description="metadata.generation of the subject this summary describes."
    )
    destinations: Int32 = Field(description="Destinations that should have the object.")
    reporting: Int32 = Field(description="Destinations whose copy carries status from the edge.")
    current: Int32 = Field(
        description="Reporting destinations whose edge observed the copy's latest generation."
    )
    ready: Int32 = Field(
        description="Current, non-stale destinations where the object is ready (workloads: all "
        "replicas ready, Jobs: complete; other kinds: current)."
    )
    stale: Int32 = Field(
        description="Destinations whose syncer heartbeat is absent or older than the threshold."
    )
    missing: Int32 = Field(description="Destinations whose mailbox or copy does not exist.")
    broken_count: Int32 = Field(description="Destinations that are not ready, listed or not.")
    broken: list[BrokenDestination] | None = Field(
        default=None,
        max_length=MAX_BROKEN_DESTINATIONS,
        description=f"The first {MAX_BROKEN_DESTINATIONS} broken destinations (by SyncTarget).",
    )
    workload: WorkloadCounts | None = Field(
        default=None,
        description="Deployment, ReplicaSet, StatefulSet, DaemonSet and Job counts, summed.",
    )


class StatusSummary(EdgeObject):
    """The state of one placed workload object across all its destinations.

    Maintained by the status summarizer in the object's own workspace and namespace, named
    after the object's resource and name; labels link it to the subject and the placement.
    """

    descriptor: ClassVar[KindDescriptor] = KindDescriptor(
        kind="StatusSummary",
        plural="statussummaries",
        singular="statussummary",
        scope="Namespaced",
        short_names=("ssum",),
        printer_columns=(
            PrinterColumn("Kind", "string", ".subject.kind", "Kind of the subject"),
            PrinterColumn("Subject", "string", ".subject.name", "Name of the subject"),
            PrinterColumn(
                "Destinations",
                "integer",
                ".status.destinations",
                "Destinations that should have the object",
            ),
            PrinterColumn(
                "Ready", "integer", ".status.ready", "Destinations where the object is ready"
            ),
            PrinterColumn(
                "Reporting", "integer", ".status.reporting", "Destinations that report status"
            ),
            PrinterColumn(
                "Current",
                "integer",
                ".status.current",
                "Destinations that observed the latest generation",
            ),
            PrinterColumn(
                "Stale", "integer", ".status.stale", "Destinations whose syncer is silent"
            ),
            PrinterColumn(
                "Missing", "integer", ".status.missing", "Destinations without the object"
            ),
            PrinterColumn(
                "Replicas",
                "integer",
                ".status.workload.replicas",
                "Replicas summed over the destinations",
                priority=1,
            ),
            PrinterColumn(
                "Ready-Replicas",
                "integer",
                ".status.workload.readyReplicas",
                "Ready replicas summed over the destinations",
                priority=1,
            ),
            PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
        ),
    )

    subject: SubjectReference = Field(description="The summarised object.")
    placements: list[str] | None = Field(
        default=None, description="Names of the EdgePlacements that place the subject."
    )
    status: StatusSummaryStatus | None = None


# --- SyncerConfig ------------------------------------------------------------------------------


class NamespaceScopeDownsyncResource(EdgeModel):
    """A namespaced resource to downsync in every namespace of `namespaceScope.namespaces`."""

    group: str = Field(description='API group; "" is the core group.')
    api_version: str = Field(description="Version only (e.g. v1), used upstream and downstream.")
    resource: str = Field(description='Lowercase plural resource name; "*" means all.')


class NamespaceScopeDownsyncs(EdgeModel):
    """The namespaced objects to downsync: every resource listed, in every namespace listed."""

    namespaces: list[str] | None = Field(
        default=None,
        description="Namespaces whose contents are downsynced (the Namespace itself is ensured).",
    )
    resources: list[NamespaceScopeDownsyncResource] | None = Field(
        default=None, description="Namespaced resources to downsync in those namespaces."
    )


class ClusterScopeDownsyncResource(EdgeModel):
    """Cluster-scoped objects of one resource to downsync."""

    group: str = Field(description='API group; "" is the core group.')
    api_version: str = Field(description="Version only (e.g. v1), used upstream and downstream.")
    resource: str = Field(description='Lowercase plural resource name; "*" means all.')
    objects: list[str] | None = Field(
        default=None,
        description='Object names; "*" or absent means all objects, [] means none.',
    )


class SyncerConfigSpec(EdgeModel):
    """Everything the edge syncer of one mailbox workspace moves down and up."""

    namespace_scope: NamespaceScopeDownsyncs | None = Field(
        default=None, description="Namespaced objects to downsync."
    )
    cluster_scope: list[ClusterScopeDownsyncResource] | None = Field(
        default=None, description="Cluster-scoped objects to downsync."
    )
    upsync: list[UpsyncSet] | None = Field(
        default=None, description="Objects created at the edge to copy up into the mailbox."
    )


class SyncerConfigStatus(EdgeModel):
    """Status reported by the edge syncer."""

    last_syncer_heartbeat_time: Time | None = Field(
        default=None, description="When the syncer last reported being alive."
    )


class SyncerConfig(EdgeObject):
    """Tells the edge syncer of one mailbox workspace what to downsync and upsync.

    The placement translator maintains the one named `the-one`; the syncer merges all of them.
    """

    descriptor: ClassVar[KindDescriptor] = KindDescriptor(
        kind="SyncerConfig",
        plural="syncerconfigs",
        singular="syncerconfig",
        scope="Cluster",
        short_names=("escfg",),
    )

    spec: SyncerConfigSpec = Field(default_factory=SyncerConfigSpec)
    status: SyncerConfigStatus | None = None


# --- Customizer --------------------------------------------------------------------------------


class Replacement(EdgeModel):
    """Replace (or inject) the value at one JSONPath."""

    path: str = Field(description="JSONPath of the place to replace or inject.")
    value: str = Field(description="The new value, as JSON text.")


class Customizer(EdgeObject):
    """Per-destination modifications of the workload objects that name it in an annotation."""

    descriptor: ClassVar[KindDescriptor] = KindDescriptor(
        kind="Customizer",
        plural="customizers",
        singular="customizer",
        scope="Namespaced",
    )

    replacements: list[Replacement] | None = Field(
        default=None,
        description="Modifications to apply, identified by path.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["path"]},
    )


# --- EdgeSyncConfig (the syncer's older configuration kind) ------------------------------------


class EdgeSyncConfigResource(EdgeModel):
    """One object (or, with `*` for name or namespace, a set of objects) to sync."""

    kind: str | None = None
    group: str | None = None
    version: str | None = None
    name: str | None = Field(default=None, description='Object name; "*" means all.')
    namespace: str | None = Field(default=None, description='Namespace; "*" means all.')


class EdgeSyncConversion(EdgeModel):
    """Renaming rule between an upstream and a downstream identity (denaturing)."""

    upstream: EdgeSyncConfigResource
    downstream: EdgeSyncConfigResource


class EdgeSyncConfigSpec(EdgeModel):
    """Exact objects to downsync and upsync, and renaming rules."""

    down_synced_resources: list[EdgeSyncConfigResource] | None = None
    up_synced_resources: list[EdgeSyncConfigResource] | None = None
    conversions: list[EdgeSyncConversion] | None = None


class EdgeSyncConfigStatus(EdgeModel):
    """Status reported by the edge syncer (unused)."""

    last_syncer_heartbeat_time: Time | None = None


class EdgeSyncConfig(EdgeObject):
    """The edge syncer's original configuration kind, read alongside SyncerConfig."""

    descriptor: ClassVar[KindDescriptor] = KindDescriptor(
        kind="EdgeSyncConfig",
        plural="edgesyncconfigs",
        singular="edgesyncconfig",
        scope="Cluster",
        short_names=("esc",),
    )

    spec: EdgeSyncConfigSpec = Field(default_factory=EdgeSyncConfigSpec)
    status: EdgeSyncConfigStatus | None = None


EDGE_KINDS: tuple[type[EdgeObject], ...] = (
    Customizer,
    EdgePlacement,
    EdgeSyncConfig,
    SinglePlacementSlice,
    StatusSummary,
    SyncerConfig,
)
"""Every kind of the edge.kcp.io API, in the order of their plural names."""

KIND_BY_RESOURCE: dict[str, type[EdgeObject]] = {m.descriptor.plural: m for m in EDGE_KINDS}

__all__ = [
    "ANNOTATION_CUSTOMIZER",
    "ANNOTATION_DOWNSYNCED",
    "ANNOTATION_EXPAND_PARAMETERS",
    "ANNOTATION_SYNC_TARGET_NAME",
    "ANNOTATION_UPSYNCED",
    "API_VERSION",
    "CONDITION_READY",
    "EDGE_KINDS",
    "EXPORT_NAME",
    "GROUP",
    "KIND_BY_RESOURCE",
    "LABEL_EDGE_PLACEMENT",
    "LABEL_PROJECTED",
    "LABEL_SOURCE_PLACEMENT",
    "LABEL_SUBJECT_NAME",
    "LABEL_SUBJECT_NAMESPACE",
    "LABEL_SUBJECT_RESOURCE",
    "MAILBOX_BINDING_NAME",
    "MAILBOX_NAME_SEPARATOR",
    "MAX_BROKEN_DESTINATIONS",
    "PROJECTED_VALUE",
    "SYNCER_CONFIG_NAME",
    "VERSION",
    "WILDCARD",
    "BrokenDestination",
    "ClusterScopeDownsyncResource",
    "Customizer",
    "Destination",
    "EdgeModel",
    "EdgeObject",
    "EdgePlacement",
    "EdgePlacementSpec",
    "EdgePlacementStatus",
    "EdgeSyncConfig",
    "EdgeSyncConfigResource",
    "EdgeSyncConfigSpec",
    "EdgeSyncConfigStatus",
    "EdgeSyncConversion",
    "KindDescriptor",
    "NamespaceScopeDownsyncResource",
    "NamespaceScopeDownsyncs",
    "NonNamespacedObjectReferenceSet",
    "PrinterColumn",
    "Replacement",
    "SinglePlacement",
    "SinglePlacementSlice",
    "StatusSummary",
    "StatusSummaryStatus",
    "SubjectReference",
    "SyncerConfig",
    "SyncerConfigSpec",
    "SyncerConfigStatus",
    "UpsyncSet",
    "WorkloadCounts",
    "is_mailbox_workspace_name",
    "mailbox_workspace_name",
]
