"""Watch-stream framing: events come out whole however the bytes are split into reads.

A real connection decides read boundaries itself, so these tests hand `WatchStream` a fake
response whose reads return exactly the scripted pieces.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from edgemc.runtime import errors
from edgemc.runtime.client import WatchStream

EVENTS = [
    {"type": "ADDED", "object": {"metadata": {"name": "a", "resourceVersion": "1"}}},
    {"type": "MODIFIED", "object": {"metadata": {"name": "a", "resourceVersion": "2"}}},
    {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "3"}}},
]
GONE = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}


class Reads:
    """The `content` of a response: each `readany` returns the next piece, then b""."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    async def readany(self) -> bytes:
        return self.pieces.pop(0) if self.pieces else b""


class Response:
    def __init__(self, pieces: list[bytes]) -> None:
        self.content = Reads(pieces)

    def close(self) -> None:
        pass


def stream_of(pieces: list[bytes]) -> WatchStream:
    stream = WatchStream(None, "/", {}, None)  # type: ignore[arg-type]
    stream._resp = Response(pieces)  # type: ignore[assignment]
    return stream


def wire(events: list[dict[str, Any]]) -> bytes:
    # A blank line between events too: servers may send them, and they carry nothing.
    return b"\n".join(orjson.dumps(e) for e in events) + b"\n\n"


def split(raw: bytes, size: int) -> list[bytes]:
    return [raw[i : i + size] for i in range(0, len(raw), size)]


@pytest.mark.parametrize("size", [1, 2, 7, 40, 61, 62, 63, 1000])
async def test_events_whole_for_any_read_size(size: int) -> None:
    got = [(kind, obj) async for kind, obj in stream_of(split(wire(EVENTS), size))]
    assert got == [(e["type"], e["object"]) for e in EVENTS]


@pytest.mark.parametrize("size", [1, 13, 1000])
async def test_error_event_raised_after_the_events_before_it(size: int) -> None:
    seen: list[str] = []
    stream = stream_of(split(wire([*EVENTS, GONE, EVENTS[0]]), size))
    with pytest.raises(errors.Gone):
        async for kind, _ in stream:
            seen.append(kind)
    assert seen == ["ADDED", "MODIFIED", "BOOKMARK"]
    assert await stream.next_batch() is None  # the stream is closed: nothing after the error
