"""Live state in Redis: each vehicle's latest state, each stop's upcoming arrivals, and events.

Keys (all under the configured prefix, then the hash tag ``{live}``: one Redis Cluster slot,
so that the scripts below may touch several of them):

* ``vehicles``: hash ``vehicle_id -> VehicleState JSON``; ``vehicles:seen`` a sorted set of
  the same ids scored by their last timestamp, so vehicles gone for hours can be pruned;
* ``stop:{stop_id}``: hash ``"{trip_id}|{stop_sequence}" -> Prediction JSON`` (expires
  ``ttl_s`` after its last write);
* ``trip:{trip_id}``: hash ``"{stop_sequence}|{stop_id}" -> Prediction JSON`` (same TTL).

* ``fence``: hash ``partition -> the newest lease token that wrote`` (``feeds.leases``).

Predictions of stops a vehicle has passed (``stop_sequence < next_stop_sequence``) and of
withdrawn trips are removed from both, atomically, by one Lua script per trip. A tracker's
writes carry its partition's lease token (:class:`Fence`); each script refuses them, writing and
publishing nothing, once a newer token of that partition has written (:class:`FencedOffError`).

Pub/sub channel ``{prefix}updates`` carries one JSON object per change::

    {"type": "vehicle", "vehicle": {...VehicleState...}}
    {"type": "arrivals", "vehicle_id": "...", "trip_id": "...", "predictions": [{...}, ...]}
    {"type": "withdrawn", "vehicle_id": "...", "trip_id": "..."}

Every record and event is written with the wire's one codec (``feeds.json_wire``); an event
embeds the records' stored JSON as it is, so a record taken out of a decoded event encodes to
the bytes its hash holds. :func:`to_json` and :func:`from_json` convert the records to and from
those JSON objects, :func:`record_json` gives a record's stored bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from operator import attrgetter
from typing import Any, NamedTuple, TypeVar

import redis.asyncio as aioredis

from feeds.json_wire import Raw, decode, decoder_of, encode
from feeds.redis_store import ScriptCall, run_scripts
from predictor.events import (
    Flag,
    Prediction,
    Rejection,
    SegmentTraversal,
    StopVisit,
    TrackerOutput,
    VehicleState,
)
from transit.pings import Occupancy, Ping

__all__ = [
    "Fence",
    "FencedOffError",
    "LiveState",
    "arrivals_event",
    "decode_prediction",
    "from_json",
    "record_json",
    "to_json",
    "vehicle_event",
]

T = TypeVar("T")
_FIELDS: dict[type, tuple[str, ...]] = {
    cls: cls.__struct_fields__
    for cls in (VehicleState, Prediction, StopVisit, SegmentTraversal, Rejection, Ping)
}
_GETTERS = {cls: attrgetter(*names) for cls, names in _FIELDS.items()}
_WITHDRAW_ALL = 2**31 - 1
#: A stored prediction record read straight into its struct (every field is plain JSON).
_PREDICTION = decoder_of(Prediction)

#: Lua: refuse the write when the partition's fence holds a newer token than ours (a tracker
#: that lost its lease), else raise the fence to ours. ``part`` '' writes unfenced.
_FENCE_LUA = """
local function fenced(fence_key, part, token)
  if part == '' then return false end
  local t = tonumber(token)
  local f = tonumber(redis.call('HGET', fence_key, part) or '0')
  if t < f then return true end
  if t > f then redis.call('HSET', fence_key, part, token) end
  return false
end
"""

_APPLY_TRIP_LUA = (
    _FENCE_LUA
    + """
local tk = KEYS[1]
if fenced(KEYS[2], ARGV[5], ARGV[6]) then return -1 end
local prefix = ARGV[1]
local ttl = ARGV[2]
local trip = ARGV[3]
local below = tonumber(ARGV[4])
if below >= 0 then
  local old = redis.call('HKEYS', tk)
  for _, f in ipairs(old) do
    local bar = string.find(f, '|', 1, true)
    local seq = string.sub(f, 1, bar - 1)
    if tonumber(seq) < below then
      redis.call('HDEL', prefix .. 'stop:' .. string.sub(f, bar + 1), trip .. '|' .. seq)
      redis.call('HDEL', tk, f)
    end
  end
end
for i = 9, #ARGV, 3 do
  local sk = prefix .. 'stop:' .. ARGV[i]
  redis.call('HSET', sk, trip .. '|' .. ARGV[i + 1], ARGV[i + 2])
  redis.call('EXPIRE', sk, ttl)
  redis.call('HSET', tk, ARGV[i + 1] .. '|' .. ARGV[i], ARGV[i + 2])
end
if #ARGV >= 9 then redis.call('EXPIRE', tk, ttl) end
if ARGV[8] ~= '' then redis.call('PUBLISH', ARGV[7], ARGV[8]) end
return 0
"""
)

_PUT_VEHICLES_LUA = (
    _FENCE_LUA
    + """
if fenced(KEYS[3], ARGV[1], ARGV[2]) then return -1 end
local channel = ARGV[3]
for i = 4, #ARGV, 4 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
  redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i])
  redis.call('PUBLISH', channel, ARGV[i + 3])
end
return 0
"""
)


class Fence(NamedTuple):
    """The partition a batch of writes belongs to and its owner's lease token
    (``feeds.leases``): Redis refuses the writes once a newer token has written."""

    partition: int
    token: int


class FencedOffError(Exception):
    """A live-state write was refused: a newer owner of the partition has written since."""


def to_json(obj: object) -> dict[str, Any]:
    """A JSON-ready dict of a tracker record (VehicleState, Prediction, StopVisit, ...).

    Flags become a sorted list of their values, occupancy the GTFS-RT enum name.
    """
    cls = type(obj)
    getter = _GETTERS.get(cls)
    if getter is None:
        raise TypeError(f"cannot convert {cls.__name__} to JSON")
    out = dict(zip(_FIELDS[cls], getter(obj), strict=True))
    if cls is Prediction:  # the hot path: every field is already plain
        return out
    if cls is VehicleState:
        out["flags"] = sorted(f.value for f in out["flags"])
        if out["occupancy"] is not None:
            out["occupancy"] = out["occupancy"].name
        return out
    for name, value in out.items():
        if isinstance(value, frozenset):
            out[name] = sorted(str(v) for v in value)
        elif isinstance(value, Occupancy):
            out[name] = value.name
        elif isinstance(value, StrEnum):  # RejectReason
            out[name] = value.value
    return out


def from_json(cls: type[T], data: Mapping[str, Any]) -> T:
    """Rebuild a record of type ``cls`` from :func:`to_json`'s dict; unknown keys are ignored."""
    names = _FIELDS.get(cls)
    if names is None:
        raise TypeError(f"cannot build {cls.__name__} from JSON")
    kwargs = {name: data[name] for name in names if name in data}
    if "flags" in kwargs:
        kwargs["flags"] = frozenset(Flag(f) for f in kwargs["flags"])
    occupancy = kwargs.get("occupancy")
    if isinstance(occupancy, str):
        kwargs["occupancy"] = Occupancy[occupancy]
    elif isinstance(occupancy, int):
        kwargs["occupancy"] = Occupancy(occupancy)
    return cls(**kwargs)


def record_json(obj: object) -> bytes:
    """A tracker record's JSON as the live state stores it: :func:`to_json`, encoded.

    Examples
    --------
    >>> from predictor.events import Prediction
    >>> record_json(Prediction(1.0, "v1", "t1", "r1", "s1", 2, 60.0, 50.0, 75.5))[:48]
    b'{"issued_at":1.0,"vehicle_id":"v1","trip_id":"t1'
    """
    if type(obj) is Prediction:  # every field is plain: the struct encodes as to_json's dict
        return encode(obj)
    return encode(to_json(obj))


def decode_prediction(body: bytes | str) -> Prediction:
    """A prediction record as stored (:func:`record_json`); ``feeds.json_wire.DecodeError``
    (a ValueError) when it is not one."""
    return _PREDICTION.decode(body)


def arrivals_event(vehicle_id: str, trip_id: str, bodies: list[bytes]) -> bytes:
    """The ``arrivals`` event of a trip's predictions, whose stored JSON is ``bodies``.

    Examples
    --------
    >>> arrivals_event("v1", "t1", [b'{"stop_sequence":2}'])
    b'{"type":"arrivals","vehicle_id":"v1","trip_id":"t1","predictions":[{"stop_sequence":2}]}'
    """
    return encode(
        {
            "type": "arrivals",
            "vehicle_id": vehicle_id,
            "trip_id": trip_id,
            "predictions": [Raw(b) for b in bodies],
        }
    )


def vehicle_event(body: bytes) -> bytes:
    """The ``vehicle`` event of a vehicle state whose stored JSON is ``body``."""
    return encode({"type": "vehicle", "vehicle": Raw(body)})


class LiveState:
    """Read and write the live state of the fleet in Redis (see the module docstring)."""

    def __init__(self, redis: aioredis.Redis, prefix: str, *, ttl_s: int = 3 * 3600) -> None:
        self.redis = redis
        self.prefix = f"{prefix}{{live}}:"  # every key of the live state, in one slot
        self.ttl_s = ttl_s
        self.channel = f"{prefix}updates"
        self._vehicles = f"{self.prefix}vehicles"
        self._seen = f"{self.prefix}vehicles:seen"
        self._fence = f"{self.prefix}fence"
        self._apply_trip = redis.register_script(_APPLY_TRIP_LUA)
        self._put_vehicles = redis.register_script(_PUT_VEHICLES_LUA)

    # ----- key layout (readers that batch their own Redis calls use these) ----------------
    def stop_key(self, stop_id: str) -> str:
        """The hash of a stop's upcoming arrivals."""
        return f"{self.prefix}stop:{stop_id}"

    def trip_key(self, trip_id: str) -> str:
        """The hash of a trip's predictions."""
        return f"{self.prefix}trip:{trip_id}"

    @property
    def vehicles_key(self) -> str:
        """The hash of every vehicle's latest state."""
        return self._vehicles

    # ----- writes -------------------------------------------------------------------------
    async def put(self, output: TrackerOutput) -> None:
        """Store what one tracker output changed and publish it."""
        await self.put_many([output])

    async def put_many(
        self, outputs: Iterable[TrackerOutput], *, fence: Fence | None = None
    ) -> int:
        """Store many outputs in one pipelined round trip; returns the events published.

        Outputs are coalesced first: a vehicle's last state wins, a trip's predictions are
        merged by stop (last wins) and cut at the vehicle's last ``next_stop_sequence``, so a
        batch costs one write per vehicle and per trip however many pings it held. With a
        ``fence``, :class:`FencedOffError` is raised (and nothing of it written) when a newer owner
        of the partition has written.
        """
        refused, events = await self.put_fenced({fence: outputs})
        if refused:
            assert fence is not None
            raise FencedOffError(
                f"partition {fence.partition}: a newer owner than token {fence.token} has written"
            )
        return events

    async def put_fenced(
        self, groups: Mapping[Fence | None, Iterable[TrackerOutput]]
    ) -> tuple[set[Fence], int]:
        """:meth:`put_many` of several partitions' outputs, each under its fence, in one round
        trip; returns the fences refused (their writes did nothing) and the events published."""
        calls: list[ScriptCall] = []
        owners: list[Fence | None] = []
        events = 0
        for fence, outputs in groups.items():
            mine, n = self._calls(outputs, fence)
            calls += mine
            owners += [fence] * len(mine)
            events += n
        replies = await run_scripts(self.redis, calls)
        refused = {f for f, r in zip(owners, replies, strict=True) if r == -1 and f is not None}
        return refused, events

    def _calls(
        self, outputs: Iterable[TrackerOutput], fence: Fence | None
    ) -> tuple[list[ScriptCall], int]:
        """The script calls writing ``outputs`` (coalesced, see :meth:`put_many`), and the
        events they publish."""
        part, token = ("", 0) if fence is None else (str(fence.partition), fence.token)
        states: dict[str, VehicleState] = {}
        preds: dict[str, dict[int, Prediction]] = {}
        below: dict[str, int] = {}
        withdrawn: dict[str, str] = {}  # trip -> vehicle
        for out in outputs:
            state = out.state
            if out.withdrawn_trip:
                trip = out.withdrawn_trip
                withdrawn[trip] = state.vehicle_id if state is not None else ""
                preds.pop(trip, None)
                below.pop(trip, None)
            for p in out.predictions:
                preds.setdefault(p.trip_id, {})[p.stop_sequence] = p
            if state is not None:
                states[state.vehicle_id] = state
                if (
                    state.trip_id
                    and state.next_stop_sequence is not None
                    and (state.trip_id != out.withdrawn_trip or out.predictions)
                ):
                    below[state.trip_id] = state.next_stop_sequence
        events = 0
        calls: list[ScriptCall] = []
        for trip, vehicle_id in withdrawn.items():
            event = encode({"type": "withdrawn", "vehicle_id": vehicle_id, "trip_id": trip})
            wargs: list[Any] = [self.channel, event]
            calls.append(
                (
                    self._apply_trip,
                    [self.trip_key(trip), self._fence],
                    [self.prefix, self.ttl_s, trip, _WITHDRAW_ALL, part, token, *wargs],
                )
            )
            events += 1
        for trip in preds.keys() | below.keys():
            cut = below.get(trip, -1)
            kept = sorted(
                (p for p in preds.get(trip, {}).values() if p.stop_sequence >= cut),
                key=lambda p: p.stop_sequence,
            )
            bodies = [encode(p) for p in kept]  # record_json of a Prediction
            event = arrivals_event(kept[0].vehicle_id, trip, bodies) if kept else b""
            args: list[Any] = [self.prefix, self.ttl_s, trip, cut, part, token]
            args += [self.channel, event]
            for p, body in zip(kept, bodies, strict=True):
                args += [p.stop_id, p.stop_sequence, body]
            calls.append((self._apply_trip, [self.trip_key(trip), self._fence], args))
            events += bool(kept)
        if states:
            vargs: list[Any] = [part, token, self.channel]
            for v, s in states.items():
                body = record_json(s)
                vargs += [v, repr(s.timestamp), body, vehicle_event(body)]
            calls.append((self._put_vehicles, [self._vehicles, self._seen, self._fence], vargs))
            events += len(states)
        return calls, events

    async def put_states(
        self, states: Iterable[VehicleState], *, fence: Fence | None = None
    ) -> int:
        """Store states re-flagged by a sweep; withdraw predictions of stale vehicles' trips."""
        outputs = [
            TrackerOutput(state=s, withdrawn_trip=s.trip_id if Flag.STALE in s.flags else None)
            for s in states
        ]
        return await self.put_many(outputs, fence=fence)

    async def prune_vehicles(self, older_than: float) -> int:
        """Forget vehicles whose last state is older than ``older_than`` (POSIX seconds)."""
        ids = await self.redis.zrangebyscore(self._seen, "-inf", older_than)
        if not ids:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hdel(self._vehicles, *ids)
            pipe.zrem(self._seen, *ids)
            await pipe.execute()
        return len(ids)

    # ----- reads --------------------------------------------------------------------------
    async def vehicles(self) -> list[VehicleState]:
        """Every vehicle's latest state, ordered by vehicle id."""
        raw = await self.redis.hgetall(self._vehicles)
        states = [from_json(VehicleState, decode(v)) for v in raw.values()]
        return sorted(states, key=lambda s: s.vehicle_id)

    async def vehicle(self, vehicle_id: str) -> VehicleState | None:
        """One vehicle's latest state, or None when unknown."""
        raw = await self.redis.hget(self._vehicles, vehicle_id)
        return None if raw is None else from_json(VehicleState, decode(raw))

    async def vehicle_count(self) -> int:
        """How many vehicles have a live state."""
        return int(await self.redis.hlen(self._vehicles))

    async def stop_predictions(self, stop_id: str) -> list[Prediction]:
        """Upcoming arrivals at a stop, soonest first."""
        raw = await self.redis.hgetall(self.stop_key(stop_id))
        preds = [_PREDICTION.decode(v) for v in raw.values()]
        return sorted(preds, key=lambda p: (p.predicted, p.trip_id))

    async def trip_predictions(self, trip_id: str) -> list[Prediction]:
        """Predicted arrivals at the remaining stops of a trip, in stop order."""
        raw = await self.redis.hgetall(self.trip_key(trip_id))
        preds = [_PREDICTION.decode(v) for v in raw.values()]
        return sorted(preds, key=lambda p: p.stop_sequence)
