"""The controller runtime: client, informers, work queue, controllers and manager.

It knows Kubernetes and kcp API conventions and nothing of edge-mc. The public surface is
`__all__`; everything else is reachable through the submodules for the few who need it.
"""

from __future__ import annotations

from edgemc.runtime.client import Client, ClusterConfig, GroupVersionResource, WatchStream
from edgemc.runtime.controller import Controller, Key, NonRetryableError, Result
from edgemc.runtime.errors import (
    AlreadyExists,
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    MethodNotAllowed,
    NotFound,
    ServerError,
    TooManyRequests,
    Unauthorized,
)
from edgemc.runtime.informer import (
    DeletedFinalStateUnknown,
    Informer,
    InformerFactory,
    InformerOptions,
)
from edgemc.runtime.logging import get_logger
from edgemc.runtime.manager import Manager, ManagerOptions
from edgemc.runtime.workqueue import WorkQueue

__all__ = [
    "AlreadyExists",
    "ApiError",
    "BadRequest",
    "Client",
    "ClusterConfig",
    "Conflict",
    "Controller",
    "DeletedFinalStateUnknown",
    "Forbidden",
    "Gone",
    "GroupVersionResource",
    "Informer",
    "InformerFactory",
    "InformerOptions",
    "Invalid",
    "Key",
    "Manager",
    "ManagerOptions",
    "MethodNotAllowed",
    "NonRetryableError",
    "NotFound",
    "Result",
    "ServerError",
    "TooManyRequests",
    "Unauthorized",
    "WatchStream",
    "WorkQueue",
    "get_logger",
]
