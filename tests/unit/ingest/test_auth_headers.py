"""Where a request's API key is read from, and what happens without one."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from web import keys
from web.infra.auth import request_token, require_role
from web.infra.problems import Unauthorized
from web.settings import Settings


def request(headers: dict[str, str], *, required: bool = True) -> web.Request:
    app = web.Application()
    app[keys.SETTINGS] = Settings(api_keys_required=required)
    return make_mocked_request("POST", "/api/v1/positions", headers=headers, app=app)


@pytest.mark.parametrize(
    ("headers", "token"),
    [
        ({"X-API-Key": "sbk_a_b"}, "sbk_a_b"),
        ({"Authorization": "Bearer sbk_a_b"}, "sbk_a_b"),
        ({"Authorization": "bearer   sbk_a_b "}, "sbk_a_b"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, None),
        ({"X-API-Key": "  "}, None),
        ({}, None),
    ],
)
def test_token_comes_from_x_api_key_or_bearer(headers: dict[str, str], token: str | None) -> None:
    assert request_token(request(headers)) == token


async def test_no_key_is_401_when_keys_are_required() -> None:
    with pytest.raises(Unauthorized, match="role 'ingest'") as info:
        await require_role(request({}), "ingest")
    assert info.value.headers["WWW-Authenticate"].startswith("Bearer")


async def test_no_key_passes_when_keys_are_off() -> None:
    assert await require_role(request({}, required=False), "ingest") is None
