"""SSRF through Replicate output URLs (security review finding 2), through the real job engine.

A model someone published returns whatever URLs it likes. The fake Replicate plays that model
(``fake.outputs``); an "internal service" on 127.0.0.2 (loopback, like a metadata endpoint or
an admin port) logs every hit and answers with a secret. A hostile server on 127.0.0.1 plays
an allowed delivery host (named in the test-only setting) that misbehaves: redirects away,
600 MB bodies, a pixel bomb. Each case checks the job's message, that nothing was stored, and
that the internal service was never reached; the figures go to the ``ssrf`` report section.
"""

from __future__ import annotations

import struct
import threading
import tracemalloc
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from lib import jobs
from lib.core import config
from lib.engine import Engine
from lib.jobs.retry import RetryPolicy
from lib.providers import registry
from lib.providers.base import GeneratedImage, GenerationResult
from lib.providers.replicate import ReplicateProvider
from tests.fakes.replicate import FakeReplicate, png_bytes
from tests.helpers import TickingClock, run_next
from tests.reliability import report

TOKEN = "rpl-TOKEN-SECRET-456"  # a gateway-style token that no key-shape pattern matches
SECRET_BODY = b"INTERNAL-ONLY: db_password=hunter2 aws_secret=AKIAINTERNAL"
BIG = 600 * 1024 * 1024  # the body size from the finding
BLOCK = b"\0" * (256 * 1024)


def _png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header says width x height."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 4096)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


class Hostile:
    """A loopback HTTP server that logs hits and misbehaves by path.

    /secret         403 with a secret-looking body (the internal service)
    /ok.png         a small real PNG
    /redirect?to=U  302 to U
    /chunked        600 MB, chunked, from a generator (never allocated)
    /declared       Content-Length: 600 MB, then waits instead of sending a byte
    /bomb.png?side=N  a PNG header claiming N x N pixels, in a few kB
    """

    def __init__(self, host: str) -> None:
        self.hits: list[str] = []
        self.sent = 0
        self.release = threading.Event()
        owner = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                owner.hits.append(self.path)
                try:
                    owner._answer(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client hung up: that is the point

        self._httpd = ThreadingHTTPServer((host, 0), _H)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base = f"http://{host}:{self.port}"
        self.host_port = f"{host}:{self.port}"
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        if parts.path == "/secret":
            self._reply(h, 403, SECRET_BODY, "text/plain")
        elif parts.path == "/ok.png":
            self._reply(h, 200, png_bytes(80, 48), "image/png")
        elif parts.path == "/bomb.png":
            side = int(parse_qs(parts.query)["side"][0])
            self._reply(h, 200, _png_claiming(side, side), "image/png")
        elif parts.path == "/redirect":
            h.send_response(302)
            h.send_header("Location", parse_qs(parts.query)["to"][0])
            h.send_header("Content-Length", "0")
            h.end_headers()
        elif parts.path == "/declared":
            h.send_response(200)
            h.send_header("Content-Type", "image/png")
            h.send_header("Content-Length", str(BIG))
            h.end_headers()
            h.wfile.flush()
            self.release.wait(10)  # a client that reads the body would time out here
            h.close_connection = True
        elif parts.path == "/chunked":
            h.send_response(200)
            h.send_header("Content-Type", "image/png")
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            for block in _blocks(BIG):
                h.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
                self.sent += len(block)
            h.wfile.write(b"0\r\n\r\n")
        else:
            self._reply(h, 404, b"no such path", "text/plain")

    @staticmethod
    def _reply(h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def close(self) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def _blocks(total: int) -> Iterator[bytes]:
    """``total`` bytes as the same preallocated block again and again."""
    while total > 0:
        yield BLOCK if total >= len(BLOCK) else BLOCK[:total]
        total -= len(BLOCK)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[FakeReplicate, Hostile, Hostile]]:
    fake, internal, delivery = FakeReplicate(token=TOKEN), Hostile("127.0.0.2"), Hostile(
        "127.0.0.1")
    yield fake, internal, delivery
    fake.close()
    internal.close()
    delivery.close()


@pytest.fixture
def fake(servers: tuple[FakeReplicate, Hostile, Hostile]) -> FakeReplicate:
    servers[0].reset()
    return servers[0]


@pytest.fixture
def internal(servers: tuple[FakeReplicate, Hostile, Hostile]) -> Hostile:
    servers[1].hits.clear()
    return servers[1]


@pytest.fixture
def delivery(servers: tuple[FakeReplicate, Hostile, Hostile]) -> Hostile:
    servers[2].hits.clear()
    servers[2].sent = 0
    return servers[2]


@pytest.fixture
def engine(fake: FakeReplicate, delivery: Hostile,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    # the test setting names the fake delivery and the misbehaving "allowed" host, nothing else
    monkeypatch.setenv("PROMPTBOARD_DOWNLOAD_ALLOW_INSECURE_HOSTS",
                       f"{fake.delivery_host},{delivery.host_port}")
    monkeypatch.setenv("PROMPTBOARD_HTTP_TIMEOUT", "5")

    def factory(provider_id: str) -> ReplicateProvider:
        p = registry.create(provider_id)
        assert isinstance(p, ReplicateProvider)
        p.poll_interval = 0.01
        return p

    eng = Engine(config.load(), clock=TickingClock(), provider_factory=factory,
                 retry_policy=RetryPolicy(base_s=2.0, cap_s=120.0, jitter=0.0))
    yield eng
    eng.close()
    assert not eng.internal_errors, eng.internal_errors


def _run(engine: Engine, fake: FakeReplicate, url: str) -> jobs.Job:
    """One job whose model returns ``url``; the job after its one attempt."""
    fake.outputs = [url]
    job_id = jobs.submit(engine, "ann", jobs.JobSpec(provider="replicate",
                                                     model="evil/ssrf", prompt="a fox"))
    run_next(engine)
    found = jobs.get(engine, job_id)
    assert found is not None
    return found


def _stored(engine: Engine) -> tuple[int, list[Path]]:
    """Image rows, and files under the images directory."""
    rows = int(engine.db.scalar("SELECT count(*) FROM images"))
    folder = engine.settings.images_dir
    return rows, [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def _refused(engine: Engine, job: jobs.Job, *fragments: str) -> str:
    message = job.error_message or ""
    assert job.status == jobs.FAILED and job.error_type == "bad_response", message
    for fragment in fragments:
        assert fragment in message
    assert "hunter2" not in message and TOKEN not in message
    assert _stored(engine) == (0, [])
    return message


# --------------------------------------------------------------------------- the cases


@pytest.mark.parametrize(("path", "fragment"), [
    ("http://127.0.0.2:{port}/secret", "not https"),
    ("https://127.0.0.2:{port}/secret", "port"),
    ("https://127.0.0.2/secret", "not a download host"),
    ("http://169.254.169.254/latest/meta-data/", "not https"),
    ("https://[::ffff:127.0.0.2]/secret", "not a download host"),
    ("file:///etc/passwd", "not https (file scheme)"),
], ids=["http", "https-port", "https", "metadata", "mapped-v6", "file"])
def test_a_model_that_returns_an_internal_url_fails_and_the_service_is_never_hit(
    engine: Engine, fake: FakeReplicate, internal: Hostile, path: str, fragment: str,
) -> None:
    url = path.format(port=internal.port)
    job = _run(engine, fake, url)
    message = _refused(engine, job, fragment)
    assert internal.hits == []
    report.row("ssrf", test="internal URL from a model", url=url,
               outcome="refused", internal_hits=len(internal.hits), message=message)


def test_a_redirect_to_a_disallowed_host_is_refused(
    engine: Engine, fake: FakeReplicate, internal: Hostile, delivery: Hostile,
) -> None:
    job = _run(engine, fake, f"{delivery.base}/redirect?to={internal.base}/secret")
    message = _refused(engine, job, "not https")
    assert internal.hits == [] and len(delivery.hits) == 1
    report.row("ssrf", test="redirect to an internal host", outcome="refused",
               internal_hits=len(internal.hits), message=message)


def test_a_host_name_that_resolves_to_loopback_is_refused_before_connecting(
    engine: Engine, fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMPTBOARD_DOWNLOAD_HOSTS", "localhost")  # allowed by name...
    job = _run(engine, fake, "https://localhost/secret")  # ...but it resolves to 127.0.0.1
    message = _refused(engine, job, "private, local or reserved address")
    report.row("ssrf", test="allowed name resolving to loopback", outcome="refused",
               message=message)


def test_an_oversize_content_length_is_refused_before_reading_the_body(
    engine: Engine, fake: FakeReplicate, delivery: Hostile,
) -> None:
    job = _run(engine, fake, f"{delivery.base}/declared")
    # the server sends no body byte: a client that tried to read it would time out instead
    message = _refused(engine, job, "larger than the 64 MB download limit",
                       "PROMPTBOARD_MAX_DOWNLOAD_MB")
    report.row("ssrf", test="Content-Length 600 MB", outcome="refused before the body",
               message=message)


def test_a_600_mb_chunked_body_is_cut_off_at_the_cap_and_memory_stays_bounded(
    engine: Engine, fake: FakeReplicate, delivery: Hostile,
) -> None:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        job = _run(engine, fake, f"{delivery.base}/chunked")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = _refused(engine, job, "larger than the 64 MB download limit")
    cap = engine.settings.max_download_bytes
    assert peak < BIG / 4  # the body was never held whole: about the cap, not 600 MB
    assert delivery.sent < BIG / 2  # and the download stopped long before the end
    report.row("ssrf", test="chunked 600 MB body", outcome="aborted at the cap",
               peak_mb=round(peak / 2**20), cap_mb=round(cap / 2**20),
               served_mb=round(delivery.sent / 2**20), message=message)


@pytest.mark.parametrize(("side", "fragment"), [
    (10_000, "10000×10000 pixels (100 MP)"),  # the finding's image: Pillow would open it
    (20_000, "400 MP"),  # more than Pillow opens at all
])
def test_a_pixel_bomb_is_refused_before_it_is_decoded(
    engine: Engine, fake: FakeReplicate, delivery: Hostile, side: int, fragment: str,
) -> None:
    job = _run(engine, fake, f"{delivery.base}/bomb.png?side={side}")
    message = _refused(engine, job, fragment, "40 MP limit", "PROMPTBOARD_MAX_OUTPUT_PIXELS")
    report.row("ssrf", test=f"{side}x{side} header in a few kB", outcome="refused",
               message=message)


def test_an_allowed_host_works_through_the_test_setting_even_after_a_redirect(
    engine: Engine, fake: FakeReplicate, delivery: Hostile,
) -> None:
    job = _run(engine, fake, f"{delivery.base}/redirect?to=/ok.png")
    assert job.status == jobs.SUCCEEDED, job.error_message
    rows, files = _stored(engine)
    assert rows == 1 and files
    assert [h.split("?")[0] for h in delivery.hits] == ["/redirect", "/ok.png"]
    report.row("ssrf", test="allowed host with a redirect on it", outcome="stored",
               images=rows)


def test_the_test_setting_opens_only_the_exact_port_it_names(
    engine: Engine, fake: FakeReplicate, delivery: Hostile, internal: Hostile,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMPTBOARD_DOWNLOAD_ALLOW_INSECURE_HOSTS", delivery.host_port)
    job = _run(engine, fake, f"http://127.0.0.1:{internal.port}/secret")  # same IP, other port
    _refused(engine, job, "not https")
    monkeypatch.setenv("PROMPTBOARD_DOWNLOAD_ALLOW_INSECURE_HOSTS", f"10.0.0.8:{internal.port}")
    job = _run(engine, fake, f"{delivery.base}/ok.png")  # a non-loopback entry is an error
    message = _refused(engine, job, "PROMPTBOARD_DOWNLOAD_ALLOW_INSECURE_HOSTS", "tests only")
    report.row("ssrf", test="test setting: other port, non-loopback entry", outcome="refused",
               message=message)


@pytest.mark.parametrize(("data", "fragment"), [
    (_png_claiming(10_000, 10_000), "10000×10000 pixels (100 MP), over Promptboard's 40 MP"),
    (b"\x89PNG" + b"\0" * (65 * 2**20), "over Promptboard's 64 MB limit"),
], ids=["100-megapixels", "65-megabytes"])
def test_an_image_sent_inline_is_held_to_the_same_caps_before_it_is_decoded(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, data: bytes, fragment: str,
) -> None:
    """Gemini, OpenAI, Stability and A1111 send bytes, not URLs: the pipeline checks them."""
    def inline(self: ReplicateProvider, req: Any, ctx: Any = None) -> GenerationResult:
        return GenerationResult(images=[GeneratedImage(data, "image/png")],
                                usage={"images": 1.0})

    monkeypatch.setattr(ReplicateProvider, "generate", inline)
    job_id = jobs.submit(engine, "ann", jobs.JobSpec(provider="replicate", prompt="a fox"))
    run_next(engine)
    job = jobs.get(engine, job_id)
    assert job is not None
    message = _refused(engine, job, fragment, "an admin can raise PROMPTBOARD_MAX_")
    report.row("ssrf", test="inline image over a cap (any provider)", outcome="refused",
               message=message)


def test_a_size_over_the_pixel_cap_is_refused_at_submit_before_anything_is_paid(
    engine: Engine, fake: FakeReplicate,
) -> None:
    with pytest.raises(jobs.SubmitError, match="8192×6144 is over the 40 MP limit"):
        jobs.submit(engine, "ann", jobs.JobSpec(provider="replicate", prompt="a fox",
                                                width=8192, height=6144))
    assert fake.server.history == []
