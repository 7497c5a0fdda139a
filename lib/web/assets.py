"""The dashboard's own static files (a component's script and style), fingerprinted.

A ``st.components.v2`` component given its JavaScript and CSS as text sends that text in its
element on every run of the page: 3 KB of the Gallery grid's 10 KB page flip. Streamlit serves
component files only from an installed package's manifest, so ``serve.py`` serves them here:
``GET /assets/<stem>.<hash>.<ext>``, where the hash is the first 12 hex digits of the file's
SHA-256. The URL changes when the file does, so the answer may be cached for a year as
``immutable``; a name whose hash does not match the file (an old page after an upgrade) gets
404, never another version's code. The component itself keeps only a few bytes of loader
(:func:`url` names the current file).

These are the app's own code, as public as Streamlit's bundle under ``/static/``: no session
is needed, and none is read.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

ROOT = Path(__file__).with_name("static")
PREFIX = "/assets/"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
IMMUTABLE = "public, max-age=31536000, immutable"


@functools.cache
def _file(name: str) -> tuple[str, bytes]:
    """(fingerprinted name, bytes) of a file under ``static/``; read once per process."""
    path = ROOT / name
    if path.parent != ROOT or path.suffix not in TYPES or not path.is_file():
        raise FileNotFoundError(name)
    body = path.read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:12]
    return f"{path.stem}.{digest}{path.suffix}", body


def url(name: str) -> str:
    """The path the browser loads ``static/<name>`` from, e.g. ``/assets/grid.0123abcd4567.js``."""
    return PREFIX + _file(name)[0]


@functools.cache
def _by_fingerprint() -> dict[str, tuple[str, bytes]]:
    return {fingerprinted: (p.suffix, body) for p in sorted(ROOT.iterdir())
            if p.suffix in TYPES for fingerprinted, body in [_file(p.name)]}


async def _serve(request: Request) -> Response:
    found = _by_fingerprint().get(str(request.path_params["name"]))
    if found is None:
        return PlainTextResponse("Not found.", status_code=404,
                                 headers={"Cache-Control": "no-store"})
    suffix, body = found
    return Response(body, media_type=TYPES[suffix], headers={"Cache-Control": IMMUTABLE})


def routes() -> list[Route]:
    """The route ``serve.py`` mounts."""
    return [Route(PREFIX + "{name}", _serve, methods=["GET", "HEAD"])]
