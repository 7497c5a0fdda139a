"""Set one environment variable, and the CLI generates with a real provider's wire format.

Each hosted provider runs as its fake server on 127.0.0.1; the CLI runs in a real
subprocess with only the key and base URL set, as a user would after adding a key.
Expected costs are computed by hand from the published prices in providers.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lib.core import config
from tests.fakes.a1111 import FakeA1111
from tests.fakes.gemini import KEY as GEMINI_KEY
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai import KEY as OPENAI_KEY
from tests.fakes.openai import FakeOpenAI
from tests.fakes.replicate import FakeReplicate
from tests.fakes.stability import FakeStability
from tests.helpers import json_lines, run_cli


def _openai() -> tuple[Any, dict[str, str]]:
    fake = FakeOpenAI()
    return fake, {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": fake.url}


def _gemini() -> tuple[Any, dict[str, str]]:
    fake = FakeGemini()
    return fake, {"GEMINI_API_KEY": GEMINI_KEY, "GEMINI_BASE_URL": fake.url}


def _stability() -> tuple[Any, dict[str, str]]:
    fake = FakeStability()
    return fake, {"STABILITY_API_KEY": fake.key, "STABILITY_BASE_URL": fake.base_url}


def _replicate() -> tuple[Any, dict[str, str]]:
    fake = FakeReplicate()
    return fake, fake.env()


def _a1111() -> tuple[Any, dict[str, str]]:
    fake = FakeA1111()
    return fake, {"A1111_URL": fake.url}


CASES: list[tuple[str, Callable[[], tuple[Any, dict[str, str]]], list[str], float]] = [
    # gpt-image-2 usage from the fake: 50 text-in tokens x $5/1M + 1056 image-out x $30/1M
    ("openai", _openai, [], 50 * 5e-6 + 1056 * 30e-6),
    # gemini-3-pro-image (the default) at 1K: 270 input tokens x $2/1M + 1120 image tokens
    # x $120/1M (lib/money/prices/gemini.csv)
    ("gemini", _gemini, [], 270 * 2e-6 + 1120 * 120e-6),
    # Stability Core: 3 credits x $0.01
    ("stability", _stability, [], 0.03),
    # FLUX schnell: $3 per 1000 images
    ("replicate", _replicate, [], 0.003),
    # a local server costs nothing unless an admin sets a GPU-second rate
    ("a1111", _a1111, ["--size", "512x512"], 0.0),
]


@pytest.fixture
def closing() -> Iterator[list[Any]]:
    fakes: list[Any] = []
    yield fakes
    for fake in fakes:
        fake.close()


@pytest.mark.parametrize(("provider", "make", "args", "usd"), CASES, ids=[c[0] for c in CASES])
def test_one_variable_and_the_cli_generates_with_the_right_cost(
    provider: str, make: Callable[[], tuple[Any, dict[str, str]]], args: list[str], usd: float,
    closing: list[Any],
) -> None:
    fake, env = make()
    closing.append(fake)
    proc = run_cli("generate", "--provider", provider, "--prompt", "a red fox", *args,
                   env={**env, "PROMPTBOARD_HTTP_TIMEOUT": "10"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (line,) = json_lines(proc.stdout)
    assert line["status"] == "succeeded" and line["provider"] == provider
    assert line["cost_usd"] == pytest.approx(usd, abs=1e-9)
    assert line["width"] > 0 and line["duration_ms"] >= 0
    assert (config.load().images_dir / line["storage_key"]).exists()
    for secret in env.values():
        if not secret.startswith("http"):
            assert secret not in proc.stdout + proc.stderr


def test_a_provider_without_its_key_is_refused_with_the_variable_to_set() -> None:
    proc = run_cli("generate", "--provider", "openai", "--prompt", "a fox")
    assert proc.returncode == 1
    (line,) = json_lines(proc.stdout)
    assert line["status"] == "refused" and "OPENAI_API_KEY" in line["error"]
