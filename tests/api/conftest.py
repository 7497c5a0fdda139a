"""One real server for the API tests (``tests.api.server``), shared by the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.server import ApiServer, start


@pytest.fixture(scope="session", params=["duckdb", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[ApiServer]:
    """The server on each backend: the DuckDB file, then a PostgreSQL database of its own on
    the session's cluster (PROMPTBOARD_DATABASE_URL): every API test runs against both."""
    url = ""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres").new_database("api_server")
    running = start(tmp_path_factory.mktemp("api"), "api", database_url=url)
    yield running
    running.server.stop()
