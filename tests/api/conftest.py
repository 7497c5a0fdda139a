"""One real server for the API tests (``tests.api.server``), shared by the session."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.api.server import ApiServer, start

_starts = itertools.count(1)


@pytest.fixture(scope="session", params=["duckdb", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[ApiServer]:
    """The server on each backend: the DuckDB file, then a PostgreSQL database of its own on
    the session's cluster (PROMPTBOARD_DATABASE_URL): every API test runs against both."""
    url, name, cluster = "", f"api_server_{next(_starts)}", None
    if request.param == "postgres":  # pytest sets a session fixture up again when the order of
        cluster = request.getfixturevalue("postgres")  # tests (pytest-xdist's) switches back
        url = cluster.new_database(name)
    running = start(tmp_path_factory.mktemp("api"), "api", database_url=url)
    yield running
    running.server.stop()
    if cluster is not None:
        cluster.drop_database(name)
