"""The stream, the live state and the leases on a real three-node Redis Cluster.

The fixture starts three ``redis-server --cluster-enabled yes`` on free loopback ports in a
temporary folder, joins them with ``redis-cli --cluster create`` (no replicas) and stops them at
the end. Every key of a multi-key command or script shares a hash tag, so nothing here may
fail with CROSSSLOT; the partitions of the stream land in different slots (and nodes).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from redis.asyncio.cluster import RedisCluster

from feeds.apikeys import create_key
from feeds.gtfsrt import encode_vehicle_positions
from feeds.leases import PartitionLeases
from feeds.live_state import Fence, FencedOffError, LiveState
from feeds.stream import PositionStream
from predictor.events import Prediction, TrackerOutput, VehicleState
from transit.pings import Ping
from web import keys
from web.app import create_app
from web.settings import Settings

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]

pytestmark = pytest.mark.slow

T0 = 1_700_000_000.0
REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")


def _free_ports(n: int) -> list[int]:
    """``n`` loopback ports whose cluster bus ports (+10000) are free too."""
    import socket

    ports: list[int] = []
    while len(ports) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 10000 > 65535 or port in ports:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        ports.append(port)
    return ports


def _node_args(port: int, folder: Path) -> list[str]:
    return [
        *("--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes"),
        *("--cluster-config-file", str(folder / "nodes.conf"), "--dir", str(folder)),
        *("--appendonly", "no", "--save", ""),
    ]


@pytest.fixture(scope="module")
def cluster_ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    if REDIS_SERVER is None or REDIS_CLI is None:
        pytest.skip("redis-server and redis-cli are not installed: no Redis Cluster to test on")
    root = tmp_path_factory.mktemp("cluster")
    ports = _free_ports(3)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            folder = root / str(port)
            folder.mkdir()
            procs.append(
                subprocess.Popen(
                    [REDIS_SERVER, *_node_args(port, folder)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port in ports:
            _wait(lambda p=port: _cli(p, "ping") == "PONG", f"redis-server on {port}")
        nodes = [f"127.0.0.1:{p}" for p in ports]
        subprocess.run(
            [REDIS_CLI, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        for port in ports:
            _wait(lambda p=port: "cluster_state:ok" in _cli(p, "cluster", "info"), "cluster ok")
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _cli(port: int, *args: str) -> str:
    assert REDIS_CLI is not None
    done = subprocess.run(
        [REDIS_CLI, "-p", str(port), *args], capture_output=True, text=True, timeout=10
    )
    return done.stdout.strip()


def _wait(ready: object, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if ready():  # type: ignore[operator]
                return
        except (OSError, subprocess.SubprocessError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout_s:.0f} s")


@pytest.fixture
async def cluster(cluster_ports: list[int]) -> AsyncIterator[RedisCluster]:
    client = RedisCluster(host="127.0.0.1", port=cluster_ports[0])
    await client.initialize()
    yield client
    await client.flushall()  # the test's own cluster: nothing else lives there
    await client.aclose()


async def test_the_stream_spreads_over_the_nodes_and_works(cluster: RedisCluster) -> None:
    stream = PositionStream(cluster, "sb:", partitions=8)  # type: ignore[arg-type]
    slots = {cluster.keyslot(key) for key in stream.keys}
    nodes = {cluster.nodes_manager.get_node_from_slot(s).name for s in slots}
    assert len(slots) == 8
    assert len(nodes) == 3, "partitions should spread over the nodes"
    for key, last in zip(stream.keys, stream.last_keys, strict=True):
        assert cluster.keyslot(key) == cluster.keyslot(last)  # one script touches both
    await stream.ensure_group()
    pings = [Ping(f"bus{v}", T0 + i, -16.9, 145.7) for v in range(20) for i in range(5)]
    first = await stream.publish(pings, source="test")
    again = await stream.publish(pings[:10], source="test")
    assert (first.accepted, again.duplicate, again.out_of_order) == (100, 2, 8)
    entries = await stream.read("c1", list(range(8)), count=1000, block_ms=100)
    assert len(entries) == 100
    assert {e.ping.vehicle_id for e in entries if e.ping} == {f"bus{v}" for v in range(20)}
    # a dead consumer's entries are claimed by another, per partition
    taken = await stream.reclaim("c2", list(range(8)), min_idle_ms=0, count=1000)
    assert len(taken) == 100
    assert await stream.ack(taken) == 100
    assert await stream.pending() == 0
    assert await stream.read("c2", list(range(8)), count=10, block_ms=50) == []


async def test_live_state_and_its_fence_in_one_slot(cluster: RedisCluster) -> None:
    live = LiveState(cluster, "sb:")  # type: ignore[arg-type]
    assert len({cluster.keyslot(k) for k in (live.vehicles_key, live.stop_key("s1"))}) == 1
    state = VehicleState("v1", T0, -16.9, 145.7, trip_id="T", next_stop_sequence=2)
    preds = tuple(
        Prediction(T0, "v1", "T", "R", f"S{q}", q, T0 + 60 * q, T0 + 50 * q, T0 + 70 * q)
        for q in (2, 3)
    )
    events = await live.put_many([TrackerOutput(state=state, predictions=preds)], fence=Fence(0, 5))
    assert events == 2  # the trip's arrivals and the vehicle
    assert [p.stop_id for p in await live.stop_predictions("S2")] == ["S2"]
    assert [p.stop_sequence for p in await live.trip_predictions("T")] == [2, 3]
    assert (await live.vehicle("v1")) == state
    with pytest.raises(FencedOffError):
        await live.put_states([state], fence=Fence(0, 4))
    assert await live.prune_vehicles(T0 + 1) == 1
    assert await live.vehicle_count() == 0


async def test_leases_on_the_cluster(cluster: RedisCluster) -> None:
    a = PartitionLeases(cluster, "sb:", "a", 4)  # type: ignore[arg-type]
    b = PartitionLeases(cluster, "sb:", "b", 4)  # type: ignore[arg-type]
    await a.tick()
    await b.tick()
    state = await a.tick()
    await a.release(state.surplus)
    await b.tick()
    assert set(a.owned()).isdisjoint(b.owned())
    assert len(a.owned()) + len(b.owned()) == 4
    await a.leave()
    assert set((await b.tick()).tokens) == {0, 1, 2, 3}


async def test_the_service_runs_on_a_cluster_with_only_its_url_changed(
    cluster_ports: list[int], settings: Settings, aiohttp_client: ClientFactory
) -> None:
    """``REDIS_URL=redis+cluster://`` one node: pushed pings go through the stream to the
    tracker, the live state answers the API, and the WebSocket gets the events over the
    cluster's pub/sub."""
    url = f"redis+cluster://127.0.0.1:{cluster_ports[0]}"
    assert Settings.from_env({"REDIS_URL": url}).redis_url == url
    client = await aiohttp_client(create_app(settings.with_(redis_url=url)))
    assert (await client.get("/readyz")).status == 200
    ws = await client.ws_connect("/ws")
    await ws.send_json({"subscribe": {"vehicles": ["cluster-bus"]}})
    assert (await ws.receive_json(timeout=10))["type"] == "subscribed"
    _, token = await create_key(client.app[keys.PG_POOL], "cluster", "ingest")
    body = encode_vehicle_positions([Ping("cluster-bus", time.time() - 5, -16.92, 145.77)])
    r = await client.post(
        "/api/v1/positions",
        data=body,
        headers={"Content-Type": "application/x-protobuf", "X-API-Key": token},
    )
    assert r.status == 202, await r.text()
    for _ in range(100):
        r = await client.get("/api/v1/vehicles/cluster-bus")
        if r.status == 200:
            break
        await asyncio.sleep(0.1)
    assert r.status == 200, await r.text()
    while (event := await ws.receive_json(timeout=10))["type"] == "heartbeat":
        pass
    assert event["type"] == "vehicle"
    assert event["vehicle"]["vehicle_id"] == "cluster-bus"
    await ws.close()
