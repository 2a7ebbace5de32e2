"""Garbage-collector settings for processes that cache many decoded API objects.

Informer caches keep thousands of JSON-decoded objects alive while watch streams keep
replacing them. With CPython's default thresholds (a young collection every 700 net
allocations) cached objects survive young collections and are promoted, and now and then a
full collection re-scans the whole cache for nothing: decoded JSON cannot form reference
cycles. (In bench/informer_throughput.py: some 50 collections per 40,000 events, and about
every 80,000 events a full one that alone takes as long as ~2,000 events do.) A larger young
generation lets replaced objects die young, which makes collections rare without turning
them off; the cycles that asyncio and aiohttp do create are still collected.
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
