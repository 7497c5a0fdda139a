"""A real S3-compatible server on loopback for tests: ``moto_server`` in a subprocess.

Import the fixture into a test module (fixtures cannot be shared through
``pytest_plugins`` outside conftest.py)::

    from tests import s3server

    moto_endpoint = s3server.moto_endpoint      # module-scoped: one server per test module

    def test_x(moto_endpoint: str) -> None:
        client = s3server.client_for(moto_endpoint)

A test that needs to kill its server uses ``running_moto_server()`` directly so
the shared one stays up. Nothing here listens on anything but 127.0.0.1.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import boto3
import pytest
from botocore.config import Config

HOST = "127.0.0.1"
TEST_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass
class MotoServer:
    """A running moto_server subprocess and the URL it answers on."""

    endpoint: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def stop(self) -> None:
        """Kill the server and wait for it to exit (safe to call twice)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)

    def output(self) -> str:
        """What the server printed so far (for failure messages)."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _command(port: int) -> list[str]:
    # Prefer the interpreter running the tests, so a stray moto_server on PATH
    # from another environment cannot be picked up by accident.
    try:
        import moto.server  # noqa: F401
    except ImportError:
        exe = shutil.which("moto_server")
        if exe is None:
            pytest.skip("moto[server] is not installed (pip install 'moto[server]')")
        return [exe, "-H", HOST, "-p", str(port)]
    return [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)]


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(endpoint + "/moto-api/", timeout=0.5):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is up
    except OSError:
        return False


def start_moto_server(timeout_s: float = 20.0) -> MotoServer:
    """Start moto_server on a free loopback port and return once it answers HTTP."""
    last_output = ""
    for _attempt in range(3):  # the free port can be taken between probe and bind
        port = _free_port()
        # a file, not a pipe: nobody reads it, and a full pipe would stall the server
        log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by MotoServer's owner
        process = subprocess.Popen(
            _command(port), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        server = MotoServer(f"http://{HOST}:{port}", process, log)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and process.poll() is None:
            if _answers(server.endpoint):
                return server
            time.sleep(0.05)
        last_output = server.output()
        server.stop()
        log.close()
    raise RuntimeError(f"moto_server did not start on {HOST}; its output:\n{last_output}")


@contextmanager
def running_moto_server() -> Iterator[MotoServer]:
    """A moto_server for the duration of the block; killed afterwards."""
    server = start_moto_server()
    try:
        yield server
    finally:
        server.stop()
        server.log.close()


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """The endpoint URL of one moto_server shared by the importing test module."""
    with running_moto_server() as server:
        yield server.endpoint


def client_for(endpoint: str, *, timeout_s: float = 5.0, max_attempts: int = 3) -> Any:
    """A boto3 S3 client for ``endpoint`` with dummy credentials, ignoring ~/.aws and env."""
    config = Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        signature_version="s3v4",
    )
    return boto3.session.Session(**TEST_CREDENTIALS, region_name="us-east-1").client(
        "s3", endpoint_url=endpoint, config=config
    )
