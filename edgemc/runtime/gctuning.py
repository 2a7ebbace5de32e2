"""Garbage-collector settings for processes that cache many decoded API objects.

Informer caches keep thousands of JSON-decoded objects alive while watch streams allocate
new ones in bursts. With CPython's default thresholds (a young collection every 700 net
allocations) a busy watch spends more time in collections, promoting and re-scanning cached
objects, than in decoding: decoded JSON cannot form reference cycles, so that work finds
nothing. A larger young generation makes collections rare without turning them off; the
cycles that asyncio and aiohttp do create are still collected.
"""

from __future__ import annotations

import gc

# Young-generation threshold: about one collection per few hundred decoded objects instead
# of one per ~25. Older generations keep CPython's ratios.
YOUNG_THRESHOLD = 10_000


def tune_for_caches() -> None:
    """Raise the young-generation threshold (idempotent; never lowers a higher setting)."""
    young, middle, old = gc.get_threshold()
    if young < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, middle, old)
