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
from collections.abc import Iterable, Mapping

__all__ = ["display_names", "short_name"]

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


def display_names(
    route_ids: Iterable[str], known: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A name per route for one table: the short name, with the key's first part beside it
    where several keys of the table share that short name (variants of one route).

    >>> display_names(["00101-2016_v1", "00103-2016_v1", "80"], {"00101-2016_v1": "001",
    ...                                                          "00103-2016_v1": "001"})
    {'00101-2016_v1': '001 (00101)', '00103-2016_v1': '001 (00103)', '80': '80'}
    """
    ids = list(dict.fromkeys(route_ids))
    short = {r: short_name(r, known) for r in ids}
    count: dict[str, int] = {}
    for name in short.values():
        count[name] = count.get(name, 0) + 1
    return {
        r: name if count[name] == 1 else f"{name} ({r.split('-')[0]})" for r, name in short.items()
    }
