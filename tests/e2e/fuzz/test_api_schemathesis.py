"""Schemathesis against the served OpenAPI document: every operation, with and without a key.

Each operation gets ``EXAMPLES`` (``SMARTBUS_FUZZ_EXAMPLES``, 10 by default) generated requests
that fit the schema and ``EXAMPLES`` that break it, each sent twice: with an operator key and
without any. Every answer must be below 500, carry a status the document lists for that
operation, and match the documented content type and schema. Failures of all operations are
collected, then reported together.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from typing import Any

import pytest
import requests
import schemathesis
from fuzz_server import Served
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("SMARTBUS_FUZZ_EXAMPLES", "10"))
#: not HTTP request/response: the WebSocket has its own tests
SKIP = {("GET", "/ws")}

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _fuzz(
    operation: Any, mode: GenerationMode, served: Served, http: Any, statuses: Counter[int]
) -> list[str]:
    failures: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        keyless = {k: v for k, v in (case.headers or {}).items() if k.lower() != "x-api-key"}
        for headers in (keyless, {**keyless, "X-API-Key": served.keys["operator"]}):
            case.headers = headers
            try:
                response = case.call_and_validate(base_url=served.base, session=http, checks=CHECKS)
                statuses[response.status_code] += 1
            except (Exception, BaseExceptionGroup) as exc:  # a FailureGroup is only the latter
                what = str(exc).strip().splitlines()
                failures.append(f"{operation.label} [{mode.value}]: " + " | ".join(what[:6]))
                return

    with contextlib.suppress(Unsatisfiable):  # nothing to generate: nothing to break
        run()
    return failures


def test_every_operation_with_and_without_a_key(served: Served) -> None:
    schema = schemathesis.openapi.from_url(f"{served.base}/api/v1/openapi.json")
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    with requests.Session() as http:
        for result in schema.get_all_operations():
            # an operation the schema cannot describe is an Err, whose missing .ok() fails here
            operation = result.ok()  # type: ignore[union-attr]
            if (operation.method.upper(), operation.path) in SKIP:
                continue
            operations += 1
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                failures += _fuzz(operation, mode, served, http, statuses)
    print(f"\n{operations} operations fuzzed: {dict(statuses)}; {len(failures)} failing")
    assert operations >= 40
    assert sum(statuses.values()) >= operations * EXAMPLES  # the requests were made
    assert not failures, "\n".join(failures)
