"""A real PostgreSQL server on loopback for tests: a private cluster in a temporary directory.

Tests ask for it through the fixtures in conftest.py::

    def test_x(postgres_url: str) -> None:        # a fresh, empty database for this test
        with psycopg.connect(postgres_url) as conn: ...

    def test_y(postgres: PostgresServer) -> None:  # the session's server itself
        url = postgres.new_database("y_template")

``postgres`` starts one server per test session, the first time a test asks for it; a test
that must stop or kill its server uses ``running_postgres()`` so the shared one stays up.

The cluster is made with the installed PostgreSQL's own ``initdb`` and ``pg_ctl`` (Debian's
``postgresql`` package: scripts/test.sh installs it when it is missing) in a new directory
under /dev/shm (memory), or under the temp dir where /dev/shm is small or absent. The tests
run as root and PostgreSQL refuses to, so as root the cluster belongs to the ``postgres`` user
(or ``nobody`` where there is none); as anyone else, to that user. It listens on 127.0.0.1
and on a socket in its own directory only, lets in anyone connecting from this machine
without a password (``trust``: a throw-away cluster for tests, never data), and runs with
``fsync=off``, ``synchronous_commit=off`` and ``full_page_writes=off``: fast, and a crash of
the machine loses it, which for a test cluster costs nothing. A watchdog process stops the
server and removes its directory if the test process dies without doing so (SIGKILL, a
timeout), so no cluster outlives its run.

``PROMPTBOARD_TEST_NO_POSTGRES=1`` skips the tests that need PostgreSQL; without it, a
machine with no PostgreSQL fails them, saying how to install it.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

HOST = "127.0.0.1"
SUPERUSER = "postgres"  # the cluster's superuser role, whichever OS user runs it
FIRST_DATABASE = "promptboard"  # the database ``.url`` names
SKIP_VARIABLE = "PROMPTBOARD_TEST_NO_POSTGRES"
BIN_GLOB = "/usr/lib/postgresql/*/bin"  # Debian's layout, one directory per major version
TOOLS = ("initdb", "pg_ctl", "postgres")
# Fast, and unsafe on a crash of the machine: fine for a cluster that lives for one test run.
FAST_SETTINGS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
PG_HBA = """\
# Written by tests/pgserver.py: anyone on this machine, no password (a throw-away test cluster)
local all all trust
host  all all 127.0.0.1/32 trust
"""
SHM = Path("/dev/shm")
SHM_MIN_FREE = 1 << 30
MAX_NAME_BYTES = 63  # PostgreSQL's identifier limit: longer names are cut, silently

# Run by the watchdog process: wait for end-of-file on stdin (the test process closed the pipe,
# or died and the kernel closed it), then stop the postmaster and remove the cluster's
# directory. After a clean stop() both are already gone and it just exits.
_WATCHDOG = r"""
import os, shutil, signal, sys, time
root = sys.argv[1]
signal.signal(signal.SIGINT, signal.SIG_IGN)
sys.stdin.buffer.read()

def gone(pid):  # exited, or a zombie waiting for init to reap it
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True

try:
    with open(os.path.join(root, "data", "postmaster.pid")) as f:
        pid = int(f.readline())
    os.kill(pid, signal.SIGQUIT)  # PostgreSQL's immediate shutdown
except (OSError, ValueError):
    pid = 0
deadline = time.monotonic() + 10
while pid and not gone(pid):
    if time.monotonic() > deadline:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        break
    time.sleep(0.02)
shutil.rmtree(root, ignore_errors=True)
"""


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def _version(bindir: Path) -> tuple[int, ...]:
    """(15,) for /usr/lib/postgresql/15/bin, (9, 6) for .../9.6/bin; () if not a version."""
    parts = bindir.parent.name.split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else ()


def find_bindir(pattern: str = BIN_GLOB, path: str | None = None) -> Path | None:
    """The directory holding initdb, pg_ctl and postgres: the highest version under
    ``pattern``, else where ``initdb`` on ``path`` (default: $PATH) really lives."""
    versioned = [Path(d) for d in glob.glob(pattern)
                 if all((Path(d) / tool).is_file() for tool in TOOLS)]
    versioned = [d for d in versioned if _version(d)]
    if versioned:
        return max(versioned, key=_version)
    found = shutil.which("initdb", path=path)
    if found is None:
        return None
    bindir = Path(found).resolve().parent  # /usr/local/bin/initdb may be a link into the above
    return bindir if all((bindir / tool).is_file() for tool in TOOLS) else None


def require_bindir(environ: Mapping[str, str], bindir: Path | None) -> Path:
    """``bindir``, or skip (PROMPTBOARD_TEST_NO_POSTGRES=1) or fail the asking test."""
    if environ.get(SKIP_VARIABLE, "").strip() == "1":
        pytest.skip(f"{SKIP_VARIABLE}=1: the tests that need PostgreSQL are skipped")
    if bindir is None:
        pytest.fail(
            f"PostgreSQL is not installed (no initdb under {BIN_GLOB} or on PATH), and the "
            "tests need a real server: `apt-get install postgresql` (bash scripts/test.sh "
            f"does), or set {SKIP_VARIABLE}=1 to skip these tests", pytrace=False)
    return bindir


def cluster_user() -> pwd.struct_passwd | None:
    """Who runs the cluster: None for the current user, unless that is root (initdb and
    postgres refuse root): then ``postgres``, or ``nobody`` on a machine without it."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailable("running as root, and neither a postgres nor a nobody user "
                              "exists to run the cluster as")


def base_dir() -> Path:
    """Where clusters go: /dev/shm (memory) when it has a GiB free, else the temp dir. On a
    busy shared disk CREATE DATABASE took 90-350 ms even with fsync off; in memory, 35 ms."""
    try:
        fs = os.statvfs(SHM)
        if fs.f_bavail * fs.f_frsize >= SHM_MIN_FREE and os.access(SHM, os.W_OK | os.X_OK):
            return SHM
    except OSError:
        pass
    return Path(tempfile.gettempdir())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def database_name(label: str, number: int) -> str:
    """A database name from a test's name: lower case, [a-z0-9_], unique by ``number``."""
    slug = re.sub(r"[^a-z0-9_]+", "_", label.lower()).strip("_")
    return f"t{number}_{slug}"[:MAX_NAME_BYTES]


@dataclass
class PostgresServer:
    """A running private cluster: its directory, binaries, port and first database."""

    root: Path
    bindir: Path
    port: int
    user: pwd.struct_passwd | None
    watchdog: subprocess.Popen[bytes] | None = None
    database: str = FIRST_DATABASE
    stopped: bool = field(default=False, init=False)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    @property
    def url(self) -> str:
        """``postgresql://postgres@127.0.0.1:PORT/promptboard``"""
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit connection (CREATE DATABASE cannot run in a transaction)."""
        return psycopg.connect(self.url_for(database), autocommit=True, connect_timeout=10)

    def new_database(self, name: str, *, template: str = "template1") -> str:
        """CREATE DATABASE ``name`` (a copy of ``template``: nobody may be connected to it)
        and return its URL."""
        if len(name.encode()) > MAX_NAME_BYTES:
            raise ValueError(f"database name over {MAX_NAME_BYTES} bytes: {name!r}")
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE, ending the sessions still connected to it."""
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the server's log (for failure messages)."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError as exc:
            return f"(no server log: {exc})"

    def pg_ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return run_as(self.user, [str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), *args],
                      cwd=self.root, timeout=timeout)

    def stop(self) -> None:
        """Stop the server (fast shutdown: sessions are ended), remove its directory and end
        the watchdog. Safe to call twice."""
        if not self.stopped:
            self.stopped = True
            if (self.data_dir / "postmaster.pid").exists():
                done = self.pg_ctl("stop", "-m", "fast", "-w", "-t", "30")
                if done.returncode != 0:
                    self.pg_ctl("stop", "-m", "immediate", "-w", "-t", "30")
            shutil.rmtree(self.root, ignore_errors=True)
        if self.watchdog is not None and self.watchdog.poll() is None:
            assert self.watchdog.stdin is not None
            self.watchdog.stdin.close()  # it wakes, finds nothing left, and exits
            try:
                self.watchdog.wait(timeout=5)
            except subprocess.TimeoutExpired:
                # Its end-of-file never came (another process still holds the pipe's write
                # end): the server is stopped and its directory gone, so nothing is left for
                # it to do.
                self.watchdog.kill()
                self.watchdog.wait(timeout=10)


def run_as(user: pwd.struct_passwd | None, argv: list[str], *, cwd: Path,
           timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool as ``user`` (None: as ourselves), in its own session, with
    English messages; stdout and stderr captured together."""
    uid = gid = None
    groups: list[int] | None = None  # as root: the user's own group, none of root's
    if user is not None:
        uid, gid, groups = user.pw_uid, user.pw_gid, []
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}  # no stray PGDATA
    env["LC_ALL"] = "C"
    return subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, start_new_session=True, check=False,
                          user=uid, group=gid, extra_groups=groups)


def _give(path: Path, user: pwd.struct_passwd | None) -> None:
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)


def _initdb(server: PostgresServer) -> None:
    done = run_as(server.user, [
        str(server.bindir / "initdb"), "-D", str(server.data_dir), "-U", SUPERUSER,
        "-E", "UTF8", "--locale=C", "--auth=trust", "--no-sync", "--no-instructions",
    ], cwd=server.root, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(
            f"initdb failed in {server.root} (the cluster's user must be able to enter every "
            f"directory above it; TMPDIR=/tmp is safe):\n{done.stdout[-2000:]}")
    hba = server.data_dir / "pg_hba.conf"
    hba.write_text(PG_HBA)  # loopback and the socket only, replacing initdb's ::1 lines
    _give(hba, server.user)


def _answers(server: PostgresServer) -> bool:
    try:
        with psycopg.connect(server.url_for("postgres"), connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


def _start(server: PostgresServer, timeout_s: float) -> bool:
    """pg_ctl start, then a connection: True once it answers, False if it did not start
    (the port was taken, say); raises if it started but never answered."""
    options = (f"-p {server.port} -k {server.socket_dir} -c listen_addresses={HOST} "
               f"{FAST_SETTINGS}")
    done = server.pg_ctl("start", "-w", "-t", str(int(timeout_s)), "-l", str(server.log_path),
                         "-o", options, timeout=timeout_s + 10)
    if done.returncode != 0:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _answers(server):
            return True
        time.sleep(0.05)
    raise RuntimeError(f"PostgreSQL started on {HOST}:{server.port} but did not answer in "
                       f"{timeout_s:g} s; its log:\n{server.log_tail()}")


def start_postgres(bindir: Path | None = None, timeout_s: float = 30.0) -> PostgresServer:
    """initdb a cluster in a new directory under ``base_dir()``, start it on a free loopback
    port and create the database ``.url`` names. The caller stops it (``stop()``)."""
    bindir = bindir or find_bindir()
    if bindir is None:
        raise PostgresUnavailable(f"PostgreSQL is not installed (no initdb under {BIN_GLOB} "
                                  "or on PATH): apt-get install postgresql")
    user = cluster_user()
    root = Path(tempfile.mkdtemp(prefix="promptboard-pg-", dir=base_dir()))
    _give(root, user)
    # Until stop(): if this process dies first, the watchdog stops the server and cleans up.
    watchdog = subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(root)], stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    server = PostgresServer(root, bindir, 0, user, watchdog)
    try:
        (server.socket_dir).mkdir()
        _give(server.socket_dir, user)
        _initdb(server)
        for _attempt in range(3):  # the free port can be taken between probe and bind
            server.port = free_port()
            if _start(server, timeout_s):
                break
        else:
            raise RuntimeError(f"PostgreSQL did not start on {HOST}; its log:\n"
                               f"{server.log_tail()}")
        server.new_database(FIRST_DATABASE)
    except BaseException:
        server.stop()
        raise
    return server


@contextmanager
def running_postgres(bindir: Path | None = None) -> Iterator[PostgresServer]:
    """A private PostgreSQL server for the duration of the block; stopped and removed after."""
    server = start_postgres(bindir)
    try:
        yield server
    finally:
        server.stop()

