"""Who may call, on the real server: the browser's cookie and signed links, and the rate limit."""

from __future__ import annotations

import io
import time
from datetime import datetime, timedelta
from pathlib import Path

import jwt
from PIL import Image

from lib.auth import links
from lib.auth.cookies import COOKIE_EXPIRY_DAYS, COOKIE_NAME
from lib.core.clock import utcnow
from tests.api.server import ApiServer, start


def _image(api: ApiServer, who: str, prompt: str = "a cookie fox") -> str:
    job = api.call("POST", "/api/v1/jobs", who, json={"prompt": prompt}).json["jobs"][0]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = api.call("GET", f"/api/v1/jobs/{job['id']}", who).json
        if found["images"]:
            return str(found["images"][0]["id"])
        time.sleep(0.1)
    raise AssertionError("the job made no image")


def _cookie(api: ApiServer, username: str, *, key: str | None = None,
            days: float = COOKIE_EXPIRY_DAYS) -> dict[str, str]:
    exp = (datetime.now() + timedelta(days=days)).timestamp()  # local time, as the library does
    token = jwt.encode({"username": username, "exp_date": exp}, key or api.cookie_key,
                       algorithm="HS256")
    return {COOKIE_NAME: token}


def test_the_sign_in_cookie_reads_but_never_writes(api: ApiServer) -> None:
    image = _image(api, "mia")
    r = api.call("GET", f"/api/v1/images/{image}/thumbnail", cookies=_cookie(api, "mia"))
    assert r.status == 200 and r.headers["content-type"] == "image/webp"
    assert r.headers["cache-control"].startswith("private")
    r = api.call("POST", "/api/v1/jobs", json={"prompt": "csrf"}, cookies=_cookie(api, "mia"))
    assert r.status == 401  # a cookie never writes (a cross-site form can't act for mia)
    for bad in (_cookie(api, "mia", key="y" * 48), _cookie(api, "mia", days=-1),
                _cookie(api, "nobody"), {COOKIE_NAME: "not-a-jwt"}):
        assert api.call("GET", f"/api/v1/images/{image}/thumbnail", cookies=bad).status == 401
    # another member's private image is not there for max's cookie
    assert api.call("GET", f"/api/v1/images/{image}/thumbnail",
                    cookies=_cookie(api, "max")).status == 404


def test_a_signed_link_opens_one_image_for_one_session(api: ApiServer) -> None:
    image = _image(api, "mia", "a linked fox")
    other = _image(api, "mia", "another fox")
    path = f"/api/v1/images/{image}/thumbnail"
    url = links.sign(api.cookie_key, path, "mia", utcnow(), time.time())
    r = api.call("GET", url)
    assert r.status == 200 and r.headers["content-type"] == "image/webp"
    etag = r.headers["etag"]
    again = api.call("GET", url, headers={"If-None-Match": etag})
    assert again.status == 304 and again.content == b"" and again.headers["etag"] == etag
    assert api.call("GET", url.replace(image, other)).status == 401  # not another image
    assert api.call("GET", url.replace("sig=", "sig=0")).status == 401
    post = api.call("GET", url.replace("/thumbnail", ""))  # only the file routes take links
    assert post.status in (401, 422)


def test_the_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    api = start(tmp_path, "limited", PROMPTBOARD_API_RATE="5")
    try:
        answers = [api.call("GET", "/api/v1/jobs", "mia").status for _ in range(7)]
        assert answers[:5] == [200] * 5 and answers[5:] == [429, 429]
        r = api.call("GET", "/api/v1/jobs", "mia")
        assert r.status == 429 and 1 <= int(r.headers["retry-after"]) <= 12
        assert r.error["code"] == "rate_limited"
        assert api.call("GET", "/api/v1/jobs", "max").status == 200  # per token
        time.sleep(int(r.headers["retry-after"]))
        assert api.call("GET", "/api/v1/jobs", "mia").status == 200
        # failed sign-ins are limited per client address too
        bad = [api.call("GET", "/api/v1/jobs", token="pb_wrong").status for _ in range(7)]
        assert bad[:5] == [401] * 5 and 429 in bad[5:]
    finally:
        api.server.stop()


def test_the_preview_route_serves_a_webp_no_larger_than_2048(api: ApiServer) -> None:
    image = _image(api, "mia", "a previewed fox")
    r = api.call("GET", f"/api/v1/images/{image}/preview", "mia")
    assert r.status == 200 and r.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(r.content)) as shown:
        assert shown.format == "WEBP" and max(shown.size) <= 2048
    again = api.call("GET", f"/api/v1/images/{image}/preview", "mia",
                     headers={"If-None-Match": r.headers["etag"]})
    assert again.status == 304
    thumb = api.call("GET", f"/api/v1/images/{image}/thumbnail", "mia")
    assert thumb.headers["etag"] != r.headers["etag"]  # one key, two representations
    assert api.call("GET", f"/api/v1/images/{image}/preview", "max").status == 404
