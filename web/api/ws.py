"""``/ws``: live arrivals and vehicle positions pushed to subscribed clients.

A client sends ``{"subscribe": {"stops": [...], "routes": [...], "vehicles": [...]}}`` (each list
optional, up to ``MAX_IDS`` ids; ``"*"`` in ``routes`` or ``vehicles`` means all) and receives the
matching events of the Redis pub/sub channel ``{prefix}updates`` (see ``feeds.live_state``):
``vehicle`` (a position changed), ``arrivals`` (a trip's predictions changed; a client that only
follows stops receives only the predictions for its stops) and ``withdrawn``. A new subscribe
message replaces the previous subscription; ``{"unsubscribe": true}`` clears it.

The process's one Redis subscriber (``web.rider.updates``) fans events out in memory, so any process
can serve any client. Each client has a bounded queue; a client that cannot keep up is
disconnected (close code 1013, "try again later") rather than allowed to grow the server's
memory. The server sends
``{"type": "heartbeat", "now": ...}`` every ``HEARTBEAT_S`` and WebSocket pings underneath.

Connections are limited per address and per process (``Limits``; 429 or 503 with
``Retry-After`` before the upgrade), and one that follows nothing for ``SMARTBUS_WS_IDLE_S`` is
closed (code 1008).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from feeds.json_wire import decode, encode_text

from .. import keys
from ..infra.problems import ServiceUnavailable, TooManyRequests
from ..rider.updates import Consumer

__all__ = ["MAX_IDS", "Client", "Hub", "Limits", "routes", "ws_service"]

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

MAX_IDS = 1000
QUEUE_SIZE = 256
HEARTBEAT_S = 15.0
_KINDS = ("stops", "routes", "vehicles")


@dataclass(slots=True)
class Limits:
    """How many sockets the process holds, per address and in all, and for how long one that
    follows nothing is kept (it has not subscribed, or has unsubscribed: it costs memory and a
    file descriptor for nothing). A socket whose peer stops answering WebSocket pings is
    closed by aiohttp's heartbeat whatever it follows."""

    max_clients: int = 10_000
    max_per_address: int = 100
    idle_s: float = 60.0


@dataclass(eq=False, slots=True)
class Client:
    """One connected socket, what it follows, and its outgoing queue."""

    ws: web.WebSocketResponse
    address: str = ""
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    stops: frozenset[str] = frozenset()
    routes: frozenset[str] = frozenset()
    vehicles: frozenset[str] = frozenset()
    too_slow: bool = False


@dataclass(slots=True)
class Hub:
    """Clients by what they follow; ``dispatch`` fans one pub/sub message out."""

    clients: set[Client] = field(default_factory=set)
    by_stop: dict[str, set[Client]] = field(default_factory=dict)
    by_route: dict[str, set[Client]] = field(default_factory=dict)
    by_vehicle: dict[str, set[Client]] = field(default_factory=dict)
    all_routes: set[Client] = field(default_factory=set)
    all_vehicles: set[Client] = field(default_factory=set)
    trip_route: dict[str, str] = field(default_factory=dict)
    dropped: int = 0
    events: int = 0
    limits: Limits = field(default_factory=Limits)
    by_address: dict[str, int] = field(default_factory=dict)
    refused: int = 0
    idle_closed: int = 0

    def admit(self, address: str) -> None:
        """Raise when ``address`` (or the process) holds as many sockets as allowed."""
        if len(self.clients) >= self.limits.max_clients:
            self.refused += 1
            raise ServiceUnavailable(
                f"this server holds its maximum of {self.limits.max_clients} live connections;"
                " retry later or on another server",
                headers={"Retry-After": "30"},
            )
        if self.by_address.get(address, 0) >= self.limits.max_per_address:
            self.refused += 1
            raise TooManyRequests(
                f"{address} already holds {self.limits.max_per_address} live connections;"
                " close one first (one connection can follow many stops, routes and vehicles)",
                retry_after_s=30,
            )

    def add(self, client: Client) -> None:
        self.clients.add(client)
        self.by_address[client.address] = self.by_address.get(client.address, 0) + 1

    def remove(self, client: Client) -> None:
        self._unindex(client)
        if client in self.clients:
            self.clients.discard(client)
            left = self.by_address.get(client.address, 1) - 1
            if left > 0:
                self.by_address[client.address] = left
            else:
                self.by_address.pop(client.address, None)

    def _unindex(self, client: Client) -> None:
        for ids, table in (
            (client.stops, self.by_stop),
            (client.routes, self.by_route),
            (client.vehicles, self.by_vehicle),
        ):
            for i in ids:
                members = table.get(i)
                if members is not None:
                    members.discard(client)
                    if not members:
                        del table[i]
        self.all_routes.discard(client)
        self.all_vehicles.discard(client)

    def subscribe(
        self, client: Client, stops: Iterable[str], routes: Iterable[str], vehicles: Iterable[str]
    ) -> None:
        """Replace what ``client`` follows."""
        self._unindex(client)
        client.stops, client.routes, client.vehicles = (
            frozenset(stops),
            frozenset(routes),
            frozenset(vehicles),
        )
        for ids, table, wildcard in (
            (client.stops, self.by_stop, None),
            (client.routes, self.by_route, self.all_routes),
            (client.vehicles, self.by_vehicle, self.all_vehicles),
        ):
            for i in ids:
                if i == "*" and wildcard is not None:
                    wildcard.add(client)
                else:
                    table.setdefault(i, set()).add(client)

    def dispatch(self, data: bytes | str) -> int:
        """Queue one pub/sub message for every client following it; returns clients reached."""
        raw = data.decode() if isinstance(data, bytes) else data
        try:
            event = decode(data)
        except ValueError:
            return 0
        if not isinstance(event, dict):
            return 0
        self.events += 1
        kind = event.get("type")
        whole: set[Client] = set()
        partial: dict[Client, list[dict[str, Any]]] = {}
        if kind == "vehicle":
            v = event.get("vehicle") or {}
            whole |= self.all_vehicles | self.all_routes
            whole |= self.by_vehicle.get(v.get("vehicle_id", ""), set())
            whole |= self.by_route.get(v.get("route_id") or "", set())
        elif kind == "arrivals":
            preds = event.get("predictions") or []
            route = preds[0].get("route_id", "") if preds else ""
            whole |= self.all_vehicles | self.all_routes
            whole |= self.by_vehicle.get(event.get("vehicle_id", ""), set())
            whole |= self.by_route.get(route, set())
            if self.by_stop:
                for p in preds:
                    for c in self.by_stop.get(p.get("stop_id", ""), ()):
                        if c not in whole:
                            partial.setdefault(c, []).append(p)
        elif kind == "withdrawn":
            route = self.trip_route.get(event.get("trip_id", ""), "")
            whole |= self.all_vehicles | self.all_routes
            whole |= self.by_vehicle.get(event.get("vehicle_id", ""), set())
            whole |= self.by_route.get(route, set())
            if self.by_stop:
                whole |= {c for c in self.clients if c.stops}
        else:
            return 0
        for c in whole:
            self._offer(c, raw)
        for c, preds in partial.items():
            self._offer(c, encode_text({**event, "predictions": preds}))
        return len(whole) + len(partial)

    def _offer(self, client: Client, text: str) -> None:
        if client.too_slow:
            return
        try:
            client.queue.put_nowait(text)
        except asyncio.QueueFull:
            client.too_slow = True
            self.dropped += 1
            self.remove(client)
            client.queue = asyncio.Queue(1)
            client.queue.put_nowait("")  # wake the writer, which closes the socket


def _trip_routes(app: web.Application) -> dict[str, str]:
    network = app[keys.NETWORK].current
    if network is None:
        return {}
    ids = network.route_ids
    return {
        str(t): str(ids[r])
        for t, r in zip(network.trip_ids.tolist(), network.trip_route.tolist(), strict=True)
    }


async def ws_service(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the hub, fed by the process's updates follower (``web.rider.updates``)."""
    settings = app[keys.SETTINGS]
    hub = Hub(limits=Limits(max_per_address=settings.ws_per_address, idle_s=settings.ws_idle_s))
    app[keys.HUB] = hub
    hub.trip_route = await asyncio.to_thread(_trip_routes, app)
    updates = app[keys.UPDATES]
    consumer = Consumer(hub.dispatch)  # it takes the bytes Redis sends
    updates.add(consumer)

    async def follow_network() -> None:
        holder = app[keys.NETWORK]
        while True:
            await holder.changed.wait()
            hub.trip_route = await asyncio.to_thread(_trip_routes, app)

    task = asyncio.create_task(follow_network(), name="ws-network-follow")
    try:
        yield
    finally:
        updates.remove(consumer)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for c in list(hub.clients):
            await c.ws.close(code=1001, message=b"server shutting down")


def parse_subscription(msg: Any) -> tuple[list[str], list[str], list[str]]:
    """The (stops, routes, vehicles) of a subscribe message; ValueError saying what is wrong.

    >>> parse_subscription({"subscribe": {"stops": ["s1"], "routes": ["*"]}})
    (['s1'], ['*'], [])
    >>> parse_subscription({"subscribe": {"stop": ["s1"]}})
    Traceback (most recent call last):
    ...
    ValueError: unknown key 'stop' in subscribe; use stops, routes, vehicles
    """
    if not isinstance(msg, dict) or "subscribe" not in msg:
        raise ValueError(
            'send {"subscribe": {"stops": [...], "routes": [...], "vehicles": [...]}}'
            ' or {"unsubscribe": true}'
        )
    sub = msg["subscribe"]
    if not isinstance(sub, dict):
        raise ValueError("subscribe must be an object with stops, routes and/or vehicles lists")
    for key in sub:
        if key not in _KINDS:
            raise ValueError(f"unknown key {key!r} in subscribe; use stops, routes, vehicles")
    out: list[list[str]] = []
    for kind in _KINDS:
        ids = sub.get(kind, [])
        if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
            raise ValueError(f"{kind} must be a list of non-empty id strings")
        if len(ids) > MAX_IDS:
            raise ValueError(f"{kind}: at most {MAX_IDS} ids per subscription, got {len(ids)}")
        out.append(ids)
    return out[0], out[1], out[2]


@routes.get("/ws")
async def websocket(request: web.Request) -> web.WebSocketResponse:
    """Upgrade to a WebSocket and stream the events the client subscribes to."""
    hub = request.app.get(keys.HUB)
    if hub is None:
        raise ServiceUnavailable("live updates are not running on this server")
    address = request.remote or "unknown"
    hub.admit(address)
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=256 * 1024)
    await ws.prepare(request)
    client = Client(ws, address)
    hub.add(client)

    clock = request.app[keys.CLOCK]

    async def writer() -> None:
        idle_since = last_sent = time.monotonic()
        while not ws.closed:
            now = time.monotonic()
            wait = HEARTBEAT_S - (now - last_sent)
            if client.stops or client.routes or client.vehicles:
                idle_since = now
            elif now - idle_since >= hub.limits.idle_s:
                hub.idle_closed += 1
                await ws.close(code=1008, message=b"idle: subscribe to something")
                return
            else:
                wait = min(wait, hub.limits.idle_s - (now - idle_since))
            try:
                text = await asyncio.wait_for(client.queue.get(), max(wait, 0.01))
            except TimeoutError:
                if time.monotonic() - last_sent < HEARTBEAT_S:
                    continue  # woke to check idleness
                text = encode_text({"type": "heartbeat", "now": clock.now()})
            if client.too_slow:
                await ws.close(code=1013, message=b"too slow: events were dropped")
                return
            await ws.send_str(text)
            last_sent = time.monotonic()

    send_task = asyncio.create_task(writer(), name="ws-writer")
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                try:
                    body = json.loads(msg.data)
                except ValueError:
                    raise ValueError(
                        "messages must be JSON: "
                        '{"subscribe": {"stops": [...], "routes": [...], "vehicles": [...]}}'
                    ) from None
                if isinstance(body, dict) and body.get("unsubscribe") is True:
                    hub.subscribe(client, (), (), ())
                    reply: dict[str, Any] = {
                        "type": "subscribed",
                        "stops": 0,
                        "routes": 0,
                        "vehicles": 0,
                    }
                else:
                    stops, route_ids, vehicles = parse_subscription(body)
                    hub.subscribe(client, stops, route_ids, vehicles)
                    reply = {
                        "type": "subscribed",
                        "stops": len(stops),
                        "routes": len(route_ids),
                        "vehicles": len(vehicles),
                    }
            except ValueError as exc:
                reply = {"type": "error", "detail": str(exc)}
            if client.too_slow:
                break
            with contextlib.suppress(asyncio.QueueFull):
                client.queue.put_nowait(encode_text(reply))
    finally:
        send_task.cancel()
        await asyncio.gather(send_task, return_exceptions=True)
        hub.remove(client)
        if not ws.closed:
            await ws.close()
    return ws
