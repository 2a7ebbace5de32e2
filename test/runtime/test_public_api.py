"""The runtime's public surface is exactly what is meant to be public."""

from __future__ import annotations

import edgemc.runtime as runtime

PUBLIC = {
    # connecting and addressing
    "Client",
    "ClusterConfig",
    "GroupVersionResource",
    "WatchStream",
    # caches
    "Informer",
    "InformerFactory",
    "InformerOptions",
    "DeletedFinalStateUnknown",
    # work
    "WorkQueue",
    "Controller",
    "Key",
    "Result",
    "NonRetryableError",
    "Manager",
    "ManagerOptions",
    "get_logger",
    # errors
    "ApiError",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "MethodNotAllowed",
    "Conflict",
    "AlreadyExists",
    "Gone",
    "Invalid",
    "TooManyRequests",
    "ServerError",
}


def test_all_is_exactly_the_public_surface() -> None:
    assert set(runtime.__all__) == PUBLIC
    assert len(runtime.__all__) == len(PUBLIC)  # no duplicates
    for name in runtime.__all__:
        assert getattr(runtime, name) is not None


def test_runtime_knows_nothing_of_edge_mc() -> None:
    import pathlib

    root = pathlib.Path(runtime.__file__).parent
    for path in root.glob("*.py"):
        text = path.read_text()
        assert "edge.kcp.io" not in text, path
        assert "edgemc.controllers" not in text and "edgemc.apis" not in text, path
