"""What the crash tests share: fake hosted providers that count calls, and the jobs to run."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from lib import jobs
from tests.fakes.openai import KEY as OPENAI_KEY
from tests.fakes.openai import FakeOpenAI
from tests.fakes.replicate import FakeReplicate
from tests.fakes.server import FakeServer, Request

PROVIDERS = ("sandbox", "openai", "replicate")


@dataclasses.dataclass
class Fakes:
    """The hosted providers the subprocess talks to, and the environment that points at them."""

    openai: FakeOpenAI
    replicate: FakeReplicate

    def env(self) -> dict[str, str]:
        return {
            "OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": self.openai.url,
            "REPLICATE_API_TOKEN": self.replicate.token,
            "REPLICATE_BASE_URL": self.replicate.base_url,
            "PROMPTBOARD_DOWNLOAD_ALLOW_INSECURE_HOSTS": self.replicate.delivery_host,
            "PROMPTBOARD_SANDBOX_LATENCY": "0.6", "PROMPTBOARD_HTTP_TIMEOUT": "20",
            "PROMPTBOARD_MAX_ATTEMPTS": "60",  # a kill mid-run counts as an attempt
            "PROMPTBOARD_LOG_LEVEL": "WARNING",
        }

    def requests(self) -> int:
        return len(self.openai.server.history) + len(self.replicate.server.history)


def slow(server: FakeServer, seconds: float) -> None:
    """Make every routed answer take ``seconds``, like a real image API (kills land mid-call)."""
    def wrap(handler: Any) -> Any:
        return lambda req: dataclasses.replace(handler(req), delay=seconds)

    server.routes = [(method, rx, wrap(handler)) for method, rx, handler in server.routes]


def spec(i: int) -> jobs.JobSpec:
    provider = PROVIDERS[i % len(PROVIDERS)]
    size = {"sandbox": 96, "openai": 1024}.get(provider)
    n = 1 + (i // len(PROVIDERS)) % 2  # one or two images, so a cost is split across images
    return jobs.JobSpec(prompt=f"crash-restart job {i}", provider=provider, width=size,
                        height=size, n=n)


def calls_per_job(fakes: Fakes, prompt_to_id: dict[str, str]) -> tuple[Counter[str], Counter[str]]:
    def prompt(req: Request) -> str:
        body = req.json()
        return str(body.get("prompt") or body["input"]["prompt"])

    openai = Counter(prompt_to_id[prompt(r)] for r in fakes.openai.calls)
    creates = Counter(prompt_to_id[prompt(r)] for r in fakes.replicate.server.requests_to(
        "POST", r"/v1/models/.+/predictions"))
    return openai, creates
