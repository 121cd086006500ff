"""Snapshots: save/load round trip, refusal of damaged or foreign files."""

from __future__ import annotations

import json
import zipfile
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from feeds import snapshot
from feeds.gtfs import load_network
from transit.network import Network

ROOT = Path(__file__).resolve().parents[3]


def _assert_same(a: Network, b: Network) -> None:
    for f in fields(Network):
        if f.name == "_index":
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype, f.name
            np.testing.assert_array_equal(x, y, err_msg=f.name)
        elif f.name == "calendar":
            for g in fields(x):
                np.testing.assert_array_equal(getattr(x, g.name), getattr(y, g.name))
        else:
            assert x == y, f.name


@pytest.mark.parametrize(
    "feed",
    [ROOT / "web" / "data" / "cairns.zip", ROOT / "tests" / "data" / "tiny-loop"],
    ids=["cairns", "tiny-loop"],
)
def test_round_trip(tmp_path: Path, feed: Path) -> None:
    net = load_network(feed)
    path = tmp_path / "sub" / "net.npz"
    snapshot.save(net, path)
    back = snapshot.load(path)
    _assert_same(net, back)
    assert back.trip_index(str(net.trip_ids[-1])) == net.n_trips - 1
    with zipfile.ZipFile(path) as zf:  # uncompressed, no pickled objects
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())


def test_refuses_junk_and_missing_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"garbage")
    with pytest.raises(snapshot.SnapshotError, match="damaged snapshot"):
        snapshot.load(junk)
    with pytest.raises(snapshot.SnapshotError, match="no such snapshot"):
        snapshot.load(tmp_path / "missing.npz")


def test_refuses_another_format_version(tmp_path: Path) -> None:
    net = load_network(ROOT / "tests" / "data" / "tiny-loop")
    good = tmp_path / "net.npz"
    snapshot.save(net, good)
    path = tmp_path / "future.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "meta.json":
                meta = json.loads(data)
                meta["format_version"] = snapshot.FORMAT_VERSION + 1
                data = json.dumps(meta).encode()
            dst.writestr(info, data)
    with pytest.raises(snapshot.SnapshotError, match="import the feed again"):
        snapshot.load(path)


def test_refuses_an_npz_that_is_not_a_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "other.npz"
    np.savez(path, a=np.arange(3))
    with pytest.raises(snapshot.SnapshotError, match="not a smartbus snapshot"):
        snapshot.load(path)
