"""The Redis Stream of positions between every source and the tracker workers.

Theory of operation
-------------------
Producers append each :class:`~transit.pings.Ping` to ``{prefix}{positions}`` (or, with
``partitions > 1``, to ``{prefix}{positions:k}`` where ``k = crc32(vehicle_id) % partitions``),
trimmed with ``MAXLEN ~``. A vehicle therefore always lands in the same partition, and a
partition is read by exactly one tracker at a time, the holder of its lease (``feeds.leases``):
a vehicle's pings reach one tracker, in order.

Duplicates are dropped at the door: one Lua script per partition of a batch (pipelined: one
round trip) compares each ping's timestamp with the vehicle's last accepted one (the hash
``<stream>:last`` beside the partition's stream, expiring after a day without traffic) and
appends only newer pings, atomically. Each partition's two keys share a hash tag, so each
partition is a Redis Cluster slot of its own and partitions spread over the cluster's nodes.

Consumers read batches with ``XREADGROUP`` and acknowledge them only after the caller has made
them durable. Entries a crashed consumer left pending are taken over with ``XAUTOCLAIM`` once
they have been idle longer than ``min_idle_ms``. Delivery is at least once.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from feeds.json_wire import decode, encode
from feeds.redis_store import ScriptCall, run_scripts
from transit.pings import Occupancy, Ping

__all__ = ["Entry", "PositionStream", "PublishResult", "decode_ping", "encode_ping"]

log = logging.getLogger(__name__)

GROUP = "trackers"
#: How often a consumer on a Redis Cluster looks at its partitions while they are empty.
CLUSTER_POLL_S = 0.05
_CHUNK = 1000

# One argument per ping, "timestamp \x1f payload \x1f vehicle_id": the payload is JSON
# (feeds.json_wire escapes control characters) so only the vehicle id, last, may hold a
# separator.
_PUBLISH_LUA = r"""
local out = {}
local last_key, stream = KEYS[1], KEYS[2]
local maxlen = ARGV[1]
for i = 3, #ARGV do
  local arg = ARGV[i]
  local a = string.find(arg, '\31', 1, true)
  local b = string.find(arg, '\31', a + 1, true)
  local ts_text = string.sub(arg, 1, a - 1)
  local ts = tonumber(ts_text)
  local vid = string.sub(arg, b + 1)
  local last = redis.call('HGET', last_key, vid)
  if last and tonumber(last) >= ts then
    if tonumber(last) == ts then out[#out + 1] = 1 else out[#out + 1] = 2 end
  else
    redis.call('HSET', last_key, vid, ts_text)
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'p', string.sub(arg, a + 1, b - 1))
    out[#out + 1] = 0
  end
end
redis.call('EXPIRE', last_key, ARGV[2])
return out
"""

_ACK_LUA = """
local n = redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2))
redis.call('XDEL', KEYS[1], unpack(ARGV, 2))
return n
"""


def encode_ping(ping: Ping, source: str = "") -> bytes:
    """The compact JSON array a ping (and the name of its source) travels as on the stream."""
    return encode(
        [
            ping.vehicle_id,
            ping.timestamp,
            ping.lat,
            ping.lon,
            ping.trip_id,
            ping.route_id,
            ping.direction_id,
            ping.start_date,
            ping.start_time,
            ping.bearing,
            ping.speed,
            None if ping.occupancy is None else int(ping.occupancy),
            ping.occupancy_percent,
            ping.label,
            source,
        ]
    )


def decode_ping(payload: str | bytes) -> tuple[Ping, str]:
    """Inverse of :func:`encode_ping`: the ping and its source; ValueError on anything else."""
    try:
        v = decode(payload)
        occupancy = None if v[11] is None else Occupancy(v[11])
        source = str(v[14]) if len(v) > 14 and v[14] else ""
        ping = Ping(
            str(v[0]),
            float(v[1]),
            float(v[2]),
            float(v[3]),
            v[4],
            v[5],
            v[6],
            v[7],
            v[8],
            v[9],
            v[10],
            occupancy,
            v[12],
            v[13],
        )
    except (TypeError, IndexError, KeyError, ValueError) as exc:
        raise ValueError(f"not an encoded ping: {exc}") from exc
    return ping, source


@dataclass(frozen=True, slots=True)
class Entry:
    """One stream entry as a consumer sees it. ``ping`` is None when the payload was garbage."""

    stream: str
    entry_id: str
    ping: Ping | None
    source: str = ""


@dataclass(slots=True)
class PublishResult:
    """How many pings of a publish call went on the stream, and how many were dropped."""

    accepted: int = 0
    duplicate: int = 0
    out_of_order: int = 0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class PositionStream:
    """Producer and consumer side of the positions stream (see the module docstring)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        *,
        partitions: int = 1,
        maxlen: int = 2_000_000,
        dedupe_ttl_s: int = 86_400,
        group: str = GROUP,
    ) -> None:
        if partitions < 1:
            raise ValueError(f"partitions must be at least 1, not {partitions}")
        self.redis = redis
        self.prefix = prefix
        self.partitions = partitions
        self.maxlen = maxlen
        self.dedupe_ttl_s = dedupe_ttl_s
        self.group = group
        self.keys = (
            [f"{prefix}{{positions}}"]
            if partitions == 1
            else [f"{prefix}{{positions:{k}}}" for k in range(partitions)]
        )
        self.last_keys = [f"{key}:last" for key in self.keys]
        self._publish = redis.register_script(_PUBLISH_LUA)
        self._ack = redis.register_script(_ACK_LUA)
        # a Redis Cluster client (redis.asyncio.cluster.RedisCluster) routes by slot
        self._cluster = hasattr(redis, "nodes_manager")

    # ----- producer -------------------------------------------------------------------------
    def partition_of(self, vehicle_id: str) -> int:
        """The partition a vehicle's pings go to (stable across processes)."""
        if self.partitions == 1:
            return 0
        return zlib.crc32(vehicle_id.encode()) % self.partitions

    async def publish(self, pings: Sequence[Ping], *, source: str = "") -> PublishResult:
        """Append pings newer than their vehicle's last; count the duplicates dropped.

        ``source`` (say ``"push"``, ``"poll:<host>"``, ``"sim"``) is kept with each ping and
        ends up in the ``positions.source`` column.
        """
        result = PublishResult()
        by_partition: dict[int, list[bytes]] = {}
        for ping in pings:
            by_partition.setdefault(self.partition_of(ping.vehicle_id), []).append(
                b"\x1f".join(
                    (
                        repr(ping.timestamp).encode(),
                        encode_ping(ping, source),
                        ping.vehicle_id.encode(),
                    )
                )
            )
        if not by_partition:
            return result
        calls: list[ScriptCall] = [
            (
                self._publish,
                [self.last_keys[k], self.keys[k]],
                [self.maxlen, self.dedupe_ttl_s, *items[start : start + _CHUNK]],
            )
            for k, items in by_partition.items()
            for start in range(0, len(items), _CHUNK)
        ]
        replies = await run_scripts(self.redis, calls)
        for codes in replies:
            for code in codes:
                if code == 0:
                    result.accepted += 1
                elif code == 1:
                    result.duplicate += 1
                else:
                    result.out_of_order += 1
        return result

    # ----- consumer -------------------------------------------------------------------------
    def partitions_for(self, index: int, count: int) -> list[int]:
        """Partitions read by consumer ``index`` of ``count``."""
        if not 0 <= index < count:
            raise ValueError(f"consumer index {index} not in 0..{count - 1}")
        return [k for k in range(self.partitions) if k % count == index]

    async def ensure_group(self) -> None:
        """Create the consumer group on every partition (and the streams) if missing."""
        for key in self.keys:
            try:
                await self.redis.xgroup_create(key, self.group, id="0", mkstream=True)
            except aioredis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def forget_idle_consumers(self, *, idle_ms: int = 3_600_000) -> int:
        """Remove consumers (of restarted workers) idle for ``idle_ms`` with nothing pending."""
        removed = 0
        for key in self.keys:
            try:
                consumers = await self.redis.xinfo_consumers(key, self.group)
            except aioredis.ResponseError:
                continue
            for c in consumers:
                if int(c["pending"]) == 0 and int(c["idle"]) >= idle_ms:
                    await self.redis.xgroup_delconsumer(key, self.group, c["name"])
                    removed += 1
        return removed

    async def read(
        self, consumer: str, partitions: Sequence[int], *, count: int = 500, block_ms: int = 1000
    ) -> list[Entry]:
        """New entries for ``consumer`` (at most ``count`` per partition); [] after ``block_ms``.

        On a Redis Cluster the partitions live in different slots, which one ``XREADGROUP``
        cannot span: each is read without blocking (pipelined per node), every
        ``CLUSTER_POLL_S`` until something comes or ``block_ms`` is over.
        """
        if self._cluster and len(partitions) > 1:
            return await self._read_cluster(consumer, partitions, count, block_ms)
        streams: dict[Any, Any] = {self.keys[k]: ">" for k in partitions}
        reply = await self.redis.xreadgroup(
            self.group,
            consumer,
            streams,
            count=count,
            block=block_ms,
        )
        return self._replied(reply)

    def _replied(self, reply: Any) -> list[Entry]:
        entries: list[Entry] = []
        if not reply:
            return entries
        items = reply.items() if isinstance(reply, dict) else reply
        for key, messages in items:
            if isinstance(messages, list) and messages and isinstance(messages[0], list):
                messages = messages[0]  # RESP3 shape
            entries += self._entries(_text(key), messages)
        return entries

    async def _read_cluster(
        self, consumer: str, partitions: Sequence[int], count: int, block_ms: int
    ) -> list[Entry]:
        waited = 0.0
        while True:
            async with self.redis.pipeline(transaction=False) as pipe:
                for k in partitions:
                    pipe.xreadgroup(self.group, consumer, {self.keys[k]: ">"}, count=count)
                replies = await pipe.execute()
            entries = [e for reply in replies for e in self._replied(reply)]
            if entries or waited * 1000 >= block_ms:
                return entries
            await asyncio.sleep(CLUSTER_POLL_S)
            waited += CLUSTER_POLL_S

    async def reclaim(
        self,
        consumer: str,
        partitions: Sequence[int],
        *,
        min_idle_ms: int = 30_000,
        count: int = 500,
    ) -> list[Entry]:
        """Take over entries pending longer than ``min_idle_ms`` (a crashed consumer's)."""
        entries: list[Entry] = []
        for k in partitions:
            key = self.keys[k]
            start = "0-0"
            while True:
                reply = await self.redis.xautoclaim(
                    key, self.group, consumer, min_idle_ms, start_id=start, count=count
                )
                start = _text(reply[0])
                entries += self._entries(key, reply[1])
                if start == "0-0" or len(entries) >= count:
                    break
        return entries

    def _entries(self, key: str, messages: Any) -> list[Entry]:
        out: list[Entry] = []
        for entry_id, fields in messages:
            if fields is None:  # deleted by MAXLEN while pending
                continue
            payload = fields.get(b"p", fields.get("p"))
            ping: Ping | None = None
            source = ""
            try:
                if payload is not None:
                    ping, source = decode_ping(payload)
            except ValueError:
                ping = None
            if ping is None:
                log.warning("unreadable stream entry", extra={"stream": key, "id": entry_id})
            out.append(Entry(key, _text(entry_id), ping, source))
        return out

    async def ack(self, entries: Sequence[Entry]) -> int:
        """Acknowledge (and delete) entries once their effects are durable."""
        by_key: dict[str, list[str]] = {}
        for e in entries:
            by_key.setdefault(e.stream, []).append(e.entry_id)
        if not by_key:
            return 0
        acked = 0
        for key, ids in by_key.items():
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                acked += int(await self._ack(keys=[key], args=[self.group, *chunk]))
        return acked

    async def pending(self) -> int:
        """Entries delivered to some consumer and not yet acknowledged, over all partitions."""
        total = 0
        for key in self.keys:
            try:
                info = await self.redis.xpending(key, self.group)
            except aioredis.ResponseError:
                continue
            total += int(info["pending"])
        return total

    async def length(self) -> int:
        """Entries currently held in the stream(s)."""
        total = 0
        for key in self.keys:
            total += int(await self.redis.xlen(key))
        return total
