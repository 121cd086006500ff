"""The answers every operation may get from the middlewares, added to the OpenAPI document.

Handlers document what they answer; the middlewares answer for all of them: 429 where the rate
limits apply (``web.infra.ratelimit``), 503 with ``Retry-After`` while a store is down
(``web.infra.outages``), and 411 or 413 where a body is refused for its size
(``web.infra.security``).
``add_policy_responses`` puts these on every operation they can happen to, so that a client
generated from the document (and the API fuzzer in the tests) knows every status it may see.
"""

from __future__ import annotations

import copy
from typing import Any

from ..infra.ratelimit import is_limited

__all__ = ["POLICY_RESPONSES", "add_policy_responses"]

_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_RETRY = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}

#: Components referenced by the added responses (merged into ``components.responses``).
POLICY_RESPONSES: dict[str, Any] = {
    "StoreUnavailable": {
        "description": "PostgreSQL or Redis is unavailable; retry after Retry-After seconds",
        "headers": _RETRY,
        "content": _PROBLEM,
    },
    "LengthRequired": {
        "description": "a body was sent without Content-Length",
        "content": _PROBLEM,
    },
    "PayloadTooLarge": {
        "description": "the body is larger than this endpoint takes",
        "content": _PROBLEM,
    },
}

#: Operations that touch no store (so never 503 for one).
_STORELESS = frozenset({"/healthz", "/favicon.ico", "/api/v1/docs", "/api/v1/openapi.json"})


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def add_policy_responses(paths: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A copy of ``paths`` whose operations also list the middlewares' answers.

    >>> out = add_policy_responses({"/api/v1/routes": {"get": {"responses": {"200": {}}}}})
    >>> sorted(out["/api/v1/routes"]["get"]["responses"])
    ['200', '429', '503']
    """
    out: dict[str, dict[str, Any]] = {}
    for path, ops in paths.items():
        out[path] = {}
        for method, op in ops.items():
            if not isinstance(op, dict) or "responses" not in op:
                out[path][method] = op
                continue
            op = copy.copy(op)
            responses = dict(op["responses"])
            if is_limited(path) and path != "/ws":
                responses.setdefault("429", {"$ref": "#/components/responses/TooManyRequests"})
            if path not in _STORELESS:
                responses.setdefault("503", _ref("StoreUnavailable"))
            if "requestBody" in op:
                responses.setdefault("411", _ref("LengthRequired"))
                responses.setdefault("413", _ref("PayloadTooLarge"))
            op["responses"] = dict(sorted(responses.items()))
            out[path][method] = op
    return out
