"""Where OpenAI-compatible endpoints are configured, and the strict check of what is there.

Two places, both TOML with one ``[endpoints.<name>]`` table per endpoint (README,
"OpenAI-compatible endpoints"; ``.streamlit/endpoints.example.toml``)::

    PROMPTBOARD_ENDPOINTS_FILE   a file (default .streamlit/endpoints.toml; missing: none)
    PROMPTBOARD_ENDPOINTS        the same TOML as text, for a container with only variables

The key itself is never in the configuration: ``key_env`` names the variable that holds it
(a name like ``XAI_API_KEY``; a setting such as ``api_key`` is refused and a ``key_env``
that is not a variable name is refused without being repeated, as it may be a pasted key).
Variables of Promptboard's own (``PROMPTBOARD_*``) cannot be named: the cookie key or the
admin password must never travel to an endpoint.

Hostile or broken configuration never stops the dashboard: each bad entry becomes one problem,
naming the file and the entry (start-up logs it, Admin → Providers shows it), and the other
entries still load. :func:`load` never raises.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lib.core import config
from lib.core.errors import PromptboardError
from lib.providers import http
from lib.providers.compatible import (
    AZURE,
    FLAVOURS,
    OPENAI,
    RESPONSE_FORMATS,
    CompatibleProvider,
    Endpoint,
    provider_class,
)

MAX_FILE_BYTES = 256 * 1024
MAX_ENDPOINTS = 50
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]{1,63}")
_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}")
_DEPLOYMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SIZE = re.compile(r"[1-9][0-9]{1,4}x[1-9][0-9]{1,4}")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
_LABEL = re.compile(r"[\w .,:()/&+'-]{1,60}")  # plain words: shown in markdown headings
_HEADER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_API_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,39}")
_HOST = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
SETTINGS = frozenset({"label", "flavour", "base_url", "api_version", "key_env", "models",
                      "default_model", "sizes", "default_size", "qualities",
                      "default_quality", "max_n", "max_prompt_chars", "response_format",
                      "cost_header", "download_hosts", "allow_http"})


class ConfigProblem(PromptboardError, ValueError):
    """One thing wrong with one entry; the message names the source and the entry."""


@dataclass(frozen=True)
class Loaded:
    """The endpoints that passed, as provider classes, and what was wrong with the rest."""

    classes: tuple[type[CompatibleProvider], ...] = ()
    problems: tuple[str, ...] = ()


def load() -> Loaded:
    """Every endpoint of the file and the variable; never raises."""
    sources: list[tuple[str, str]] = []
    problems: list[str] = []
    path = Path(config.env("PROMPTBOARD_ENDPOINTS_FILE")).expanduser()
    try:
        if path.is_file():
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ConfigProblem(f"{path}: larger than {MAX_FILE_BYTES // 1024} KB; no "
                                    "endpoint from it was loaded.")
            sources.append((str(path), path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: cannot be read ({type(exc).__name__}); no endpoint from it "
                        "was loaded.")
    except ConfigProblem as exc:
        problems.append(str(exc))
    if inline := config.env("PROMPTBOARD_ENDPOINTS"):
        sources.append(("PROMPTBOARD_ENDPOINTS", inline))
    found: dict[str, Endpoint] = {}
    for source, text in sources:
        endpoints, wrong = parse(text, source)
        problems.extend(wrong)
        for ep in endpoints:
            if ep.name in found:
                problems.append(f"{source}, endpoint {ep.name!r}: the name is taken by the "
                                f"endpoint in {found[ep.name].source}; this one was skipped.")
            else:
                found[ep.name] = ep
    return Loaded(tuple(provider_class(ep) for ep in found.values()), tuple(problems))


def parse(text: str, source: str) -> tuple[list[Endpoint], list[str]]:
    """The valid endpoints of one TOML text, and one problem per invalid entry."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # says where, never quotes the text
        return [], [f"{source}: not valid TOML ({exc}); no endpoint from it was loaded."]
    problems = [f"{source}: unknown top-level setting {http.clip(k, 40)!r} (endpoints go in "
                "[endpoints.<name>] tables); ignored." for k in data if k != "endpoints"]
    tables = data.get("endpoints", {})
    if not isinstance(tables, dict):
        return [], [*problems, f"{source}: 'endpoints' must be tables like [endpoints.xai]."]
    found: list[Endpoint] = []
    for name, table in tables.items():
        if len(found) >= MAX_ENDPOINTS:
            problems.append(f"{source}: more than {MAX_ENDPOINTS} endpoints; the rest were "
                            "skipped.")
            break
        try:
            found.append(endpoint(str(name), table, source))
        except ConfigProblem as exc:
            problems.append(f"{exc} This endpoint was skipped.")
    return found, problems


def endpoint(name: str, table: Any, source: str) -> Endpoint:
    """One entry, checked strictly; ConfigProblem names the source and the entry."""
    if not _NAME.fullmatch(name):
        raise ConfigProblem(f"{source}: endpoint name {http.clip(name, 40)!r} must be 1-32 "
                            "lower-case letters, digits and dashes.")
    where = f"{source}, endpoint {name!r}:"
    if not isinstance(table, dict):
        raise ConfigProblem(f"{where} must be a table of settings.")
    if unknown := sorted(set(table) - SETTINGS):
        about = (" Keys never go in this file: put the key in an environment variable and "
                 "name it in key_env." if any("key" in str(k).lower() for k in unknown) else "")
        raise ConfigProblem(f"{where} unknown setting {http.clip(unknown[0], 40)!r}.{about}")
    get = _Reader(table, where)
    flavour = get.choice("flavour", FLAVOURS, OPENAI)
    base_url = _base_url(get.text("base_url", None, re.compile(r"\S{1,300}")),
                         get.flag("allow_http"), where)
    key_env = str(table.get("key_env") or "")
    if not _ENV_NAME.fullmatch(key_env):  # not echoed: it may be a pasted key
        raise ConfigProblem(f"{where} key_env must name an environment variable (capitals, "
                            "digits and _, like XAI_API_KEY) that holds the key; the value "
                            "given is not a variable name.")
    if key_env.startswith("PROMPTBOARD_"):
        raise ConfigProblem(f"{where} key_env may not name one of Promptboard's own settings "
                            f"({key_env}).")
    api_version = ""
    if flavour == AZURE:
        api_version = get.text("api_version", None, _API_VERSION)
    models = get.texts("models", _DEPLOYMENT if flavour == AZURE else _MODEL, required=True)
    sizes = get.texts("sizes", _SIZE)
    qualities = get.texts("qualities", _WORD)
    fmt = get.choice("response_format", RESPONSE_FORMATS, "")
    header = get.text("cost_header", "", _HEADER)
    hosts = tuple(h.lower() for h in get.texts("download_hosts", _HOST))
    return Endpoint(
        name=name, label=get.text("label", name, _LABEL),
        base_url=base_url, key_env=key_env, models=models,
        default_model=get.member("default_model", models) or models[0], flavour=flavour,
        api_version=api_version, sizes=sizes, default_size=get.member("default_size", sizes),
        qualities=qualities, default_quality=get.member("default_quality", qualities),
        max_n=get.number("max_n", 1, 1, 10),
        max_prompt_chars=get.number("max_prompt_chars", 4000, 1, 32000),
        response_format=fmt or None, cost_header=header or None, download_hosts=hosts,
        source=source)


def _base_url(url: str, allow_http: bool, where: str) -> str:
    """https, or http to this machine (or with allow_http); no credentials, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        host, parts = "", urlsplit("")
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigProblem(f"{where} base_url must be an http(s) URL such as "
                            "https://api.x.ai/v1.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigProblem(f"{where} base_url may not carry a user, password, query or "
                            "fragment (the key goes in key_env; Azure's api-version in "
                            "api_version).")
    if parts.scheme == "http" and not (allow_http or _local(host)):
        raise ConfigProblem(f"{where} base_url uses plain http to another machine, which would "
                            "send the key in clear; use https, or set allow_http = true for "
                            "a gateway on a private network.")
    return url.rstrip("/")


def _local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Reader:
    """Typed, checked reads of one entry's settings."""

    def __init__(self, table: dict[str, Any], where: str) -> None:
        self.table, self.where = table, where

    def text(self, key: str, default: str | None, pattern: re.Pattern[str]) -> str:
        value = self.table.get(key, default)
        if value is None:
            raise ConfigProblem(f"{self.where} {key} is required.")
        if not isinstance(value, str) or (value != default and not pattern.fullmatch(value)):
            raise ConfigProblem(f"{self.where} {key} is not valid here.")
        return value

    def texts(self, key: str, pattern: re.Pattern[str], required: bool = False
              ) -> tuple[str, ...]:
        value = self.table.get(key, [])
        ok = isinstance(value, list) and len(value) <= 50 and all(
            isinstance(v, str) and pattern.fullmatch(v) for v in value)
        if not ok or (required and not value):
            need = "a non-empty list" if required else "a list"
            raise ConfigProblem(f"{self.where} {key} must be {need} of valid values.")
        return tuple(dict.fromkeys(value))

    def choice(self, key: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.table.get(key, default)
        if value != default and value not in allowed:
            raise ConfigProblem(f"{self.where} {key} must be one of {', '.join(allowed)}.")
        return str(value)

    def member(self, key: str, values: tuple[str, ...]) -> str | None:
        value = self.table.get(key)
        if value is None:
            return values[0] if values else None
        if value not in values:
            raise ConfigProblem(f"{self.where} {key} must be one of the listed values.")
        return str(value)

    def number(self, key: str, default: int, low: int, high: int) -> int:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigProblem(f"{self.where} {key} must be a whole number from {low} to "
                                f"{high}.")
        return value

    def flag(self, key: str) -> bool:
        value = self.table.get(key, False)
        if not isinstance(value, bool):
            raise ConfigProblem(f"{self.where} {key} must be true or false.")
        return value
