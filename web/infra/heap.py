"""Keeping the long-lived heap out of the cyclic garbage collector's way.

The network, its indexes, the tracker and the services' tables live as long as the process (or
the feed version). Left in the collector's oldest generation, every full collection walks them
all: 80-190 ms on the Manhattan feed, a stall for each request in flight, and a third of the
tracker worker's GC time. Collected once and frozen (``gc.freeze``), they are never walked
again; later collections see only newer objects, and frozen objects are still freed by
reference counting when dropped. Before replacing a structure that holds reference cycles (a
tracker after a feed swap), ``gc.unfreeze()`` so the old one can be collected, then freeze again.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_long_lived"]


def freeze_long_lived() -> None:
    """Collect, then exempt every object alive now from later cyclic GC passes."""
    gc.collect()
    gc.freeze()
