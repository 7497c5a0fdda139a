"""The PostgreSQL test harness (tests/pgserver.py): a real private server, what the job store
will stand on (row locks skipped by a second claimer, LISTEN/NOTIFY, a pool), a database per
test, and a cluster that is gone when its owner stops it or dies.

Times here are liveness bounds, never speed targets: those live in bench/.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from psycopg import errors
from psycopg_pool import ConnectionPool

from tests import pgserver
from tests.helpers import ROOT, wait_until
from tests.pgserver import PostgresServer

CLAIM = ("SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1 "
         "FOR UPDATE SKIP LOCKED")


def _answers(port: int) -> bool:
    try:
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres",
                        connect_timeout=2).close()
        return True
    except psycopg.OperationalError:
        return False


def test_a_test_database_keeps_tables_and_rows(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE prices (model text PRIMARY KEY, usd numeric NOT NULL)")
        conn.execute("INSERT INTO prices VALUES (%s, %s), (%s, %s)",
                     ("a", "0.04", "b", "0.25"))
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SELECT count(*), sum(usd)::text FROM prices").fetchone()
        assert row == (2, "0.29")
        assert conn.info.server_version >= 130000  # DROP DATABASE ... WITH (FORCE)


def test_a_row_locked_by_one_claim_is_skipped_by_another(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as setup:
        setup.execute("CREATE TABLE jobs (id int PRIMARY KEY, state text NOT NULL)")
        setup.execute("INSERT INTO jobs SELECT g, 'queued' FROM generate_series(1, 3) g")
    with psycopg.connect(postgres_url) as first, psycopg.connect(postgres_url) as second:
        assert first.execute(CLAIM).fetchone() == (1,)  # held until first's transaction ends
        assert second.execute(CLAIM).fetchone() == (2,)  # not blocked: skipped past row 1
        with pytest.raises(errors.LockNotAvailable):  # row 1 really is locked
            second.execute("SELECT id FROM jobs WHERE id = 1 FOR UPDATE NOWAIT")
        second.rollback()
        assert second.execute(
            "SELECT id FROM jobs ORDER BY id FOR UPDATE SKIP LOCKED").fetchall() == [(2,), (3,)]
        second.rollback()
        first.rollback()  # the claim let go: the next claimer gets row 1
        assert second.execute(CLAIM).fetchone() == (1,)


def test_a_notify_wakes_a_listener_on_another_connection(postgres_url: str) -> None:
    got: list[psycopg.Notify] = []
    with psycopg.connect(postgres_url, autocommit=True) as listener, \
            psycopg.connect(postgres_url, autocommit=True) as notifier:
        listener.execute("LISTEN job_events")
        waiter = threading.Thread(  # blocks like a worker waiting for work; 30 s is generous
            target=lambda: got.extend(listener.notifies(timeout=30, stop_after=1)))
        waiter.start()
        notifier.execute("SELECT pg_notify('job_events', 'job-1')")
        waiter.join(timeout=60)
        sender = notifier.info.backend_pid
    assert [(n.channel, n.payload, n.pid) for n in got] == [("job_events", "job-1", sender)]


def test_a_connection_pool_serves_many_threads_from_a_few_connections(
        postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as setup:
        setup.execute("CREATE TABLE hits (n int PRIMARY KEY, backend int NOT NULL)")

    with ConnectionPool(postgres_url, min_size=1, max_size=3, timeout=30, open=True) as pool:
        pool.wait(timeout=30)

        def hit(n: int) -> None:
            with pool.connection() as conn:  # committed when the block ends
                conn.execute("INSERT INTO hits VALUES (%s, pg_backend_pid())", (n,))

        with ThreadPoolExecutor(max_workers=8) as threads:
            list(threads.map(hit, range(40)))
        with pool.connection() as conn:
            rows, backends = conn.execute(
                "SELECT count(*), count(DISTINCT backend) FROM hits").fetchone() or (0, 0)
        assert pool.get_stats()["pool_size"] <= 3
    assert rows == 40 and 1 <= backends <= 3


def test_each_test_gets_an_empty_database_of_its_own(postgres: PostgresServer,
                                                     postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
        conn.execute("CREATE TABLE styles (name text)")
        mine = conn.execute("SELECT current_database()").fetchone()
    assert mine and mine[0] != postgres.database and mine[0].startswith("t")

    other = f"other_{secrets.token_hex(4)}"
    with psycopg.connect(postgres.new_database(other), autocommit=True) as left_open:
        assert left_open.execute("SELECT to_regclass('styles')").fetchone() == (None,)
        postgres.drop_database(other)  # ends the sessions still on it
        with pytest.raises(psycopg.OperationalError):
            left_open.execute("SELECT 1")
    with postgres.connect() as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s",
                            (other,)).fetchone() == (0,)


def test_a_template_database_is_cloned_with_its_tables(postgres: PostgresServer) -> None:
    template = f"tpl_{secrets.token_hex(4)}"
    with psycopg.connect(postgres.new_database(template), autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_migrations (name text PRIMARY KEY)")
        conn.execute("INSERT INTO schema_migrations VALUES ('001_init')")
    clone = f"clone_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(postgres.new_database(clone, template=template)) as conn:
            assert conn.execute("SELECT name FROM schema_migrations").fetchall() == [
                ("001_init",)]
    finally:
        postgres.drop_database(clone)
        postgres.drop_database(template)


def test_the_session_server_is_private_fast_and_on_loopback(postgres: PostgresServer) -> None:
    assert postgres.url == f"postgresql://postgres@127.0.0.1:{postgres.port}/promptboard"
    with psycopg.connect(postgres.url) as conn:
        settings: dict[str, str] = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', "
            "'synchronous_commit', 'full_page_writes', 'listen_addresses', "
            "'unix_socket_directories', 'server_encoding', 'lc_collate')").fetchall())
    assert settings == {
        "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
        "listen_addresses": "127.0.0.1", "unix_socket_directories": str(postgres.socket_dir),
        "server_encoding": "UTF8", "lc_collate": "C"}
    owner = postgres.data_dir.stat().st_uid
    assert owner != 0 and (os.geteuid() == 0 or owner == os.geteuid())


def test_stop_ends_the_server_and_removes_its_directory(postgres_bindir: Path) -> None:
    with pgserver.running_postgres(postgres_bindir) as server:
        assert server.root.is_dir() and _answers(server.port)
    assert not server.root.exists()
    assert not _answers(server.port)
    assert server.watchdog is not None and server.watchdog.returncode == 0
    server.stop()  # twice is harmless


def test_a_killed_test_process_leaves_no_cluster_behind(postgres_bindir: Path) -> None:
    """Its watchdog stops the server and removes the directory when the owner is SIGKILLed."""
    owner = subprocess.Popen(
        [sys.executable, "-c", "import time\nfrom tests import pgserver\n"
         "s = pgserver.start_postgres()\nprint(s.root, s.port, flush=True)\ntime.sleep(300)"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline().split()
        if len(line) != 2:
            owner.kill()
            pytest.fail(f"no server started: {owner.communicate()[1][-2000:]}")
        root, port = Path(line[0]), int(line[1])
        assert root.is_dir() and _answers(port)
    finally:
        owner.kill()
        owner.communicate()
    wait_until(lambda: not root.exists(), timeout=60, what=f"{root} to be removed")
    assert not _answers(port)


def test_without_postgresql_the_tests_fail_unless_told_to_skip(tmp_path: Path) -> None:
    assert pgserver.find_bindir(str(tmp_path / "none" / "*" / "bin"), path=str(tmp_path)) is None
    with pytest.raises(pytest.fail.Exception,
                       match=r"apt-get install postgresql.*PROMPTBOARD_TEST_NO_POSTGRES=1"):
        pgserver.require_bindir({}, None)
    with pytest.raises(pytest.skip.Exception, match="PROMPTBOARD_TEST_NO_POSTGRES=1"):
        pgserver.require_bindir({"PROMPTBOARD_TEST_NO_POSTGRES": "1"}, tmp_path)
    assert pgserver.require_bindir({"PROMPTBOARD_TEST_NO_POSTGRES": ""}, tmp_path) == tmp_path


def _fake_install(bindir: Path) -> Path:
    bindir.mkdir(parents=True)
    for tool in pgserver.TOOLS:
        (bindir / tool).write_text("#!/bin/sh\n")
        (bindir / tool).chmod(0o755)
    return bindir


def test_the_highest_installed_version_is_used_or_else_the_one_on_path(tmp_path: Path) -> None:
    for version in ("9.6", "15", "16"):
        _fake_install(tmp_path / "lib" / version / "bin")
    (tmp_path / "lib" / "common" / "bin").mkdir(parents=True)  # not a version: ignored
    pattern = str(tmp_path / "lib" / "*" / "bin")
    assert pgserver.find_bindir(pattern, path="") == tmp_path / "lib" / "16" / "bin"

    real = _fake_install(tmp_path / "opt" / "pg" / "bin")
    on_path = tmp_path / "usr-local-bin"
    on_path.mkdir()
    (on_path / "initdb").symlink_to(real / "initdb")  # as /usr/local/bin/initdb is here
    assert pgserver.find_bindir(str(tmp_path / "none" / "*"), path=str(on_path)) == real


def test_database_names_are_unique_short_and_plain() -> None:
    assert pgserver.database_name("test_x[a-b/C]", 7) == "t7_test_x_a_b_c"
    assert len(pgserver.database_name("x" * 200, 123456).encode()) == pgserver.MAX_NAME_BYTES
