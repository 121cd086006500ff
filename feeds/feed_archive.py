"""What a GTFS zip must be before anything reads it: safe member names and a sane size.

A feed comes from outside (an agency's site, an upload), so its zip is checked from its
central directory, without decompressing anything: no member may name a path outside the feed
(absolute, ``..``, a drive letter or a backslash), the uncompressed total is bounded, and a member
may not expand far more than text does (a zip bomb). Each problem is a ``FeedError`` naming
the member. Reading a member never yields more than its declared size (``zipfile`` stops
there), so the declared sizes are a safe bound.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from .errors import FeedError

__all__ = ["MAX_MEMBERS", "MAX_RATIO", "MAX_UNCOMPRESSED", "check_archive"]

#: Largest uncompressed feed accepted (bytes): the largest real feeds are about 2 GB.
MAX_UNCOMPRESSED = 6 * 1024**3
#: Most members a feed zip may have (GTFS has about 30 files).
MAX_MEMBERS = 10_000
#: Largest expansion of a member past ``_RATIO_FROM`` bytes: CSV text compresses 5-30 times.
MAX_RATIO = 200
_RATIO_FROM = 1024 * 1024


def _unsafe(name: str) -> str | None:
    if "\\" in name:
        return "a backslash in its path"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in PurePosixPath(name).parts:
        return "'..' in its path (outside the feed)"
    if "\x00" in name:
        return "a NUL character in its name"
    return None


def check_archive(path: Path) -> None:
    """Raise ``FeedError`` when the zip at ``path`` is unsafe or cannot be a GTFS feed.

    Examples
    --------
    >>> import io, tempfile
    >>> p = Path(tempfile.mkdtemp()) / "feed.zip"
    >>> with zipfile.ZipFile(p, "w") as z:
    ...     z.writestr("../stops.txt", "stop_id")
    >>> check_archive(p)
    Traceback (most recent call last):
    ...
    feeds.errors.FeedError: ../stops.txt: unsafe member: '..' in its path (outside the feed)
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise FeedError(path.name, None, f"not a readable zip file: {exc}") from exc
    files = [i for i in infos if not i.is_dir()]
    if not files:
        raise FeedError(path.name, None, "the zip is empty: no GTFS files in it")
    if len(infos) > MAX_MEMBERS:
        raise FeedError(
            path.name, None, f"{len(infos)} members; a GTFS zip has at most {MAX_MEMBERS}"
        )
    total = 0
    for info in infos:
        if (why := _unsafe(info.filename)) is not None:
            raise FeedError(info.filename, None, f"unsafe member: {why}")
        total += info.file_size
        if info.file_size > _RATIO_FROM and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise FeedError(
                info.filename,
                None,
                f"expands {ratio:.0f} times ({info.compress_size} to {info.file_size} bytes); "
                f"text expands at most {MAX_RATIO} times: a zip bomb?",
            )
    if total > MAX_UNCOMPRESSED:
        raise FeedError(
            path.name,
            None,
            f"{total} bytes uncompressed; at most {MAX_UNCOMPRESSED} are accepted",
        )
    if not any(i.filename.endswith(".txt") for i in files):
        names = ", ".join(i.filename for i in files[:5])
        raise FeedError(path.name, None, f"no .txt files in the zip (it holds {names})")
