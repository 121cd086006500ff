"""RFC 9457 ``application/problem+json`` responses and the mapping from exceptions to them.

Handlers raise ``ProblemError`` subclasses (``BadRequest(detail)``, ``NotFound(detail)``...).
Errors of the other packages (``errors.py`` modules, which know nothing of HTTP) are mapped by
walking ``type(exc).__mro__`` through ``EXCEPTION_STATUS``. A store outage (``web.infra.outages``)
is a 503 with ``Retry-After``. Anything else is a 500: logged with a request id, answered
without internals.

Hierarchy::

    Exception
     └── ProblemError            status, title, detail, extra members
          ├── BadRequest         400
          ├── Unauthorized       401
          ├── Forbidden          403
          ├── NotFound           404
          ├── Conflict           409
          ├── TooManyRequests    429 (Retry-After)
          └── ServiceUnavailable 503
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any

from aiohttp import web

from transit.errors import FeedDataError

from .outages import RETRY_AFTER_S, store_outage
from .responses import json_response

__all__ = [
    "EXCEPTION_STATUS",
    "PROBLEM_JSON",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "ProblemError",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "problem_middleware",
    "problem_response",
    "status_for",
]

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
REQUEST_ID_HEADER = "X-Request-Id"


class ProblemError(Exception):
    """An error with an HTTP status, answered as problem+json.

    Parameters
    ----------
    detail : str
        What went wrong with this request, for the client (never internals).
    headers : mapping, optional
        Extra response headers (``Retry-After``, ``WWW-Authenticate``).
    **extra
        Extension members of the problem document (``errors=[...]``, ``param="stop_id"``).
    """

    status: int = 500
    title: str | None = None

    def __init__(
        self, detail: str = "", *, headers: Mapping[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers: dict[str, str] = dict(headers or {})
        self.extra = extra


class BadRequest(ProblemError):  # noqa: N818 (HTTP status names)
    status = 400


class Unauthorized(ProblemError):  # noqa: N818 (HTTP status names)
    status = 401

    def __init__(self, detail: str = "an API key is required", **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.headers.setdefault("WWW-Authenticate", 'Bearer realm="smartbus"')


class Forbidden(ProblemError):  # noqa: N818 (HTTP status names)
    status = 403


class NotFound(ProblemError):  # noqa: N818 (HTTP status names)
    status = 404


class Conflict(ProblemError):  # noqa: N818 (HTTP status names)
    status = 409


class TooManyRequests(ProblemError):  # noqa: N818 (HTTP status names)
    status = 429

    def __init__(self, detail: str = "", *, retry_after_s: float | None = None, **kw: Any):
        super().__init__(detail, **kw)
        if retry_after_s is not None:
            self.headers.setdefault("Retry-After", str(max(1, round(retry_after_s))))


class ServiceUnavailable(ProblemError):  # noqa: N818 (HTTP status names)
    status = 503


#: Exception types of the non-HTTP packages and the status they map to (first match on MRO).
EXCEPTION_STATUS: dict[type[BaseException], int] = {
    FeedDataError: 422,
}


def status_for(exc: BaseException) -> int:
    """The HTTP status of an exception, walking ``type(exc).__mro__``; 500 when none matches.

    Examples
    --------
    >>> status_for(NotFound("no stop 'X'"))
    404
    >>> status_for(KeyError("x"))
    500
    """
    for cls in type(exc).__mro__:
        if issubclass(cls, ProblemError) and "status" in cls.__dict__:
            return cls.status
        if cls in EXCEPTION_STATUS:
            return EXCEPTION_STATUS[cls]
    return 500


def problem_response(
    status: int,
    detail: str = "",
    *,
    title: str | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    """A problem+json response.

    ``type`` is ``about:blank`` (the title is the status phrase) unless a title is given.
    """
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body: dict[str, Any] = {"type": "about:blank", "title": title or phrase, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    return json_response(body, status=status, content_type=PROBLEM_JSON, headers=headers)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# request ids: random per process, then a counter (uuid4 per request cost a system call)
_ID_PREFIX = os.urandom(5).hex()
_ID_COUNTER = itertools.count(1)


def _new_id_prefix() -> None:
    global _ID_PREFIX, _ID_COUNTER
    _ID_PREFIX, _ID_COUNTER = os.urandom(5).hex(), itertools.count(1)


os.register_at_fork(after_in_child=_new_id_prefix)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every error raised by a handler into problem+json.

    ``ProblemError`` and mapped domain errors keep their message; aiohttp's own HTTP errors
    (404 no route, 405 wrong method, 413...) keep their status; anything else is a 500 whose
    body carries only the request id that the log line also carries.
    """
    request_id = request.headers.get(REQUEST_ID_HEADER) or f"{_ID_PREFIX}{next(_ID_COUNTER):06x}"
    try:
        response = await handler(request)
    except ProblemError as exc:
        response = problem_response(
            exc.status,
            exc.detail,
            title=exc.title,
            instance=request.path,
            headers=exc.headers,
            **exc.extra,
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and 204s are not problems
        detail = "" if exc.text in (None, f"{exc.status}: {exc.reason}") else (exc.text or "")
        if exc.status == 404 and not detail:
            detail = f"no resource at {request.path}"
        if exc.status == 405 and isinstance(exc, web.HTTPMethodNotAllowed):
            detail = f"{request.method} is not allowed; use " + ", ".join(
                sorted(exc.allowed_methods)
            )
        headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "retry-after"}}
        response = problem_response(exc.status, detail, instance=request.path, headers=headers)
    except Exception as exc:
        status = status_for(exc)
        store = store_outage(exc) if status == 500 else None
        if store is not None:
            # a store is down: the client did nothing wrong and may retry, no bug to trace
            log.warning(
                "%s unavailable: %s",
                store,
                exc,
                extra={"request_id": request_id, "path": request.path, "store": store},
            )
            response = problem_response(
                503,
                f"{store} is unavailable; retry in {RETRY_AFTER_S} s",
                instance=request.path,
                headers={"Retry-After": str(RETRY_AFTER_S)},
                store=store,
            )
        elif status >= 500:
            log.exception(
                "unhandled error",
                extra={"request_id": request_id, "path": request.path, "method": request.method},
            )
            response = problem_response(
                status,
                f"internal error; quote request id {request_id}",
                instance=request.path,
                request_id=request_id,
            )
        else:
            response = problem_response(status, str(exc), instance=request.path)
    if not response.prepared:
        response.headers.setdefault(REQUEST_ID_HEADER, request_id)
    return response
