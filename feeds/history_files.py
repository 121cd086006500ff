"""The files of a history import: finding them, reading CSV members, counting rows, errors."""

from __future__ import annotations

import glob
import gzip
import io
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

__all__ = [
    "HistoryImportError",
    "ImportCounter",
    "csv_members",
    "find_files",
    "iso_date",
    "number",
    "open_text",
]


class HistoryImportError(Exception):
    """An import source is missing, unreadable or inconsistent; the message names the file
    (and the row, when one row is at fault). Nothing is stored when it is raised."""


@dataclass
class ImportCounter:
    """Rows read and skipped by a reader, and sentences worth telling the user."""

    read: int = 0
    skipped: int = 0
    notes: list[str] = field(default_factory=list)


def find_files(path: str | Path, patterns: tuple[str, ...]) -> list[Path]:
    """``path`` itself when it is a file, else its files matching ``patterns`` (recursively).

    Raises
    ------
    HistoryImportError
        When the path does not exist or holds no such file.
    """
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.exists():
        raise HistoryImportError(f"{p}: no such file or folder")
    found: list[Path] = []
    for pat in patterns:
        found += [Path(f) for f in glob.glob(os.path.join(str(p), "**", pat), recursive=True)]
    if not found:
        raise HistoryImportError(f"{p}: no {' or '.join(patterns)} files in it")
    return sorted(set(found))


def number(v: Any) -> float | None:
    """A float from a cell, None when blank, not a number, or NaN.

    >>> number("3.5"), number(""), number("x"), number("nan")
    (3.5, None, None, None)
    """
    if v is None or v == "":
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f else None


def iso_date(s: str) -> date | None:
    """The date at the start of an ISO text (``2025-09-24`` or ``2025-09-24T10:00``), or None."""
    try:
        return date.fromisoformat(s[:10])
    except ValueError:
        return None


def open_text(path: Path) -> IO[str]:
    """A CSV file opened for reading as text, gzipped (``.gz``) or not, BOM or not."""
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def csv_members(f: Path) -> Iterator[tuple[str, io.TextIOWrapper]]:
    """The CSV texts of a file: each ``.csv`` member of a tar archive, or the file itself
    (gzipped or not).

    Raises
    ------
    HistoryImportError
        When a tar archive cannot be read.
    """
    if f.name.endswith((".tar.gz", ".tgz", ".tar")):
        try:
            with tarfile.open(f) as tar:
                for m in tar:
                    if not (m.isfile() and m.name.endswith(".csv")):
                        continue
                    raw = tar.extractfile(m)
                    if raw is None:
                        continue
                    yield m.name, io.TextIOWrapper(raw, encoding="utf-8", newline="")
        except tarfile.TarError as exc:
            raise HistoryImportError(f"{f}: not a readable tar archive ({exc})") from exc
    elif f.name.endswith(".gz"):
        with gzip.open(f, "rb") as raw_gz:
            yield str(f), io.TextIOWrapper(raw_gz, encoding="utf-8-sig", newline="")
    else:
        with open(f, "rb") as raw_file:
            yield str(f), io.TextIOWrapper(raw_file, encoding="utf-8-sig", newline="")
