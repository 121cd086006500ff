"""Configuration of the service, read from an injectable mapping of environment variables.

Only the entry point (``web.cli``) passes ``os.environ``; tests build ``Settings`` directly or
through ``Settings.from_env({...})``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs

__all__ = ["ENV_VARS", "ROLES", "Settings", "SettingsError"]

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_CLOCKS = ("wall", "feed")
#: What a ``smartbus serve`` process runs (``web.app.ROLE_SERVICES``).
ROLES = ("web", "tracker", "jobs", "all")

log = logging.getLogger(__name__)

DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

#: Every variable read by ``Settings.from_env``: name -> (default shown to users, meaning).
ENV_VARS: dict[str, tuple[str, str]] = {
    "DATABASE_URL": ("unset: embedded PostgreSQL", "PostgreSQL URL (postgresql://...)"),
    "REDIS_URL": (
        "unset: embedded Redis",
        "Redis URL (redis://..., unix://..., or redis+cluster://node:port for a Redis Cluster)",
    ),
    "SMARTBUS_DATA": ("user data dir", "folder for snapshots, embedded servers, reports"),
    "SMARTBUS_GTFS": ("bundled Cairns feed", "GTFS zip or folder to serve"),
    "SMARTBUS_OSM": ("the last imported, else none", "OpenStreetMap extract to walk on"),
    "SMARTBUS_HOST": ("127.0.0.1", "address the web server binds"),
    "SMARTBUS_PORT": ("8080", "port the web server binds"),
    "SMARTBUS_REDIS_PREFIX": ("smartbus:", "prefix of every Redis key and channel"),
    "SMARTBUS_DB_SCHEMA": ("public", "PostgreSQL schema of every table"),
    "SMARTBUS_TILE_URL": ("OpenStreetMap", "map tile URL template for the pages"),
    "SMARTBUS_SIMULATE": ("false", "run the fleet simulator as a live source"),
    "SMARTBUS_API_KEYS": ("true", "require API keys for ingest and operator endpoints"),
    "SMARTBUS_GTFSRT_URLS": ("unset", "comma-separated GTFS-RT VehiclePositions URLs to poll"),
    "SMARTBUS_SIRI_URLS": ("unset", "comma-separated SIRI VehicleMonitoring URLs to poll"),
    "SMARTBUS_ALERT_URLS": ("unset", "comma-separated GTFS-RT Service Alerts URLs to poll"),
    "SMARTBUS_ROLE": ("all", "what this process runs: web, tracker, jobs or all"),
    "SMARTBUS_STREAM_PARTITIONS": ("1", "partitions of the positions stream (trackers lease them)"),
    "SMARTBUS_TRACKER_WORKERS": ("unset", "deprecated: read as SMARTBUS_STREAM_PARTITIONS"),
    "SMARTBUS_TRACKER_INDEX": ("unset", "deprecated and ignored: trackers lease partitions"),
    "SMARTBUS_RETENTION_DAYS": (
        "unset: keep",
        "days of history kept (older day partitions dropped)",
    ),
    "SMARTBUS_JOBS_AT": ("unset: off", "HH:MM local time to run the planner jobs nightly"),
    "SMARTBUS_JOBS_TZ": ("UTC", "time zone of SMARTBUS_JOBS_AT"),
    "SMARTBUS_CLOCK": ("wall", "wall, or feed: follow the newest position time (replays)"),
    "SMARTBUS_JOBS_WINDOW_DAYS": ("28", "days of history each nightly job run looks back over"),
    "SMARTBUS_CHECKPOINT_S": ("300", "seconds between checkpoints of what a tracker learned"),
    "SMARTBUS_WS_PER_ADDRESS": ("100", "live WebSocket connections one client address may hold"),
    "SMARTBUS_WS_IDLE_S": ("60", "seconds a WebSocket following nothing is kept open"),
}


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service needs to start.

    Examples
    --------
    >>> s = Settings.from_env({"SMARTBUS_PORT": "9000", "SMARTBUS_DATA": "/tmp/sb"})
    >>> (s.port, s.host, str(s.data_dir), s.database_url)
    (9000, '127.0.0.1', '/tmp/sb', None)
    """

    database_url: str | None = None
    redis_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir("smartbus")))
    gtfs_path: Path | None = None
    osm_path: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    redis_prefix: str = "smartbus:"
    db_schema: str = "public"
    tile_url: str = DEFAULT_TILE_URL
    simulate: bool = False
    api_keys_required: bool = True
    gtfsrt_urls: tuple[str, ...] = ()
    siri_urls: tuple[str, ...] = ()
    alert_urls: tuple[str, ...] = ()
    role: str = "all"
    retention_days: int | None = None
    stream_partitions: int = 1
    jobs_at: str | None = None
    jobs_tz: str = "UTC"
    clock: str = "wall"
    jobs_window_days: int = 28
    checkpoint_s: int = 300
    ws_per_address: int = 100
    ws_idle_s: float = 60.0

    def __post_init__(self) -> None:
        if not 1 <= self.stream_partitions <= 1024:
            raise SettingsError(
                f"SMARTBUS_STREAM_PARTITIONS: {self.stream_partitions} must be in 1..1024"
            )
        if self.retention_days is not None and self.retention_days < 1:
            raise SettingsError(
                f"SMARTBUS_RETENTION_DAYS: {self.retention_days} must be at least 1 day"
            )
        if self.role not in ROLES:
            raise SettingsError(f"SMARTBUS_ROLE: {self.role!r} must be one of {', '.join(ROLES)}")
        if self.jobs_at is not None and not _HHMM.match(self.jobs_at):
            raise SettingsError(f"SMARTBUS_JOBS_AT: {self.jobs_at!r} is not a time HH:MM")
        if self.jobs_window_days < 1:
            raise SettingsError(
                f"SMARTBUS_JOBS_WINDOW_DAYS: {self.jobs_window_days} must be at least 1 day"
            )
        if self.checkpoint_s < 10:
            raise SettingsError(
                f"SMARTBUS_CHECKPOINT_S: {self.checkpoint_s} must be at least 10 seconds"
            )
        if not 0 < self.port < 65536:
            raise SettingsError(f"SMARTBUS_PORT: {self.port} is not a port number (1-65535)")
        if not _IDENT.match(self.db_schema):
            raise SettingsError(
                f"SMARTBUS_DB_SCHEMA: {self.db_schema!r} is not a plain SQL identifier"
                " (letters, digits, underscore; at most 63)"
            )
        if not self.redis_prefix:
            raise SettingsError("SMARTBUS_REDIS_PREFIX: must not be empty")
        if self.ws_per_address < 1 or self.ws_idle_s <= 0:
            raise SettingsError(
                "SMARTBUS_WS_PER_ADDRESS and SMARTBUS_WS_IDLE_S must be positive, got"
                f" {self.ws_per_address} and {self.ws_idle_s:g}"
            )
        if self.clock not in _CLOCKS:
            raise SettingsError(f"SMARTBUS_CLOCK: {self.clock!r} must be one of wall, feed")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read settings from a mapping of environment variables.

        Blank values count as unset. Raises ``SettingsError`` naming the variable on bad input.
        """

        def get(name: str) -> str | None:
            value = env.get(name)
            if value is None or not value.strip():
                return None
            return value.strip()

        kwargs: dict[str, object] = {}
        if (url := get("DATABASE_URL")) is not None:
            kwargs["database_url"] = _url("DATABASE_URL", url, ("postgres", "postgresql"))
        if (url := get("REDIS_URL")) is not None:
            kwargs["redis_url"] = _url(
                "REDIS_URL", url, ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster")
            )
        if (data := get("SMARTBUS_DATA")) is not None:
            kwargs["data_dir"] = Path(data).expanduser()
        if (gtfs := get("SMARTBUS_GTFS")) is not None:
            kwargs["gtfs_path"] = Path(gtfs).expanduser()
        if (osm := get("SMARTBUS_OSM")) is not None:
            kwargs["osm_path"] = Path(osm).expanduser()
        if (host := get("SMARTBUS_HOST")) is not None:
            kwargs["host"] = host
        if (port := get("SMARTBUS_PORT")) is not None:
            kwargs["port"] = _int("SMARTBUS_PORT", port)
        if (prefix := get("SMARTBUS_REDIS_PREFIX")) is not None:
            kwargs["redis_prefix"] = prefix
        if (schema := get("SMARTBUS_DB_SCHEMA")) is not None:
            kwargs["db_schema"] = schema
        if (tiles := get("SMARTBUS_TILE_URL")) is not None:
            if not all(p in tiles for p in ("{z}", "{x}", "{y}")):
                raise SettingsError(
                    f"SMARTBUS_TILE_URL: {tiles!r} must contain {{z}}, {{x}} and {{y}}"
                )
            kwargs["tile_url"] = tiles
        kwargs["simulate"] = _bool("SMARTBUS_SIMULATE", env.get("SMARTBUS_SIMULATE"), False)
        kwargs["api_keys_required"] = _bool("SMARTBUS_API_KEYS", env.get("SMARTBUS_API_KEYS"), True)
        if (urls := get("SMARTBUS_GTFSRT_URLS")) is not None:
            kwargs["gtfsrt_urls"] = tuple(
                _url("SMARTBUS_GTFSRT_URLS", u.strip(), ("http", "https"))
                for u in urls.split(",")
                if u.strip()
            )
        for var, name in (
            ("SMARTBUS_SIRI_URLS", "siri_urls"),
            ("SMARTBUS_ALERT_URLS", "alert_urls"),
        ):
            if (urls := get(var)) is not None:
                kwargs[name] = tuple(
                    _url(var, u.strip(), ("http", "https")) for u in urls.split(",") if u.strip()
                )
        if (keep := get("SMARTBUS_RETENTION_DAYS")) is not None:
            kwargs["retention_days"] = _int("SMARTBUS_RETENTION_DAYS", keep)
        if (role := get("SMARTBUS_ROLE")) is not None:
            kwargs["role"] = role.lower()
        if (parts := get("SMARTBUS_STREAM_PARTITIONS")) is not None:
            kwargs["stream_partitions"] = _int("SMARTBUS_STREAM_PARTITIONS", parts)
        elif (workers := get("SMARTBUS_TRACKER_WORKERS")) is not None:
            # before leases: N trackers, one static partition each
            kwargs["stream_partitions"] = _int("SMARTBUS_TRACKER_WORKERS", workers)
            log.warning(
                "SMARTBUS_TRACKER_WORKERS is deprecated: read as SMARTBUS_STREAM_PARTITIONS=%s"
                " (trackers now lease partitions; run as many as you like)",
                workers,
            )
        if get("SMARTBUS_TRACKER_INDEX") is not None:
            log.warning(
                "SMARTBUS_TRACKER_INDEX is deprecated and ignored: trackers lease partitions"
            )
        if (at := get("SMARTBUS_JOBS_AT")) is not None:
            kwargs["jobs_at"] = at
        if (tz := get("SMARTBUS_JOBS_TZ")) is not None:
            kwargs["jobs_tz"] = tz
        if (clock := get("SMARTBUS_CLOCK")) is not None:
            kwargs["clock"] = clock.lower()
        if (window := get("SMARTBUS_JOBS_WINDOW_DAYS")) is not None:
            kwargs["jobs_window_days"] = _int("SMARTBUS_JOBS_WINDOW_DAYS", window)
        if (every := get("SMARTBUS_CHECKPOINT_S")) is not None:
            kwargs["checkpoint_s"] = _int("SMARTBUS_CHECKPOINT_S", every)
        if (per := get("SMARTBUS_WS_PER_ADDRESS")) is not None:
            kwargs["ws_per_address"] = _int("SMARTBUS_WS_PER_ADDRESS", per)
        if (idle := get("SMARTBUS_WS_IDLE_S")) is not None:
            kwargs["ws_idle_s"] = float(_int("SMARTBUS_WS_IDLE_S", idle))
        return cls(**kwargs)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed (for the CLI's ``--host``/``--port`` and tests)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def snapshot_dir(self) -> Path:
        """Where network snapshots are kept (``<data_dir>/snapshots``)."""
        return self.data_dir / "snapshots"

    @property
    def streets_dir(self) -> Path:
        """Where street-map snapshots are kept (``<data_dir>/streets``)."""
        return self.data_dir / "streets"


def _url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    scheme = urlsplit(value).scheme
    if scheme not in schemes:
        raise SettingsError(
            f"{name}: {_redact(value)!r} must start with one of "
            + ", ".join(f"{s}://" for s in schemes)
        )
    return value


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"{name}: {value!r} is not an integer") from None


def _bool(name: str, value: str | None, default: bool) -> bool:
    if value is None:
        return default
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return default if v == "" else False
    raise SettingsError(f"{name}: {value!r} is not a boolean (use true/false, 1/0, yes/no)")
