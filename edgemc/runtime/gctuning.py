"""Garbage-collector settings for processes that hold many decoded API objects.

Informer caches and API-server stores keep many JSON-decoded objects alive while watch
streams keep replacing them. With CPython's default thresholds (a young collection every
700 net allocations) cached objects survive young collections and are promoted, and now and
then a full collection re-scans the whole heap for nothing: decoded JSON cannot form
reference cycles. (In bench/informer_throughput.py: some 50 collections per 40,000 events,
and about every 80,000 events a full one that alone takes as long as ~2,000 events do.) A
larger young generation lets replaced objects die young, which makes collections rare
without turning them off; the cycles that asyncio and aiohttp do create are still collected.

A full collection still scans every tracked object, and it stops the process while it does:
with the kcp server's three million objects at 1,000 edge clusters, one every few seconds
took 1-2 s each (up to 7 s on a busy machine), the largest part of that server's P99
latency. `calm_full_collections` freezes what survived a full collection, so the next one
scans only objects made since (objects freed by reference counting are freed all the same,
frozen or not); every `rescan_every` seconds it unfreezes them, so that one full collection
scans everything and reclaims cycles among old objects that died meanwhile.
"""

from __future__ import annotations

import gc
import time
from typing import Any

# Young-generation threshold: about one collection per few hundred decoded objects instead
# of one per ~25. Older generations keep CPython's ratios.
YOUNG_THRESHOLD = 10_000
# Seconds between full collections that scan the frozen objects too.
RESCAN_EVERY = 600.0


def tune_for_caches() -> None:
    """Raise the young-generation threshold (idempotent; never lowers a higher setting)."""
    young, middle, old = gc.get_threshold()
    if young < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, middle, old)


class FreezeSurvivors:
    """A `gc.callbacks` entry: freezes the survivors of each full collection, except after
    an unfreeze is due, when the next full collection gets to scan everything."""

    def __init__(self, rescan_every: float) -> None:
        self.rescan_every = rescan_every
        self.rescan_at = time.monotonic() + rescan_every
        self.rescanning = False

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop" or info.get("generation") != 2:
            return
        now = time.monotonic()
        if not self.rescanning and now >= self.rescan_at:
            gc.unfreeze()  # the next full collection scans every object
            self.rescanning = True
            return
        if self.rescanning:
            self.rescanning = False
            self.rescan_at = now + self.rescan_every
        gc.freeze()


def calm_full_collections(rescan_every: float = RESCAN_EVERY) -> None:
    """Tune for caches and keep full collections short (see the module docstring);
    idempotent: a process gets one policy, the first one installed."""
    tune_for_caches()
    if not any(isinstance(cb, FreezeSurvivors) for cb in gc.callbacks):
        gc.callbacks.append(FreezeSurvivors(rescan_every))
