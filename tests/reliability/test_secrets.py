"""No secret leaks into what Promptboard keeps or shows.

One data dir, distinctive secret values, a representative set of flows: all five providers
and an OpenAI-compatible endpoint (Azure flavour, its key in the variable its configuration
names) through their fake servers (a success each, and a failure whose error body echoes the
key back, as a malicious or careless gateway might), S3 storage on moto with its own AWS keys,
sign-ins with wrong and right passwords, a password reset, and the CLI in a subprocess. Then
every text column of every table in the DuckDB file, every log record (the lib loggers at
DEBUG), the CLI's output, every stored PNG's text metadata and every job error message are
scanned for each
secret, raw, base64, URL-encoded and (for passwords) as the "user:password" basic-auth pair.
"""

from __future__ import annotations

import base64
import io
import logging
import urllib.parse
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from PIL import Image

from lib import jobs
from lib.auth import accounts as auth
from lib.auth.cookies import cookie_key
from lib.core import config
from lib.engine import Engine
from lib.imaging import images as imaging
from lib.storage.s3 import S3Storage
from tests import s3server
from tests.fakes import a1111 as a1111_fake
from tests.fakes import compatible as compatible_fake
from tests.fakes import replicate as replicate_fake
from tests.fakes import stability as stability_fake
from tests.fakes.a1111 import FakeA1111
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai import FakeOpenAI
from tests.fakes.replicate import FakeReplicate
from tests.fakes.server import Reply
from tests.fakes.stability import FakeStability
from tests.helpers import run_cli
from tests.reliability._hostile_helpers import finish_all

# Distinctive values: each appears nowhere unless we leaked it.
SECRETS = {
    "GEMINI_API_KEY": "AIza" + "SECRETgemini7Qx9ZpLm2VbN4tKd8WcHy",
    "OPENAI_API_KEY": "sk-" + "SECRETopenai7Qx9ZpLm2VbN4tKd8WcHy",
    "STABILITY_API_KEY": "sk-" + "SECRETstability7Qx9ZpLm2VbN4tK",
    "REPLICATE_API_TOKEN": "r8_" + "SECRETreplicate7Qx9ZpLm2VbN4tK",
    "A1111_PASSWORD": "SECRETa1111pw7Qx9ZpLm",
    compatible_fake.KEY_ENV: "SECRETcompat7Qx9ZpLm2VbN4tKd8WcHy",
    "AWS_SECRET_ACCESS_KEY": "SECRETaws7Qx9ZpLm2VbN4tKd8WcHyJ3sF6gR1uE",
    "AWS_ACCESS_KEY_ID": "AKIA" + "SECRET7QX9ZPLM2V",
    "PROMPTBOARD_COOKIE_KEY": "SECRETcookie7Qx9ZpLm2VbN4tKd8WcHyJ3sF6gR1uE",
    "ADMIN_PASSWORD": "SECRETadminpw 7Qx9",
    "MEMBER_PASSWORD": "SECRETmemberpw 7Qx9",
    "NEW_PASSWORD": "SECRETnewpw 7Qx9ZpLm",
    "WRONG_PASSWORD": "SECRETwrongpw 7Qx9ZpLm",
}


def _forms(value: str) -> set[str]:
    """The secret as it could appear: raw, base64 (also of user:password), URL-encoded."""
    raw = value.encode()
    forms = {value, urllib.parse.quote(value), urllib.parse.quote_plus(value),
             base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    for user in ("sd", "root", "ann"):
        forms.add(base64.b64encode(f"{user}:{value}".encode()).decode())
    return {f for f in forms if len(f) >= 8}


def _echo(secret: str) -> Reply:
    """A 400 whose body repeats the key in every field a provider's error parser reads."""
    text = f"Invalid request for key {secret} (Authorization: Bearer {secret})"
    return Reply(400, {"error": {"message": text, "code": 400, "status": "INVALID_ARGUMENT",
                                 "type": "invalid_request_error"},
                       "detail": text, "errors": [text], "name": "bad_request", "message": text})


@pytest.fixture
def log_records() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    # Our own loggers at DEBUG; third-party ones at INFO, the level the dashboard runs at
    # (botocore's DEBUG output prints request signatures by design).
    handler, root, ours = Keep(logging.DEBUG), logging.getLogger(), logging.getLogger("lib")
    levels = root.level, ours.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    ours.setLevel(logging.DEBUG)
    yield records
    root.removeHandler(handler)
    root.setLevel(levels[0])
    ours.setLevel(levels[1])


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch, fast_bcrypt: None) -> Iterator[dict[str, Any]]:
    s = SECRETS
    made = {"gemini": FakeGemini(s["GEMINI_API_KEY"]), "openai": FakeOpenAI(s["OPENAI_API_KEY"]),
            "stability": FakeStability(s["STABILITY_API_KEY"]),
            "replicate": FakeReplicate(s["REPLICATE_API_TOKEN"]),
            "a1111": FakeA1111(auth=("sd", s["A1111_PASSWORD"]))}
    for name in ("GEMINI_API_KEY", "OPENAI_API_KEY", "STABILITY_API_KEY", "REPLICATE_API_TOKEN",
                 "PROMPTBOARD_COOKIE_KEY"):
        monkeypatch.setenv(name, s[name])
    monkeypatch.setenv("GEMINI_BASE_URL", made["gemini"].url)
    monkeypatch.setenv("OPENAI_BASE_URL", made["openai"].url)
    monkeypatch.setenv("STABILITY_BASE_URL", made["stability"].base_url)
    monkeypatch.setenv("REPLICATE_BASE_URL", made["replicate"].base_url)
    monkeypatch.setenv("PROMPTBOARD_DOWNLOAD_ALLOW_INSECURE_HOSTS",
                       made["replicate"].delivery_host)
    monkeypatch.setenv("A1111_URL", made["a1111"].url)
    monkeypatch.setenv("A1111_AUTH", f"sd:{s['A1111_PASSWORD']}")
    monkeypatch.setenv("PROMPTBOARD_MAX_ATTEMPTS", "1")
    compat = compatible_fake.FakeCompatible("azure", s[compatible_fake.KEY_ENV])
    with compat.configured("leak") as pid:  # an endpoints file naming the variable
        yield {**made, pid: compat}
    for fake in [*made.values(), compat]:
        fake.close()


def _run_flows(eng: Engine, fakes: dict[str, Any]) -> list[str]:
    """Everything a busy day does; returns every message an error showed a person."""
    s, shown = SECRETS, []
    now = eng.clock.now()
    auth.create_user(eng.db, "root", "Root", None, "admin", s["ADMIN_PASSWORD"], now=now)
    auth.create_user(eng.db, "ann", "Ann", None, "member", s["MEMBER_PASSWORD"], now=now)
    for password in (s["WRONG_PASSWORD"], s["MEMBER_PASSWORD"]):
        auth.authenticate(eng.db, "ann", password, now)
    auth.set_password(eng.db, "ann", s["NEW_PASSWORD"], now=now)
    try:
        auth.create_user(eng.db, "bob", "Bob", None, "member", "short", now=now)
    except auth.AuthError as exc:
        shown.append(str(exc))
    cookie_key(eng.settings)
    ref = io.BytesIO()
    Image.new("RGB", (64, 64), "blue").save(ref, "PNG")
    wm = imaging.WatermarkSpec(text="© team")
    for provider, fake in fakes.items():
        ok = jobs.submit(eng, "ann", jobs.JobSpec(prompt=f"a {provider} fox", provider=provider,
                                                  watermark=wm))
        finish_all(eng)
        echo = _echo(s["A1111_PASSWORD"] if provider == "a1111" else s[_key_env(provider)])
        if provider in SCRIPTED:
            fake.server.script(SCRIPTED[provider], echo)
        elif provider.startswith("compat-"):
            fake.server.script(fake.route, echo)
        else:
            fake.enqueue(echo)
        bad = jobs.submit(eng, "ann", jobs.JobSpec(prompt=f"a failing {provider} fox",
                                                   provider=provider))
        finish_all(eng)
        for job in jobs.load(eng, [ok, bad]):
            shown.append(job.error_message or "")
    jobs.submit(eng, "ann", jobs.JobSpec(prompt="with a reference", reference=ref.getvalue()))
    finish_all(eng)
    return shown


SCRIPTED = {"stability": stability_fake.GENERATE, "replicate": replicate_fake.CREATE,
            "a1111": a1111_fake.GENERATE}  # the fakes without an enqueue()


def _key_env(provider: str) -> str:
    return {"gemini": "GEMINI_API_KEY", "openai": "OPENAI_API_KEY",
            "stability": "STABILITY_API_KEY", "replicate": "REPLICATE_API_TOKEN",
            "compat-leak": compatible_fake.KEY_ENV}[provider]


def _db_text(eng: Engine) -> list[tuple[str, str]]:
    """(table.column, value) for every text-like value in every table."""
    found = []
    for (table,) in eng.db.fetchall("SELECT table_name FROM information_schema.tables "
                                    "WHERE table_schema = 'main'"):
        for (col,) in eng.db.fetchall("SELECT column_name FROM information_schema.columns WHERE "
                                      "table_name = ? AND data_type NOT IN ('BOOLEAN', 'DATE')",
                                      [table]):
            for (value,) in eng.db.fetchall(f'SELECT CAST("{col}" AS VARCHAR) FROM "{table}" '
                                            f'WHERE "{col}" IS NOT NULL'):
                found.append((f"{table}.{col}", str(value)))
    return found


def _leaks(where: str, text: str) -> list[str]:
    return [f"{name} in {where}" for name, value in SECRETS.items()
            for form in _forms(value) if form in text]


def test_no_secret_reaches_the_database_logs_images_or_messages(
    fakes: dict[str, Any], log_records: list[logging.LogRecord],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", SECRETS["AWS_ACCESS_KEY_ID"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRETS["AWS_SECRET_ACCESS_KEY"])
    with s3server.running_moto_server() as moto:
        client = boto3.session.Session(region_name="us-east-1").client(
            "s3", endpoint_url=moto.endpoint)
        client.create_bucket(Bucket="pb-secrets")
        store = S3Storage("pb-secrets", "pb", client=client)
        eng = Engine(config.load(), storage=store)
        try:
            shown = _run_flows(eng, fakes)
            statuses = [r[0] for r in eng.db.fetchall("SELECT status FROM jobs ORDER BY 1")]
            assert statuses.count("succeeded") >= 7 and statuses.count("failed") >= 6
            pngs = [store.get(k) for k in store.list_keys("") if k.endswith(".png")]
            db_values = _db_text(eng)
        finally:
            eng.close()
    cli = run_cli("generate", "--provider", "sandbox", "--prompt", "cli fox", "--size",
                  "64x64", env={"PROMPTBOARD_LOG_LEVEL": "DEBUG",
                                **{k: v for k, v in SECRETS.items() if k.isupper()}})
    assert cli.returncode == 0, cli.stderr

    leaks: list[str] = []
    for where, value in db_values:
        leaks += _leaks(f"the database ({where})", value)
    for record in log_records:
        leaks += _leaks(f"the log ({record.name})", record.getMessage() + str(record.exc_text))
    leaks += _leaks("the CLI output", cli.stdout + cli.stderr)
    assert len(pngs) >= 6
    for png in pngs:
        leaks += _leaks("PNG metadata", repr(imaging.read_png_metadata(png)))
    for message in shown:
        leaks += _leaks("an error message", message)
    assert leaks == []
    assert len(db_values) > 100 and log_records  # the scan saw real data
