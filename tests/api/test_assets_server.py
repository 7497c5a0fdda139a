"""The dashboard's own script and style files on the real server: public, fingerprinted,
cached for a year, with the security headers every answer carries."""

from __future__ import annotations

from lib.web import assets
from tests.api.server import ApiServer


def test_the_grid_script_is_served_with_the_security_headers(api: ApiServer) -> None:
    reply = api.call("GET", assets.url("grid.js"))  # no token, no cookie: public code
    assert reply.status == 200
    assert reply.content == (assets.ROOT / "grid.js").read_bytes()
    assert reply.headers["Cache-Control"] == assets.IMMUTABLE
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert api.call("GET", "/assets/grid.000000000000.js").status == 404
