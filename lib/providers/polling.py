"""The shared part of providers whose submit starts a billed run that is then polled
(Replicate, Black Forest Labs, fal.ai): injectable polling, and the one POST that must never
be sent twice blindly."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any, ClassVar

import requests

from lib.providers import errors, http
from lib.providers.base import DEFAULT_TIMEOUT, Provider


def fingerprint(model: str, inp: dict[str, Any]) -> str:
    """Ties saved state to one request, so a shared context never resumes another's run."""
    text = json.dumps([model, inp], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class PollingProvider(Provider):
    """A provider that submits a billed run, saves its id on the job, then polls it."""

    max_poll_default: ClassVar[float] = 900.0  # seconds a run may take before "check later"

    def __init__(
        self, session: requests.Session | None = None, base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT, api_key: str | None = None, *,
        poll_interval: float = 1.0, max_poll_s: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``poll_interval`` and ``sleep`` are injectable for tests."""
        super().__init__(session, base_url, timeout, api_key)
        self.poll_interval = poll_interval
        self.max_poll_s = self.max_poll_default if max_poll_s is None else max_poll_s
        self._sleep = sleep

    def post_billed(self, url: str, body: dict[str, Any], headers: dict[str, str],
                    uncertain: str) -> requests.Response:
        """POST a request that starts a billed run. Refused before anything was sent:
        Unavailable (retried, nothing started); any doubt after sending (a timeout, a reset,
        a cut-off reply): Uncertain with ``uncertain``, never retried by itself."""
        label = self.short_label or self.label
        try:
            resp = self.session.post(url, json=body, headers=headers, timeout=self.timeout,
                                     stream=True, allow_redirects=False)
            http.read_capped(resp, http.MAX_REPLY_BYTES, label)
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            if http.never_sent(exc):
                raise errors.Unavailable(
                    f"{label} could not be reached at {http.origin(url)}; nothing was "
                    "started. Promptboard retries on its own.") from exc
            raise errors.Uncertain(uncertain) from exc
        return resp

    def read_submitted(self, resp: requests.Response, id_field: str,
                       uncertain: str) -> dict[str, Any]:
        """The submit's JSON reply carrying the run's id, or Uncertain: a run may have started
        that Promptboard cannot name, so it is not retried by itself."""
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get(id_field), str) \
                or not body[id_field]:
            raise errors.Uncertain(f"{self.short_label or self.label}'s answer to the submit "
                                   f"could not be read. {uncertain}")
        return body
