"""One real server for the API tests (``tests.api.server``), shared by the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.server import ApiServer, start


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    running = start(tmp_path_factory.mktemp("api"), "api")
    yield running
    running.server.stop()
