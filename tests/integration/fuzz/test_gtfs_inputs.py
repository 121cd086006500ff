"""Broken and hostile GTFS zips imported over a working feed: each is refused with an error
naming the problem, and the feed already active (its version, its snapshot) is untouched.

Made from the small ``tests/data/tiny-loop`` feed: a byte-order mark and CRLF line ends (fine),
Latin-1 text, a missing required column, member names reaching outside the feed, a zip bomb,
an empty zip, a zip of no text files, and random bytes.
"""

from __future__ import annotations

import asyncio
import zipfile
from pathlib import Path

import asyncpg
import pytest

from feeds.errors import FeedError
from feeds.postgres import active_feed_version
from web.feed_versions import import_feed
from web.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
TINY = {p.name: p.read_bytes() for p in (ROOT / "tests" / "data" / "tiny-loop").glob("*.txt")}


def zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def without(name: str) -> dict[str, bytes]:
    return {k: v for k, v in TINY.items() if k != name}


STOPS = TINY["stops.txt"]


def drop_column(csv: bytes, name: str) -> bytes:
    rows = [line.split(b",") for line in csv.splitlines()]
    i = rows[0].index(name.encode())
    return b"\n".join(b",".join(r[:i] + r[i + 1 :]) for r in rows) + b"\n"


BAD: dict[str, tuple[dict[str, bytes] | bytes, str, str]] = {
    "latin1": (
        {**TINY, "stops.txt": STOPS.decode().replace("Square", "Plaça").encode("latin-1")},
        "stops.txt",
        "not UTF-8",
    ),
    "missing_column": (
        {**TINY, "stops.txt": drop_column(STOPS, "stop_lat")},
        "stops.txt",
        "stop_lat",
    ),
    "dotdot": ({**without("stops.txt"), "../stops.txt": STOPS}, "../stops.txt", "'..'"),
    "absolute": ({**without("stops.txt"), "/etc/stops.txt": STOPS}, "/etc/stops.txt", "absolute"),
    "backslash": ({**without("stops.txt"), "..\\stops.txt": STOPS}, "stops.txt", "backslash"),
    "bomb": ({**TINY, "stop_times.txt": b"0" * (256 * 1024**2)}, "stop_times.txt", "zip bomb"),
    "empty": ({}, ".zip", "empty"),
    "no_text": ({"readme.pdf": b"%PDF-1.4"}, ".zip", "no .txt files"),
    "random": (b"PK\x03\x04" + bytes(range(256)) * 4, ".zip", "zip"),
}


@pytest.mark.parametrize("case", sorted(BAD))
async def test_a_bad_feed_is_refused_and_the_active_one_kept(
    case: str, pg_pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    good = await import_feed(pg_pool, settings, zip_of(tmp_path / "good.zip", TINY))
    members, where, what = BAD[case]
    bad = tmp_path / f"{case}.zip"
    if isinstance(members, bytes):
        bad.write_bytes(members)
    else:
        zip_of(bad, members)
    with pytest.raises(FeedError) as err:
        await import_feed(pg_pool, settings, bad)
    message = str(err.value)
    assert where in message, message
    assert what in message, message
    active = await active_feed_version(pg_pool)
    assert active is not None
    assert active.id == good.version.id
    assert await asyncio.to_thread(Path(active.snapshot_path or "").exists)


@pytest.mark.parametrize(
    "variant",
    ["bom", "crlf", "bom_crlf", "subfolder"],
)
async def test_harmless_variants_import(
    variant: str, pg_pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    members = dict(TINY)
    if "bom" in variant:
        members = {k: b"\xef\xbb\xbf" + v for k, v in members.items()}
    if "crlf" in variant:
        members = {k: v.replace(b"\n", b"\r\n") for k, v in members.items()}
    if variant == "subfolder":
        members = {f"gtfs/{k}": v for k, v in members.items()}
    imported = await import_feed(pg_pool, settings, zip_of(tmp_path / "f.zip", members))
    assert imported.network.n_stops == 5
