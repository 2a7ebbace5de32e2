"""The kcp v0.11 API types edgemc reads or writes, as pydantic models, plus kcp's well-known keys.

Data only: shapes, resource coordinates and constant names (kcp-facts sections 2.6, 3.1, 3.5,
4.1-4.3, 4.6, 6.1, 6.2). Behaviour lives in the controllers and the embedded server.

Like `edgemc.apis.edge`, Python attributes are snake_case with the exact JSON names as aliases
(note `Workspace.spec.URL`, `LogicalCluster.status.URL` and `boundResources[].schema.UID`),
unknown fields are kept, and `to_dict()` gives back the JSON form.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from edgemc.apis.meta import Condition, LabelSelector, ObjectMeta


class GroupVersionResource(NamedTuple):
    """Coordinates of a resource as used in request paths."""

    group: str
    version: str
    resource: str

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


TENANCY_GROUP = "tenancy.kcp.io"
CORE_GROUP = "core.kcp.io"
APIS_GROUP = "apis.kcp.io"
WORKLOAD_GROUP = "workload.kcp.io"
SCHEDULING_GROUP = "scheduling.kcp.io"
V1ALPHA1 = "v1alpha1"

WORKSPACES = GroupVersionResource(TENANCY_GROUP, V1ALPHA1, "workspaces")
LOGICAL_CLUSTERS = GroupVersionResource(CORE_GROUP, V1ALPHA1, "logicalclusters")
API_EXPORTS = GroupVersionResource(APIS_GROUP, V1ALPHA1, "apiexports")
API_BINDINGS = GroupVersionResource(APIS_GROUP, V1ALPHA1, "apibindings")
API_RESOURCE_SCHEMAS = GroupVersionResource(APIS_GROUP, V1ALPHA1, "apiresourceschemas")
SYNC_TARGETS = GroupVersionResource(WORKLOAD_GROUP, V1ALPHA1, "synctargets")
LOCATIONS = GroupVersionResource(SCHEDULING_GROUP, V1ALPHA1, "locations")

# --- Names ----------------------------------------------------------------------------------

ROOT_CLUSTER = "root"
"""Name (and path) of the root logical cluster."""
LOGICAL_CLUSTER_OBJECT_NAME = "cluster"
"""The singleton LogicalCluster object in every logical cluster has this name."""
CLUSTER_PATH_SEPARATOR = ":"
WILDCARD_CLUSTER = "*"
COMPUTE_PATH = "root:compute"
"""Workspace holding the `kubernetes` APIExport (deployments, pods, services, ingresses)."""
KUBERNETES_EXPORT = "kubernetes"
WORKLOAD_EXPORT = "workload.kcp.io"
"""APIExport of SyncTargets, in `root`."""
SCHEDULING_EXPORT = "scheduling.kcp.io"
"""APIExport of Locations, in `root`."""
TENANCY_EXPORT = "tenancy.kcp.io"
IDENTITY_SECRET_NAMESPACE = "kcp-system"
"""Namespace of APIExport identity Secrets in the export's workspace."""
DEFAULT_LOCATION_NAME = "default"
"""Location kcp creates next to the first SyncTarget of a workspace."""

# --- Annotations, labels, finalizers (kcp-facts 2.6, 4.3, 6.3) ------------------------------

ANNOTATION_CLUSTER = "kcp.io/cluster"
"""Logical cluster *name* an object lives in; on every object kcp returns."""
ANNOTATION_PATH = "kcp.io/path"
"""Canonical path, on LogicalClusters, APIExports, Locations, WorkspaceTypes."""
LABEL_WORKSPACE_PHASE = "tenancy.kcp.io/phase"
"""Copy of status.phase (or `Deleting`) on Workspaces and LogicalClusters."""
ANNOTATION_WORKSPACE_OWNER = "experimental.tenancy.kcp.io/owner"
ANNOTATION_WORKSPACE_SHARD = "internal.tenancy.kcp.io/shard"
ANNOTATION_WORKSPACE_CLUSTER = "internal.tenancy.kcp.io/cluster"
ANNOTATION_LOGICAL_CLUSTER_TYPE = "internal.tenancy.kcp.io/type"
"""`<typePath>:<typeName>` on LogicalClusters, e.g. `root:universal`."""
FINALIZER_LOGICAL_CLUSTER = "core.kcp.io/logicalcluster"
LABEL_REGION = "region"
LABEL_INITIALIZER_PREFIX = "initializer.internal.kcp.io/"
LABEL_API_EXPORT = "internal.apis.kcp.io/export"
"""On APIBindings: base62(sha224("<export cluster>:<export name>"))."""
ANNOTATION_EXTRA_APIS_PREFIX = "extra.apis.kcp.io/"
"""APIExport annotations with this prefix are copied onto its APIBindings."""
ANNOTATION_BOUND_CRD = "apis.kcp.io/bound-crd"
ANNOTATION_SCHEMA_CLUSTER = "apis.kcp.io/schema-cluster"
ANNOTATION_SCHEMA_NAME = "apis.kcp.io/schema-name"
LABEL_SYNC_TARGET_KEY = "internal.workload.kcp.io/key"
"""On SyncTargets: base62(sha224("<cluster>:<name>"))."""
ANNOTATION_LOCATION_LABELS = "scheduling.kcp.io/labels"
"""On Locations: their labels as sorted `k=v` words."""
ANNOTATION_SKIP_DEFAULT_OBJECT_CREATION = "workload.kcp.io/skip-default-object-creation"
ANNOTATION_COMPUTE_EXPORT = "extra.apis.kcp.io/compute.workload.kcp.io"

# --- Phases and condition types (kcp-facts 3.1, 4.2, 4.3, 6.1) -------------------------------

PHASE_SCHEDULING = "Scheduling"
PHASE_INITIALIZING = "Initializing"
PHASE_READY = "Ready"
PHASE_DELETING = "Deleting"
"""Only ever in the `tenancy.kcp.io/phase` label, never in status.phase."""
BINDING_PHASE_BINDING = "Binding"
BINDING_PHASE_BOUND = "Bound"

CONDITION_READY = "Ready"
CONDITION_WORKSPACE_SCHEDULED = "WorkspaceScheduled"
CONDITION_WORKSPACE_INITIALIZED = "WorkspaceInitialized"
CONDITION_WORKSPACE_CONTENT_DELETED = "WorkspaceContentDeleted"
CONDITION_IDENTITY_VALID = "IdentityValid"
CONDITION_VIRTUAL_WORKSPACE_URLS_READY = "VirtualWorkspaceURLsReady"
CONDITION_API_EXPORT_VALID = "APIExportValid"
CONDITION_INITIAL_BINDING_COMPLETED = "InitialBindingCompleted"
CONDITION_BINDING_UP_TO_DATE = "BindingUpToDate"
CONDITION_PERMISSION_CLAIMS_VALID = "PermissionClaimsValid"
CONDITION_PERMISSION_CLAIMS_APPLIED = "PermissionClaimsApplied"
CONDITION_BINDING_RESOURCE_DELETE_SUCCESS = "BindingResourceDeleteSuccess"
CONDITION_SYNCER_READY = "SyncerReady"
CONDITION_API_IMPORTER_READY = "APIImporterReady"
CONDITION_HEARTBEAT_HEALTHY = "HeartbeatHealthy"
CONDITION_SYNCER_AUTHORIZED = "SyncerAuthorized"


# --- Bases ----------------------------------------------------------------------------------


class KcpModel(BaseModel):
    """Base of every kcp model: camelCase JSON names, unknown fields preserved."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, alias_generator=to_camel)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (aliases, no `None`s)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class KcpObject(KcpModel):
    """A top-level kcp object; `apiVersion` and `kind` default from `GVR` and `KIND`."""

    GVR: ClassVar[GroupVersionResource]
    KIND: ClassVar[str]
    NAMESPACED: ClassVar[bool] = False

    api_version: str
    kind: str
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)

    @model_validator(mode="before")
    @classmethod
    def _default_type_meta(cls, data: Any) -> Any:
        if isinstance(data, dict) and hasattr(cls, "KIND"):
            missing_version = "apiVersion" not in data and "api_version" not in data
            if missing_version or "kind" not in data:
                data = dict(data)
                if missing_version:
                    data["apiVersion"] = cls.GVR.group_version
                data.setdefault("kind", cls.KIND)
        return data


# --- tenancy.kcp.io Workspace -----------------------------------------------------------------


class WorkspaceTypeReference(KcpModel):
    name: str | None = None
    path: str | None = None


class WorkspaceLocation(KcpModel):
    selector: LabelSelector | None = None


class WorkspaceSpec(KcpModel):
    type: WorkspaceTypeReference | None = None
    location: WorkspaceLocation | None = None
    cluster: str | None = None
    """Logical cluster name of the workspace; set by the system."""
    url: str | None = Field(default=None, alias="URL")
    """`<shard URL>/clusters/<spec.cluster>`; set by the system. JSON name is `URL`."""


class WorkspaceStatus(KcpModel):
    phase: str | None = None
    conditions: list[Condition] | None = None
    initializers: list[str] | None = None


class Workspace(KcpObject):
    """A child logical cluster, stored in its parent; reachable at `<parent path>:<name>`."""

    GVR = WORKSPACES
    KIND = "Workspace"

    spec: WorkspaceSpec = Field(default_factory=WorkspaceSpec)
    status: WorkspaceStatus | None = None


# --- core.kcp.io LogicalCluster ---------------------------------------------------------------


class LogicalClusterOwner(KcpModel):
    api_version: str | None = None
    resource: str | None = None
    name: str | None = None
    cluster: str | None = None
    uid: str | None = None


class LogicalClusterSpec(KcpModel):
    owner: LogicalClusterOwner | None = None
    initializers: list[str] | None = None
    directly_deletable: bool | None = None


class LogicalClusterStatus(KcpModel):
    url: str | None = Field(default=None, alias="URL")
    phase: str | None = None
    initializers: list[str] | None = None
    conditions: list[Condition] | None = None


class LogicalCluster(KcpObject):
    """The singleton `cluster` object describing the logical cluster it lives in."""

    GVR = LOGICAL_CLUSTERS
    KIND = "LogicalCluster"

    spec: LogicalClusterSpec = Field(default_factory=LogicalClusterSpec)
    status: LogicalClusterStatus | None = None


# --- apis.kcp.io APIResourceSchema ------------------------------------------------------------


class ResourceNames(KcpModel):
    kind: str
    list_kind: str | None = None
    plural: str
    singular: str | None = None
    short_names: list[str] | None = None
    categories: list[str] | None = None


class APIResourceVersion(KcpModel):
    name: str
    served: bool
    storage: bool
    deprecated: bool | None = None
    deprecation_warning: str | None = None
    schema_: dict[str, Any] = Field(alias="schema")
    """The raw OpenAPI v3 schema of the whole object (no `openAPIV3Schema` wrapper)."""
    subresources: dict[str, Any] | None = None
    additional_printer_columns: list[dict[str, Any]] | None = None


class APIResourceSchemaSpec(KcpModel):
    group: str
    names: ResourceNames
    scope: str
    versions: list[APIResourceVersion]


class APIResourceSchema(KcpObject):
    """An immutable resource definition `<prefix>.<plural>.<group>`, exported by APIExports."""

    GVR = API_RESOURCE_SCHEMAS
    KIND = "APIResourceSchema"

    spec: APIResourceSchemaSpec


# --- apis.kcp.io APIExport --------------------------------------------------------------------


class SecretReference(KcpModel):
    namespace: str | None = None
    name: str | None = None


class Identity(KcpModel):
    secret_ref: SecretReference | None = None


class ResourceSelector(KcpModel):
    name: str | None = None
    namespace: str | None = None


class PermissionClaim(KcpModel):
    group: str | None = None
    resource: str | None = None
    identity_hash: str | None = None
    all: bool | None = None
    resource_selector: list[ResourceSelector] | None = None


class AcceptablePermissionClaim(PermissionClaim):
    state: str | None = None
    """`Accepted` or `Rejected`."""


class MaximalPermissionPolicy(KcpModel):
    local: dict[str, Any] | None = None


class APIExportSpec(KcpModel):
    latest_resource_schemas: list[str] | None = None
    identity: Identity | None = None
    maximal_permission_policy: MaximalPermissionPolicy | None = None
    permission_claims: list[PermissionClaim] | None = None


class VirtualWorkspace(KcpModel):
    url: str


class APIExportStatus(KcpModel):
    identity_hash: str | None = None
    virtual_workspaces: list[VirtualWorkspace] | None = None
    """Deprecated in kcp in favour of APIExportEndpointSlice, still filled in v0.11."""
    conditions: list[Condition] | None = None


class APIExport(KcpObject):
    """Publishes APIResourceSchemas for binding; its virtual workspace serves all bound objects."""

    GVR = API_EXPORTS
    KIND = "APIExport"

    spec: APIExportSpec = Field(default_factory=APIExportSpec)
    status: APIExportStatus | None = None


# --- apis.kcp.io APIBinding -------------------------------------------------------------------


class ExportReference(KcpModel):
    path: str | None = None
    """Path or logical cluster name of the export's workspace; empty = the same workspace."""
    name: str


class BindingReference(KcpModel):
    export: ExportReference | None = None


class APIBindingSpec(KcpModel):
    reference: BindingReference
    permission_claims: list[AcceptablePermissionClaim] | None = None


class BoundAPIResourceSchema(KcpModel):
    name: str | None = None
    uid: str | None = Field(default=None, alias="UID")
    identity_hash: str | None = None


class BoundAPIResource(KcpModel):
    group: str | None = None
    resource: str | None = None
    schema_: BoundAPIResourceSchema | None = Field(default=None, alias="schema")
    storage_versions: list[str] | None = None


class APIBindingStatus(KcpModel):
    phase: str | None = None
    api_export_cluster_name: str | None = None
    bound_resources: list[BoundAPIResource] | None = None
    export_permission_claims: list[PermissionClaim] | None = None
    applied_permission_claims: list[PermissionClaim] | None = None
    conditions: list[Condition] | None = None


class APIBinding(KcpObject):
    """Makes the resources of an APIExport available in the workspace it lives in."""

    GVR = API_BINDINGS
    KIND = "APIBinding"

    spec: APIBindingSpec
    status: APIBindingStatus | None = None


# --- workload.kcp.io SyncTarget ---------------------------------------------------------------


class SupportedAPIExport(KcpModel):
    path: str | None = None
    export: str | None = None


class SyncTargetSpec(KcpModel):
    unschedulable: bool | None = None
    evict_after: str | None = None
    supported_api_exports: list[SupportedAPIExport] | None = Field(
        default=None, alias="supportedAPIExports"
    )
    cells: dict[str, str] | None = None


class ResourceToSync(KcpModel):
    group: str | None = None
    resource: str | None = None
    versions: list[str] | None = None
    identity_hash: str | None = None
    state: str | None = None


class SyncTargetVirtualWorkspace(KcpModel):
    syncer_url: str | None = Field(default=None, alias="syncerURL")
    upsyncer_url: str | None = Field(default=None, alias="upsyncerURL")


class SyncTargetStatus(KcpModel):
    allocatable: dict[str, Any] | None = None
    capacity: dict[str, Any] | None = None
    conditions: list[Condition] | None = None
    synced_resources: list[ResourceToSync] | None = None
    last_syncer_heartbeat_time: str | None = None
    virtual_workspaces: list[SyncTargetVirtualWorkspace] | None = None


class SyncTarget(KcpObject):
    """One edge cluster in an inventory workspace (edge-mc reads name, uid, labels, cluster)."""

    GVR = SYNC_TARGETS
    KIND = "SyncTarget"

    spec: SyncTargetSpec = Field(default_factory=SyncTargetSpec)
    status: SyncTargetStatus | None = None


# --- scheduling.kcp.io Location ---------------------------------------------------------------


class GroupVersionResourceRef(KcpModel):
    group: str | None = None
    version: str | None = None
    resource: str | None = None


class AvailableSelectorLabel(KcpModel):
    key: str
    values: list[str] | None = None
    description: str | None = None


class LocationSpec(KcpModel):
    resource: GroupVersionResourceRef | None = None
    """Always workload.kcp.io/v1alpha1 synctargets."""
    instance_selector: LabelSelector | None = None
    """Selects SyncTargets in the Location's own workspace."""
    description: str | None = None
    available_selector_labels: list[AvailableSelectorLabel] | None = None


class LocationStatus(KcpModel):
    instances: int | None = None
    available_instances: int | None = None


class Location(KcpObject):
    """A named, labelled set of SyncTargets of one inventory workspace."""

    GVR = LOCATIONS
    KIND = "Location"

    spec: LocationSpec = Field(default_factory=LocationSpec)
    status: LocationStatus | None = None


SYNC_TARGETS_REF = GroupVersionResourceRef(
    group=WORKLOAD_GROUP, version=V1ALPHA1, resource=SYNC_TARGETS.resource
)
"""The only value of `Location.spec.resource`."""

KCP_KINDS: tuple[type[KcpObject], ...] = (
    APIBinding,
    APIExport,
    APIResourceSchema,
    Location,
    LogicalCluster,
    SyncTarget,
    Workspace,
)


def ensure_location_objects(
    name: str, labels: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The SyncTarget and Location `scripts/ensure-location.sh NAME k=v...` makes: both named
    NAME and labelled with the given labels (the SyncTarget also `id=NAME`); the Location
    selects its SyncTarget by that `id` label."""
    target = {
        "apiVersion": f"{WORKLOAD_GROUP}/{V1ALPHA1}",
        "kind": "SyncTarget",
        "metadata": {"name": name, "labels": {"id": name, **labels}},
    }
    location = {
        "apiVersion": f"{SCHEDULING_GROUP}/{V1ALPHA1}",
        "kind": "Location",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "resource": SYNC_TARGETS_REF.model_dump(by_alias=True),
            "instanceSelector": {"matchLabels": {"id": name}},
        },
    }
    return target, location
