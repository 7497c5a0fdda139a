"""OpenAI-compatible endpoints against a fake of each flavour: the configuration and its
checks, the registry, Bearer and Azure calls, links downloaded through the allow-listed
downloader, cost unknown until priced, a gateway's own cost header, errors, and the key."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from lib import jobs
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.jobs.repricing import add_price
from lib.money import costs, reported
from lib.providers import compatible, endpoints, registry
from lib.providers.base import BadResponse, GenerationRequest, NeedsKey
from tests.fakes import compatible as fc
from tests.fakes.server import Reply
from tests.helpers import ROOT, run_next
from tests.providers.engines import provider_engine

T0 = datetime(2026, 12, 7, 9, 0)


@pytest.fixture(scope="module", params=["openai", "azure"])
def shared(request: pytest.FixtureRequest) -> Iterator[fc.FakeCompatible]:
    fake = fc.FakeCompatible(request.param)
    yield fake
    fake.close()


@pytest.fixture
def fake(shared: fc.FakeCompatible) -> fc.FakeCompatible:
    shared.reset()
    return shared


@pytest.fixture
def bearer() -> Iterator[fc.FakeCompatible]:
    made = fc.FakeCompatible("openai")
    yield made
    made.close()


def engine_for(fake: fc.FakeCompatible, monkeypatch: pytest.MonkeyPatch,
               caplog: pytest.LogCaptureFixture, **settings: Any) -> Iterator[tuple[Engine, str]]:
    with fake.configured("edge", **settings) as pid:
        for eng in provider_engine(monkeypatch, {"PROMPTBOARD_HTTP_TIMEOUT": "2"}, FakeClock(T0),
                                   secret=fake.key, log=lambda: caplog.text):
            yield eng, pid
    assert fake.violations == []


@pytest.fixture
def setup(fake: fc.FakeCompatible, monkeypatch: pytest.MonkeyPatch,
          caplog: pytest.LogCaptureFixture) -> Iterator[tuple[Engine, str]]:
    yield from engine_for(fake, monkeypatch, caplog)


def submit(engine: Engine, pid: str, **kw: Any) -> str:
    kw.setdefault("prompt", "a lighthouse at dusk")
    return jobs.submit(engine, "ann", jobs.JobSpec(provider=pid, **kw))


def job(engine: Engine, job_id: str) -> jobs.Job:
    found = jobs.get(engine, job_id)
    assert found is not None
    return found


# --------------------------------------------------------------------------- calls


def test_a_job_runs_with_the_flavour_s_path_auth_and_body(
    setup: tuple[Engine, str], fake: fc.FakeCompatible
) -> None:
    engine, pid = setup
    job_id = submit(engine, pid, n=2, width=1536, height=1024, quality="high",
                    model="image-model-b")
    assert run_next(engine) == jobs.SUCCEEDED
    sent = fake.calls()[0]
    if fake.flavour == "azure":
        assert sent.path == "/openai/deployments/image-model-b/images/generations"
        assert sent.query == {"api-version": [fc.API_VERSION]}
        assert sent.headers["api-key"] == fc.KEY and "authorization" not in sent.headers
        assert sent.json() == {"prompt": "a lighthouse at dusk", "n": 2, "size": "1536x1024",
                               "quality": "high"}
    else:
        assert sent.path == "/v1/images/generations"
        assert sent.headers["authorization"] == f"Bearer {fc.KEY}"
        assert sent.json() == {"model": "image-model-b", "prompt": "a lighthouse at dusk",
                               "n": 2, "size": "1536x1024", "quality": "high"}
    done = job(engine, job_id)
    assert json.loads(done.usage or "{}") == {"images": 2.0}
    assert done.cost_usd is None  # no price is shipped for an endpoint: cost unknown
    assert engine.db.scalar("SELECT count(*) FROM images WHERE job_id = ?", [job_id]) == 2


def test_a_gateway_sending_more_images_than_asked_gives_only_those_asked(
    setup: tuple[Engine, str], fake: fc.FakeCompatible
) -> None:
    engine, pid = setup
    fake.extra = 3
    job_id = submit(engine, pid, n=1, model="image-model-b")
    assert run_next(engine) == jobs.SUCCEEDED
    assert engine.db.scalar("SELECT count(*) FROM images WHERE job_id = ?", [job_id]) == 1


def test_an_admin_s_price_row_prices_the_endpoint(
    setup: tuple[Engine, str], fake: fc.FakeCompatible
) -> None:
    engine, pid = setup
    add_price(engine.db, "root", pid, "*", "*", "images", Decimal("0.04"), date(2026, 12, 1),
              "our contract", T0)
    job_id = submit(engine, pid, n=3)
    assert run_next(engine) == jobs.SUCCEEDED
    assert job(engine, job_id).cost_usd == Decimal("0.12")


def test_links_are_downloaded_from_the_image_host_without_the_key(
    fake: fc.FakeCompatible, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # xAI and Recraft answer links on their own image hosts: allowed by download_hosts
    for engine, pid in engine_for(fake, monkeypatch, caplog, response_format="url",
                                  download_hosts=["127.0.0.1"]):
        job_id = submit(engine, pid, n=2)
        assert run_next(engine) == jobs.SUCCEEDED
        assert fake.calls()[0].json()["response_format"] == "url"
        assert fake.host_auth == [None, None]
        assert engine.db.scalar("SELECT count(*) FROM images WHERE job_id = ?", [job_id]) == 2


def test_xai_s_data_url_base64_and_token_usage_are_read(bearer: fc.FakeCompatible) -> None:
    """xAI answers ``b64_json`` as a data URL with a ``revised_prompt`` [2nd: grok-api.apidog.io
    copy of docs.x.ai]; a gateway in front of a GPT image model passes OpenAI's ``usage`` on."""
    png = fc.png_bytes(32, 32)
    bearer.server.script(bearer.route, Reply(200, {"data": [
        {"b64_json": "data:image/png;base64," + fc.b64(png), "revised_prompt": "a cat"}],
        "usage": {"input_tokens": 12, "output_tokens": 272,
                  "input_tokens_details": {"text_tokens": 12, "image_tokens": 0}}}))
    with bearer.configured("edge") as pid:
        got = registry.create(pid).generate(GenerationRequest("a cat", "image-model-a"))
    assert got.images[0].data == png and got.reported_usage == {}
    assert got.usage == {"input_text_tokens": 12.0, "input_image_tokens": 0.0,
                         "output_image_tokens": 272.0}


def test_a_link_off_the_allowed_hosts_is_not_fetched(bearer: fc.FakeCompatible) -> None:
    bearer.server.script(bearer.route, Reply(200, {"data": [
        {"url": "https://images.elsewhere.example/out.png"}]}))
    with bearer.configured("edge", response_format="url", download_hosts=["x.ai"]) as pid:
        provider = registry.create(pid)
        with pytest.raises(BadResponse, match="images.elsewhere.example, which is not a "
                                              "download host Promptboard trusts"):
            provider.generate(GenerationRequest("a fox", "image-model-a"))


def test_a_gateway_s_cost_header_is_recorded_beside_the_computed_cost(
    bearer: fc.FakeCompatible, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bearer.cost = "0.0415"
    for engine, pid in engine_for(bearer, monkeypatch, caplog,
                                  cost_header="x-litellm-response-cost"):
        unpriced = submit(engine, pid)
        assert run_next(engine) == jobs.SUCCEEDED
        first = job(engine, unpriced)
        assert (first.cost_usd, first.provider_cost_usd) == (None, Decimal("0.0415"))
        add_price(engine.db, "root", pid, "*", "*", "images", Decimal("0.04"),
                  date(2026, 12, 1), "our contract", T0)
        priced = submit(engine, pid, prompt="another")
        assert run_next(engine) == jobs.SUCCEEDED
        assert [m.job_id for m in reported.mismatches(engine.db)] == [priced]


@pytest.mark.parametrize("raw", ["abc", "-1", "nan", "inf", "", "1e25", "20000"])
def test_a_cost_header_that_is_not_an_amount_is_ignored(raw: str) -> None:
    import requests

    resp = requests.Response()
    resp.headers["x-litellm-response-cost"] = raw
    assert compatible.reported_cost(resp, "x-litellm-response-cost") == {}


def test_the_reported_unit_is_priced_one_to_one(engine: Engine) -> None:
    assert compatible.USD == costs.USD
    got = costs.cost_of(engine.db, "compat-any", "m", {"usd": 0.0415}, T0)
    assert got.total == Decimal("0.0415") and got.unpriced == ()


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("reply", "error_type", "says"), [
    (fc.error(400, "Your request was rejected by the safety system.", "moderation_blocked"),
     "safety", "Rephrase"),
    (fc.content_filter(), "safety", "content management policy"),
    (fc.error(429, "You exceeded your current quota.", "insufficient_quota"), "quota",
     "out of credit"),
    (fc.error(404, "The model does not exist.", "model_not_found"), "rejected",
     "endpoint 'edge'"),
    (fc.error(400, "Invalid size.", None), "rejected", "Invalid size."),
], ids=["moderation", "azure-content-filter", "quota", "model-not-found", "400"])
def test_refusals_fail_at_once(setup: tuple[Engine, str], fake: fc.FakeCompatible,
                               reply: Reply, error_type: str, says: str) -> None:
    engine, pid = setup
    fake.server.script(fake.route, reply)
    job_id = submit(engine, pid)
    assert run_next(engine) == jobs.FAILED
    failed = job(engine, job_id)
    assert failed.error_type == error_type and says in (failed.error_message or "")
    assert failed.attempts == 1 and len(fake.calls()) == 1
    assert "endpoints.toml" not in (failed.error_message or "")  # the server's path: admins only


def test_a_wrong_key_names_the_variable_never_the_key(
    setup: tuple[Engine, str], fake: fc.FakeCompatible, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, pid = setup
    fake.key = "a-different-key-the-fake-expects-0000"
    try:
        job_id = submit(engine, pid)
        assert run_next(engine) == jobs.FAILED
    finally:
        fake.key = fc.KEY
    failed = job(engine, job_id)
    message = failed.error_message or ""
    assert failed.error_type == "needs_key" and fc.KEY_ENV in message
    assert fc.KEY not in message and "***" in message  # the fake echoed it: redacted


def test_a_rate_limit_is_retried_after_its_hint(
    setup: tuple[Engine, str], fake: fc.FakeCompatible
) -> None:
    engine, pid = setup
    fake.server.script(fake.route, fc.error(429, "Rate limit reached. Please try again in 12s.",
                                            "rate_limit_exceeded"))
    job_id = submit(engine, pid)
    assert run_next(engine) == jobs.QUEUED
    queued = job(engine, job_id)
    assert queued.next_run_at is not None
    assert (queued.next_run_at - engine.clock.now()).total_seconds() == pytest.approx(12.0)
    engine.clock.advance(12)  # type: ignore[attr-defined]
    assert run_next(engine) == jobs.SUCCEEDED


def test_without_its_key_the_endpoint_says_which_variable_to_set(
    bearer: fc.FakeCompatible,
) -> None:
    with bearer.configured("edge", key=False) as pid:
        cls = registry.get(pid)
        assert not registry.is_configured(cls) and pid not in registry.available()
        status = next(s for s in registry.statuses() if s.id == pid)
        assert fc.KEY_ENV in status.hint and "endpoint 'edge'" in status.hint
    assert pid not in registry.PROVIDERS  # restored


def test_the_connection_test_lists_the_models_with_the_key(fake: fc.FakeCompatible) -> None:
    with fake.configured("edge") as pid:
        provider = registry.create(pid)
        if fake.flavour == "azure":
            assert "generate one image" in provider.test_connection()
            assert fake.server.history == []
            return
        assert provider.test_connection() == "Fake openai endpoint accepted the key and lists 2 " \
            "model(s)."
        fake.key = "another-key-0000000000000000"
        try:
            with pytest.raises(NeedsKey, match=fc.KEY_ENV) as caught:
                provider.test_connection()
        finally:
            fake.key = fc.KEY
        assert fc.KEY not in caught.value.message


# --------------------------------------------------------------------------- configuration


def problems_of(text: str) -> list[str]:
    return endpoints.parse(text, "endpoints.toml")[1]


GOOD = """
[endpoints.xai]
label = "xAI Grok Imagine"
base_url = "https://api.x.ai/v1"
key_env = "XAI_API_KEY"
models = ["grok-imagine-image"]
"""


def test_the_example_file_loads_without_a_problem() -> None:
    text = (ROOT / ".streamlit" / "endpoints.example.toml").read_text(encoding="utf-8")
    found, problems = endpoints.parse(text, "endpoints.example.toml")
    assert problems == []
    assert {e.flavour for e in found} == {"openai", "azure"}
    assert {e.provider_id for e in found} >= {"compat-azure-east", "compat-xai",
                                              "compat-litellm"}


@pytest.mark.parametrize(("setting", "says"), [
    ('api_key = "sk-live-0123456789"', "Keys never go in this file"),
    ('base_url = "http://gateway.example.com/v1"', "plain http to another machine"),
    ('base_url = "https://user:pw@api.x.ai/v1"', "may not carry a user"),
    ('base_url = "ftp://api.x.ai"', "must be an http(s) URL"),
    ('flavour = "gemini"', "flavour must be one of"),
    ("max_n = 99", "max_n must be a whole number from 1 to 10"),
    ('models = []', "models must be a non-empty list"),
    ('default_model = "other"', "default_model must be one of the listed"),
    ('sizes = ["big"]', "sizes must be a list"),
    ('label = "**bold** [link](javascript:x)"', "label is not valid"),
    ('cost_header = "x-cost: 1"', "cost_header is not valid"),
])
def test_a_bad_setting_skips_that_entry_and_names_it(setting: str, says: str) -> None:
    key = setting.split(" =")[0]
    base = "\n".join(line for line in GOOD.splitlines() if not line.startswith(f"{key} ="))
    found, problems = endpoints.parse(base + "\n" + setting + "\n" + GOOD.replace("xai", "ok"),
                                      "endpoints.toml")
    assert [e.name for e in found] == ["ok"]  # the other entry still loads
    assert len(problems) == 1 and problems[0].startswith("endpoints.toml, endpoint 'xai':")
    assert says in problems[0]


def test_a_key_pasted_as_key_env_is_refused_without_repeating_it() -> None:
    pasted = "xai-AbCdEf0123456789secret"
    problems = problems_of(GOOD.replace('"XAI_API_KEY"', f'"{pasted}"'))
    assert len(problems) == 1 and "key_env must name an environment variable" in problems[0]
    assert pasted not in problems[0]


def test_promptboard_s_own_settings_cannot_be_sent_as_a_key() -> None:
    problems = problems_of(GOOD.replace("XAI_API_KEY", "PROMPTBOARD_COOKIE_KEY"))
    assert "Promptboard's own settings" in problems[0]


def test_azure_needs_its_api_version_and_deployment_names() -> None:
    azure = GOOD.replace('label =', 'flavour = "azure"\nlabel =')
    assert "api_version is required" in problems_of(azure)[0]
    with_version = azure + 'api_version = "2025-04-01-preview"\n'
    assert problems_of(with_version) == []
    assert "models must be" in problems_of(with_version.replace("grok-imagine-image",
                                                                "team/model"))[0]


def test_broken_toml_and_bad_names_are_problems_not_crashes() -> None:
    assert "not valid TOML" in problems_of("[endpoints.xai\nbase_url = ")[0]
    assert "endpoint name 'X AI'" in problems_of(GOOD.replace("endpoints.xai",
                                                              'endpoints."X AI"'))[0]
    assert "must be tables" in problems_of("endpoints = 3")[0]
    assert "unknown top-level setting" in problems_of("other = 1\n" + GOOD)[0]


def test_the_registry_loads_the_file_and_the_variable_and_keeps_the_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "endpoints.toml"
    path.write_text(GOOD + GOOD.replace("xai]", "broken]").replace("https", "ftp"),
                    encoding="utf-8")
    monkeypatch.setenv("PROMPTBOARD_ENDPOINTS_FILE", str(path))
    monkeypatch.setenv("PROMPTBOARD_ENDPOINTS", GOOD.replace("xai]", "other]")
                       + GOOD.replace("xai]", "xai]\n# again"))
    try:
        problems = registry.reload()
        assert {"compat-xai", "compat-other"} <= set(registry.PROVIDERS)
        assert "compat-broken" not in registry.PROVIDERS
        assert len(problems) == 2 and registry.endpoint_problems() == problems
        assert any("'broken'" in p and str(path) in p for p in problems)
        assert any("name is taken" in p for p in problems)
        assert list(registry.PROVIDERS)[:len(registry.BUILT_IN)] == list(registry.BUILT_IN)
    finally:
        monkeypatch.setenv("PROMPTBOARD_ENDPOINTS_FILE", os.devnull)  # as tests/conftest.py
        monkeypatch.delenv("PROMPTBOARD_ENDPOINTS")
        registry.reload()
    assert list(registry.PROVIDERS) == list(registry.BUILT_IN)
    assert registry.endpoint_problems() == []


def test_an_unreadable_file_is_a_problem(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTBOARD_ENDPOINTS_FILE", str(tmp_path))  # a folder
    assert endpoints.load().problems == ()  # not a file: nothing configured
    big = tmp_path / "big.toml"
    big.write_text("#" * (endpoints.MAX_FILE_BYTES + 1))
    monkeypatch.setenv("PROMPTBOARD_ENDPOINTS_FILE", str(big))
    assert "larger than" in endpoints.load().problems[0]
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe")
    monkeypatch.setenv("PROMPTBOARD_ENDPOINTS_FILE", str(bad))
    assert "cannot be read" in endpoints.load().problems[0]


def test_the_readme_model_table_is_the_shipped_providers_only(bearer: fc.FakeCompatible) -> None:
    """An endpoint ships no price (by design): configured on the machine that regenerates the
    README's table, it must neither appear there nor count as an unpriced offered model."""
    from lib.money import model_table

    with bearer.configured("edge"):
        assert "compat-" not in model_table.markdown()
        assert model_table.problems() == []
