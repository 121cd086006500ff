"""Which tracker owns which partition of the positions stream: Redis leases with fencing tokens.

Theory of operation
-------------------
Every tracker process is a *member*: it calls :meth:`PartitionLeases.tick` every
``heartbeat_s`` seconds, and one Lua script, atomically and on Redis's own clock (``TIME``):

1. renews its membership in the sorted set ``members`` (scored by expiry) and drops members
   whose heartbeat expired, so a dead tracker leaves within ``ttl_s``;
2. computes the fair share ``ceil(P / N)`` of the ``P`` partitions among the ``N`` live members;
3. renews the leases it holds (``lease:{k}`` = ``"member token"``, expiring after ``ttl_s``) and
   reports those beyond its share as *surplus*: the tracker finishes what it has in flight on
   them, then :meth:`release` s them, so that a joining member can take them;
4. takes free partitions up to its share, each with a new fencing token (``INCR tokens``, so
   tokens only grow).

A lease is held locally for ``ttl_s * SAFETY`` after the tick that renewed it was *sent*
(:attr:`PartitionLeases.valid_until`, on the injected monotonic clock): Redis starts the key's
TTL later than that, so a tracker stops considering a partition its own before Redis lets anyone
else take it. A tracker that cannot renew (Redis down, a long pause) stops writing on its own;
and as a second line, every live-state write carries the partition's token and Redis refuses it
when a newer one has written (``feeds.live_state``), so a stale owner can never overwrite the
new owner's predictions. A dead tracker's partitions are free ``ttl_s`` after its last renewal
and taken at the next tick of a survivor: within ``ttl_s + heartbeat_s``.

Every key shares the hash tag ``{leases}`` (one Redis Cluster slot: the script is atomic).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import redis.asyncio as aioredis

__all__ = ["LeaseState", "PartitionLeases", "lease_keys"]

log = logging.getLogger(__name__)

#: The share of the TTL a lease is trusted locally after the renewal was sent.
SAFETY = 0.8

_TICK_LUA = """
local members, tokens = KEYS[1], KEYS[2]
local me, parts, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local lease_prefix = ARGV[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', members, now + ttl, me)
redis.call('ZREMRANGEBYSCORE', members, '-inf', now)
redis.call('PEXPIRE', members, ttl * 10)
local n = redis.call('ZCARD', members)
local share = math.ceil(parts / n)
local held, free = {}, {}
for k = 0, parts - 1 do
  local key = lease_prefix .. k
  local v = redis.call('GET', key)
  if not v then
    free[#free + 1] = k
  else
    local sp = string.find(v, ' ', 1, true)
    if string.sub(v, 1, sp - 1) == me then
      redis.call('PEXPIRE', key, ttl)
      held[#held + 1] = {k, tonumber(string.sub(v, sp + 1))}
    end
  end
end
local out = {n, share}
local kept = 0
for _, h in ipairs(held) do
  kept = kept + 1
  local surplus = 0
  if kept > share then surplus = 1 end
  out[#out + 1] = h[1]; out[#out + 1] = h[2]; out[#out + 1] = surplus
end
for _, k in ipairs(free) do
  if kept >= share then break end
  local token = redis.call('INCR', tokens)
  redis.call('SET', lease_prefix .. k, me .. ' ' .. token, 'PX', ttl)
  kept = kept + 1
  out[#out + 1] = k; out[#out + 1] = token; out[#out + 1] = 0
end
return out
"""

_RELEASE_LUA = """
local me = ARGV[1]
local n = 0
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v and string.sub(v, 1, #me + 1) == me .. ' ' then
    redis.call('DEL', KEYS[i]); n = n + 1
  end
end
return n
"""

_LEAVE_LUA = """
redis.call('ZREM', KEYS[1], ARGV[1])
return 0
"""


def lease_keys(prefix: str) -> tuple[str, str, str]:
    """``(members, tokens, lease key prefix)`` under ``prefix``, all in the ``{leases}`` slot."""
    base = f"{prefix}{{leases}}:"
    return base + "members", base + "tokens", base + "lease:"


@dataclass(slots=True)
class LeaseState:
    """What the last tick said: partition -> token held, the surplus to hand back, the members
    alive and the fair share."""

    tokens: dict[int, int] = field(default_factory=dict)
    surplus: set[int] = field(default_factory=set)
    members: int = 0
    share: int = 0


class PartitionLeases:
    """One tracker's leases on the partitions of the stream (see the module docstring).

    Parameters
    ----------
    redis, prefix
        The client and ``SMARTBUS_REDIS_PREFIX``.
    member
        This tracker's unique name (host and pid).
    partitions
        ``SMARTBUS_STREAM_PARTITIONS``.
    ttl_s, heartbeat_s
        How long a lease and a membership last without renewal, and how often to renew.
    monotonic
        The clock lease validity is measured on (durations only; tests drive it).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        member: str,
        partitions: int,
        *,
        ttl_s: float = 6.0,
        heartbeat_s: float = 1.5,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if partitions < 1:
            raise ValueError(f"partitions must be at least 1, not {partitions}")
        if not 0 < heartbeat_s < ttl_s * SAFETY:
            raise ValueError(f"heartbeat {heartbeat_s} s must be well under the TTL {ttl_s} s")
        if " " in member:
            raise ValueError(f"member name {member!r} must not hold a space")
        self.redis = redis
        self.member = member
        self.partitions = partitions
        self.ttl_ms = int(ttl_s * 1000)
        self.ttl_s = ttl_s
        self.heartbeat_s = heartbeat_s
        self.monotonic = monotonic
        self.members_key, self.tokens_key, self.lease_prefix = lease_keys(prefix)
        self.state = LeaseState()
        #: monotonic time until which the leases of the last successful tick may be trusted
        self.valid_until = -math.inf
        self._tick = redis.register_script(_TICK_LUA)
        self._release = redis.register_script(_RELEASE_LUA)
        self._leave = redis.register_script(_LEAVE_LUA)

    @property
    def valid(self) -> bool:
        """Whether the leases of the last tick are still ours (on the monotonic clock)."""
        return self.monotonic() < self.valid_until

    def owned(self) -> dict[int, int]:
        """Partition -> fencing token of the leases held now; empty once they may have lapsed."""
        return dict(self.state.tokens) if self.valid else {}

    async def tick(self) -> LeaseState:
        """Heartbeat, renew, take free partitions up to the fair share (see the module
        docstring). A Redis error propagates; the leases then lapse locally on their own."""
        sent = self.monotonic()
        reply = await self._tick(
            keys=[self.members_key, self.tokens_key],
            args=[self.member, self.partitions, self.ttl_ms, self.lease_prefix],
        )
        values = [int(v) for v in reply]
        state = LeaseState(members=values[0], share=values[1])
        for i in range(2, len(values), 3):
            k, token, surplus = values[i : i + 3]
            state.tokens[k] = token
            if surplus:
                state.surplus.add(k)
        gained = state.tokens.keys() - self.state.tokens.keys()
        if gained:
            log.info(
                "partitions leased",
                extra={"member": self.member, "partitions": sorted(gained), "share": state.share},
            )
        self.state = state
        self.valid_until = sent + self.ttl_s * SAFETY
        return state

    async def release(self, partitions: Iterable[int]) -> int:
        """Hand back leases (once nothing of theirs is in flight); returns how many were ours."""
        partitions = sorted(partitions)
        if not partitions:
            return 0
        keys = [f"{self.lease_prefix}{k}" for k in partitions]
        n = int(await self._release(keys=keys, args=[self.member]))
        for k in partitions:
            self.state.tokens.pop(k, None)
            self.state.surplus.discard(k)
        log.info(
            "partitions released", extra={"member": self.member, "partitions": sorted(partitions)}
        )
        return n

    async def leave(self) -> None:
        """Release every lease and leave the members (a clean stop: the others take over at
        their next tick)."""
        await self.release(list(self.state.tokens))
        await self._leave(keys=[self.members_key], args=[self.member])
        self.valid_until = -math.inf
