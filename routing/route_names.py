"""Route names as riders and planners say them: the short name, not the feed's key.

A GTFS ``route_id`` is a database key; timetables, bus blinds and planners use the route's
``route_short_name``. When the history came with a GTFS, its short names are known and win.
Without one, a key's version suffix is dropped: Auckland Transport's 2016 keys are the short
name, a two-digit variant and the feed version (``00502-20160512154122_v40.34`` is route
``005`` in that GTFS's routes.txt, ``73102-...`` route ``731``), and keys such as ``150E-423``
carry a numeric revision after the name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["short_name"]

_AT_VERSION = re.compile(r"^(?P<base>[^-]+)-\d{14}_v[\d.]+$")
_REVISION = re.compile(r"^(?P<base>[^-]+)-\d+$")


def short_name(route_id: str, known: Mapping[str, str] | None = None) -> str:
    """The name to show for ``route_id``: its known short name, else the key without its
    version.

    >>> short_name("73102-20160512154122_v40.34"), short_name("150E-423"), short_name("80")
    ('731', '150E', '80')
    >>> short_name("Red", {"Red": "RL"}), short_name("00502-20160512154122_v40.34")
    ('RL', '005')
    """
    if known:
        name = known.get(route_id)
        if name:
            return name
    m = _AT_VERSION.match(route_id)
    if m:
        base = m["base"]
        return base[:-2] if len(base) == 5 and base[-2:].isdigit() else base
    m = _REVISION.match(route_id)
    return m["base"] if m else route_id
