"""The API's route table and the one path every call takes through it.

An :class:`Op` row names a method, a path, the pydantic models of its query, body and answer,
who may call it and its handler. The same row drives two things: :func:`endpoint` validates
a request with those models before the handler runs, and ``lib.api.openapi`` writes the
OpenAPI document from the rows, so the document cannot drift from what is checked.

Every call, in order: the engine; who is calling (``principal``; 401 if nobody); the rate
limit (429); the token's scope and the caller's role (403); the query and the body, the body
refused before it is read whole if it is over the op's cap (413), then validated (422); an
``Idempotency-Key`` if the op honours one; the handler, on a worker thread (DuckDB and S3
block). Refusals are :class:`~lib.api.errors.ApiError` bodies; nothing is stored on one.
"""

from __future__ import annotations

import json
import logging
import time
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from lib.api import idempotency
from lib.api.errors import UNAUTHORIZED, ApiError, from_exception, invalid
from lib.api.principal import SAFE_METHODS, Principal, identify
from lib.api.ratelimit import RateLimiter
from lib.audit import acting
from lib.auth import links
from lib.auth.cookies import COOKIE_NAME
from lib.core.context import Services

log = logging.getLogger(__name__)
PREFIX = "/api/v1"
JSON_CAP = 1024 * 1024  # a JSON body over 1 MiB is refused before it is read whole
MAX_FILES = 2  # a multipart body: the reference image and a watermark logo
NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class Call:
    """One validated request, as a handler sees it."""

    svc: Services
    who: Principal
    request: Request
    path: dict[str, str]
    query: Any = None  # the op's query model, validated
    body: Any = None  # the op's body model, validated
    files: dict[str, bytes] = field(default_factory=dict)  # multipart file parts
    request_key: str | None = None  # with an Idempotency-Key: the token what it queues carries


Handler = Callable[[Call], BaseModel | Response]


@dataclass(frozen=True)
class Op:
    """One operation: what it takes, what it answers, who may call it."""

    method: str
    path: str  # under PREFIX, with {name} parameters
    name: str  # the OpenAPI operationId
    summary: str
    handler: Handler
    out: type[BaseModel] | None = None  # None: not JSON (see media)
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    status: int = 200
    roles: frozenset[str] | None = None  # None: every role
    media: tuple[str, ...] = ()  # the content types of a non-JSON answer
    multipart: bool = False  # the body may also come as multipart/form-data with files
    cap: Callable[[Services], int] | None = None  # the body's byte limit (default JSON_CAP)
    idempotent: bool = False  # honours Idempotency-Key
    errors: tuple[int, ...] = ()  # statuses worth documenting beyond 401/403/429

    @property
    def writes(self) -> bool:
        """Needs a full-scope credential (anything but GET/HEAD)."""
        return self.method not in SAFE_METHODS


class Api:
    """The table plus what every call shares: the engine getter and the rate limiter."""

    def __init__(self, services: Callable[[], Services], ops: list[Op],
                 limiter: RateLimiter | None = None) -> None:
        self.services, self.ops = services, ops
        self._limiter = limiter

    def limiter(self, svc: Services) -> RateLimiter:
        """Built on first use, from the engine's settings (PROMPTBOARD_API_RATE)."""
        if self._limiter is None:
            self._limiter = RateLimiter(svc.settings.api_rate)
        return self._limiter


def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) in (list, tuple):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_list(a) for a in typing.get_args(annotation))
    return False


def query_values(model: type[BaseModel], request: Request,
                 skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The query string as the model's fields: repeated keys for list fields, else one value
    (``skip``: parameters already read, a signed link's)."""
    params = request.query_params
    names = {info.alias or name: info for name, info in model.model_fields.items()}
    unknown = set(params) - set(names) - set(skip)
    if unknown:
        raise ApiError(422, "invalid", f"Unknown query parameter {sorted(unknown)[0]!r}; "
                       f"this endpoint takes {', '.join(names) or 'none'}.")
    values: dict[str, Any] = {}
    for name, info in names.items():
        if name in params:
            many = params.getlist(name)
            values[name] = many if _is_list(info.annotation) else many[-1]
    return values


async def read_capped(request: Request, cap: int) -> bytes:
    """The whole body, refused (413) as soon as it passes ``cap`` bytes, before it is kept."""
    declared = request.headers.get("content-length")
    too_big = ApiError(413, "too_large", f"The request body is over this endpoint's limit of "
                       f"{cap / 1024 / 1024:.3g} MB. Send a smaller body (for a reference image, "
                       "shrink the file).")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


async def _multipart(request: Request, raw: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.request", "body": b"", "more_body": False}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    fields: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    try:
        form = await Request(request.scope, replay).form(max_files=MAX_FILES, max_fields=40)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the sender's malformed body
        raise ApiError(400, "bad_body", "The multipart body could not be read: "
                       f"{type(exc).__name__}. Send multipart/form-data or JSON.") from None
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            files[key] = await value.read()
        elif key == "watermark":
            try:
                fields[key] = json.loads(value)
            except ValueError:
                raise ApiError(422, "invalid", "The watermark field must be a JSON object, "
                               'e.g. {"text": "ACME"}.') from None
        else:
            fields[key] = value
    return fields, files


async def _parse_body(op: Op, svc: Services, request: Request) -> tuple[Any, dict[str, bytes]]:
    if op.body is None:
        return None, {}
    cap = op.cap(svc) if op.cap else JSON_CAP
    raw = await read_capped(request, cap)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if op.multipart and ctype == "multipart/form-data":
            fields, files = await _multipart(request, raw)
            return op.body.model_validate(fields), files
        if ctype not in ("application/json", ""):
            raise ApiError(415, "unsupported_media_type", f"Send the body as application/json"
                           f"{' or multipart/form-data' if op.multipart else ''}, not {ctype}.")
        return op.body.model_validate_json(raw or b"{}"), {}
    except ValidationError as exc:
        raise invalid(exc, "body") from None


def _check_access(op: Op, who: Principal) -> None:
    if op.writes and who.scope != "full":  # only tokens reach here: cookies never write
        raise ApiError(403, "forbidden", "This token is read-only: create a full token on "
                       "your Account page to change anything.")
    if op.roles is not None and who.user.role not in op.roles:
        raise ApiError(403, "forbidden", f"Your role ({who.user.role}) may not do this.")


def _answer(op: Op, result: BaseModel | Response) -> Response:
    if isinstance(result, Response):
        return result
    return JSONResponse(result.model_dump(mode="json"), status_code=op.status, headers=NO_STORE)


def endpoint(api: Api, op: Op) -> Callable[[Request], Any]:
    """The Starlette endpoint for one op: the checks and the handler on one worker thread
    (one hop for a call without a body; a body is read on the event loop in between)."""

    async def run(request: Request) -> Response:
        try:
            if op.body is None:
                return await run_in_threadpool(_whole, api, op, request)
            started = time.perf_counter()
            svc, who, query = await run_in_threadpool(_admit, api, op, request)
            body, files = await _parse_body(op, svc, request)
            answer = await run_in_threadpool(_finish, op, svc, who, request, query, body, files)
            return _timed(answer, started)
        except Exception as exc:  # noqa: BLE001 - every refusal becomes a JSON body
            return from_exception(exc).response()

    return run


def _services(api: Api) -> Services:
    try:
        return api.services()
    except Exception:  # noqa: BLE001 - the readiness probe and the log say what failed
        log.exception("API: the engine could not be built")
        raise ApiError(503, "unavailable", "The server could not open its database; see "
                       "/readyz and the server log.") from None


def _admit(api: Api, op: Op, request: Request) -> tuple[Services, Principal, Any]:
    """The engine, the caller (401), the rate limit (429), scope and role (403), the query."""
    svc = _services(api)
    signed = bool(op.media) and "sig" in request.query_params
    link = (request.url.path, dict(request.query_params)) if signed else None
    who = identify(svc, request.method, request.headers.get("authorization"),
                   request.cookies.get(COOKIE_NAME), link)
    host = request.client.host if request.client else "unknown"
    if wait := api.limiter(svc).take(who.key if who else "client:" + host):
        raise ApiError(429, "rate_limited", f"Too many requests: wait {wait} s (the limit is "
                       "PROMPTBOARD_API_RATE per minute).", headers={"Retry-After": str(wait)})
    if who is None:
        raise ApiError(401, "unauthorized", UNAUTHORIZED,
                       headers={"WWW-Authenticate": 'Bearer realm="promptboard"'})
    _check_access(op, who)
    query = None
    if op.query is not None:
        try:
            query = op.query.model_validate(query_values(op.query, request, skip=(
                links.PARAMS if link is not None else ())))
        except ValidationError as exc:
            raise invalid(exc, "query") from None
    return svc, who, query


def _whole(api: Api, op: Op, request: Request) -> Response:
    started = time.perf_counter()
    svc, who, query = _admit(api, op, request)
    return _timed(_finish(op, svc, who, request, query, None, {}), started)


def _timed(response: Response, started: float) -> Response:
    """``Server-Timing: app;dur=…`` (ms in the handler and its checks, on the worker thread):
    what a slow answer spent here rather than in the network or the server around it."""
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
    return response


def _finish(op: Op, svc: Services, who: Principal, request: Request, query: Any, body: Any,
            files: dict[str, bytes]) -> Response:
    """The handler (through Idempotency-Key when sent and honoured), as a response; what it
    does is written to the audit log as the caller (``Principal.actor``)."""
    with acting(who.actor):
        return _handle(op, svc, who, request, query, body, files)


def _handle(op: Op, svc: Services, who: Principal, request: Request, query: Any, body: Any,
            files: dict[str, bytes]) -> Response:
    call = Call(svc, who, request, {k: str(v) for k, v in request.path_params.items()},
                query, body, files)
    key = request.headers.get("idempotency-key")
    if op.idempotent and key is not None:
        fingerprint = idempotency.fingerprint(op.method + " " + op.path, call.path, body, files)
        call.request_key = idempotency.request_key(who.user.username, key, fingerprint)
        return idempotency.once(svc, who.user.username, key, fingerprint,
                                lambda: _settled(op, call))
    return _answer(op, op.handler(call))


def _settled(op: Op, call: Call) -> Response:
    """The handler's answer, or its refusal as a response (both are kept for a replay)."""
    try:
        return _answer(op, op.handler(call))
    except Exception as exc:  # noqa: BLE001 - a refusal is an answer too
        return from_exception(exc).response()
