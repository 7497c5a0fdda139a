"""Settings from environment variables.

Streamlit exports top-level keys of ``.streamlit/secrets.toml`` as environment
variables, so one path serves the dashboard, the CLI and the tests. Every
variable read here is documented in README.md (a test checks that).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# name -> (default, one-line meaning); the README table is checked against this.
VARIABLES: dict[str, tuple[str, str]] = {
    "PROMPTBOARD_DATA_DIR": ("./data", "where the DuckDB file, local images and keys live"),
    "PROMPTBOARD_DATABASE_URL": (
        "", "the embedded DuckDB file in the data dir; `postgresql://user:pass@host/db` "
        "(libpq URL, `?options=-csearch_path%3Dschema` for a schema): every table in PostgreSQL"
    ),
    "PROMPTBOARD_REPLICA": (
        "", "`1`: one of several dashboards on one PostgreSQL database; refuses to start unless "
        "the database, PROMPTBOARD_COOKIE_KEY and the image store are shared"
    ),
    "PROMPTBOARD_STORAGE": ("local", "`local`, or `s3://bucket/prefix` for S3-compatible storage"),
    "PROMPTBOARD_WORKERS": (
        "4", "worker threads that run jobs in the dashboard process; `0` (PostgreSQL only): "
        "none, the jobs are run by `python -m lib.cli work` processes"
    ),
    "PROMPTBOARD_LEASE_S": (
        "30", "seconds a running job's lease lasts; its worker renews it every third of that, "
        "and a job whose lease ran out is queued again by any live worker"
    ),
    "PROMPTBOARD_PROVIDER_CONCURRENCY": ("4", "jobs one provider may run at once"),
    "PROMPTBOARD_MODEL_CHECK_HOURS": (
        "24", "how often each provider with a key and a model list or lookup (Gemini, "
        "OpenAI, AUTOMATIC1111, Replicate, fal.ai) is asked for its models, by a thread beside "
        "the workers; what is new "
        "or gone shows on Admin → Models, nothing is enabled by itself; `0`: only by the button"
    ),
    "PROMPTBOARD_AUDIT_RETENTION_DAYS": (
        "365", "days the audit log keeps a row (Admin → Audit); older rows are deleted at each "
        "start; `0`: kept forever"
    ),
    "PROMPTBOARD_MAX_ATTEMPTS": ("4", "tries per job for retryable errors"),
    "PROMPTBOARD_SANDBOX_LATENCY": (
        "1.5", "seconds one offline sandbox call takes (drawing included)"
    ),
    "PROMPTBOARD_MAX_UPLOAD_MB": ("25", "largest reference image accepted, in MB"),
    "PROMPTBOARD_MAX_PIXELS": ("60000000", "largest reference image accepted, in pixels"),
    "PROMPTBOARD_HTTP_TIMEOUT": ("120", "seconds a provider HTTP call may take"),
    "PROMPTBOARD_MAX_DOWNLOAD_MB": (
        "64", "largest generated image accepted (a download is cut off there), in MB"
    ),
    "PROMPTBOARD_MAX_OUTPUT_PIXELS": (
        "40000000", "largest generated image accepted, in pixels (read from its header)"
    ),
    "PROMPTBOARD_DOWNLOAD_HOSTS": (
        "", "more hosts (and their subdomains) outputs may be downloaded from over https, "
        "besides each provider's own (`replicate.delivery`, `bfl.ai`, `fal.media`); "
        "comma-separated"
    ),
    "PROMPTBOARD_DOWNLOAD_ALLOW_INSECURE_HOSTS": (
        "", "tests only: loopback `ip:port` pairs a fake delivery server may be fetched from "
        "over http"
    ),
    "PROMPTBOARD_ENDPOINTS_FILE": (
        ".streamlit/endpoints.toml", "OpenAI-compatible endpoints (Azure OpenAI, xAI, "
        "Recraft, LiteLLM): a TOML file of `[endpoints.<name>]` tables; missing: none"
    ),
    "PROMPTBOARD_ENDPOINTS": (
        "", "the same TOML as text, for a host with only environment variables (names must "
        "not repeat the file's)"
    ),
    "PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE": (
        "", "`1`: webhooks may go to private, loopback and link-local addresses, and over plain "
        "http (a receiver on this machine or network; the tests)"
    ),
    "PROMPTBOARD_PNG_COMPRESS_LEVEL": ("3", "zlib level (0-9) for PNGs we write"),
    "PROMPTBOARD_LOG_LEVEL": ("INFO", "Python logging level"),
    "PROMPTBOARD_ADMIN_USER": ("", "with the password below: create the first admin headlessly"),
    "PROMPTBOARD_ADMIN_PASSWORD": ("", "that admin's password (10+ characters)"),
    "PROMPTBOARD_COOKIE_KEY": (
        "", "sign-in cookie key (32+ characters); unset: generated into data/cookie_key"
    ),
    "PROMPTBOARD_OIDC_ADMINS": ("", "OIDC sign-in: e-mails or @domains that get the admin role"),
    "PROMPTBOARD_OIDC_ANALYSTS": ("", "OIDC sign-in: e-mails or @domains that get analyst"),
    "PROMPTBOARD_OIDC_DOMAINS": (
        "", "OIDC sign-in: these @domains may sign in as members (unset: nobody but those listed)"
    ),
    "PROMPTBOARD_API_RATE": (
        "120", "HTTP API: requests per minute per token (or signed-in browser); over it, 429"
    ),
    "PROMPTBOARD_ADMIN_TOKEN": (
        "", "HTTP API: a bearer token that acts as the built-in `automation` admin account "
        "(unset: none); 32+ characters"
    ),
    "PROMPTBOARD_URL": (
        "", "CLI: the running server to talk to when it holds the database "
        "(e.g. `http://localhost:8501`)"
    ),
    "PROMPTBOARD_TOKEN": ("", "CLI: the API token it sends to PROMPTBOARD_URL"),
    "PROMPTBOARD_COMPARE_CONFIRM_CELLS": (
        "24", "Compare: a grid with more cells than this asks for confirmation before it runs"
    ),
}


def env(name: str) -> str:
    """The variable's value, or its documented default."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return VARIABLES[name][0]
    return value.strip()


def env_int(name: str) -> int:
    """An integer setting; a bad value names the variable instead of crashing later."""
    raw = env(name)
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from exc


def env_float(name: str) -> float:
    """A decimal setting; a bad value names the variable."""
    raw = env(name)
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, not {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """A snapshot of the settings, read once per process (or per test)."""

    data_dir: Path
    storage: str
    workers: int
    provider_concurrency: int
    max_attempts: int
    sandbox_latency: float
    max_upload_bytes: int
    max_pixels: int
    png_compress_level: int
    max_download_bytes: int = 64 * 1024 * 1024
    max_output_pixels: int = 40_000_000
    api_rate: int = 120  # API requests per minute per principal
    database_url: str = ""  # postgresql://… ; empty: the DuckDB file (db_path)
    replica: bool = False  # PROMPTBOARD_REPLICA=1 (lib/replica.py)
    lease_s: float = 30.0  # a running job's lease (lib/jobs/leases.py)
    model_check_hours: float = 24.0  # lib/catalog/checks.py; 0: only by the button
    audit_retention_days: int = 365  # lib/audit: older rows pruned at start; 0: kept forever

    @property
    def db_path(self) -> Path:
        """The one DuckDB file."""
        return self.data_dir / "promptboard.duckdb"

    @property
    def database(self) -> Path | str:
        """What ``Database()`` opens: the PostgreSQL URL when one is set, else the file."""
        return self.database_url or self.db_path

    @property
    def images_dir(self) -> Path:
        """Where LocalStorage keeps image files."""
        return self.data_dir / "images"


def load() -> Settings:
    """Read the environment now."""
    workers = max(0, env_int("PROMPTBOARD_WORKERS"))
    database_url = _database_url(env("PROMPTBOARD_DATABASE_URL"))
    if workers == 0 and not database_url:
        raise ValueError(
            "PROMPTBOARD_WORKERS=0 leaves the jobs to `python -m lib.cli work` processes, which "
            "only a PostgreSQL database allows (PROMPTBOARD_DATABASE_URL): the embedded DuckDB "
            "file opens in one process. Set PROMPTBOARD_WORKERS to 1 or more.")
    return Settings(
        data_dir=Path(env("PROMPTBOARD_DATA_DIR")).expanduser().resolve(),
        storage=env("PROMPTBOARD_STORAGE"),
        workers=workers,
        lease_s=max(1.0, env_float("PROMPTBOARD_LEASE_S")),
        provider_concurrency=max(1, env_int("PROMPTBOARD_PROVIDER_CONCURRENCY")),
        max_attempts=max(1, env_int("PROMPTBOARD_MAX_ATTEMPTS")),
        sandbox_latency=max(0.0, env_float("PROMPTBOARD_SANDBOX_LATENCY")),
        max_upload_bytes=int(env_float("PROMPTBOARD_MAX_UPLOAD_MB") * 1024 * 1024),
        max_pixels=env_int("PROMPTBOARD_MAX_PIXELS"),
        png_compress_level=min(9, max(0, env_int("PROMPTBOARD_PNG_COMPRESS_LEVEL"))),
        max_download_bytes=max(1, int(env_float("PROMPTBOARD_MAX_DOWNLOAD_MB") * 1024 * 1024)),
        max_output_pixels=max(1, env_int("PROMPTBOARD_MAX_OUTPUT_PIXELS")),
        api_rate=max(1, env_int("PROMPTBOARD_API_RATE")),
        model_check_hours=max(0.0, env_float("PROMPTBOARD_MODEL_CHECK_HOURS")),
        audit_retention_days=max(0, env_int("PROMPTBOARD_AUDIT_RETENTION_DAYS")),
        database_url=database_url,
        replica=env("PROMPTBOARD_REPLICA") == "1",
    )


def _database_url(raw: str) -> str:
    """A PostgreSQL URL, or "" for the embedded file; anything else is refused by name."""
    if raw and not raw.startswith(("postgresql://", "postgres://")):
        raise ValueError("PROMPTBOARD_DATABASE_URL must start with postgresql:// (or be unset "
                         "for the embedded DuckDB file).")
    return raw
