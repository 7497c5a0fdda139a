"""/api/v1/openapi.json on the real server: a valid OpenAPI 3.1 document that lists exactly the
route table's operations, each of which the server answers (documented routes exist, mounted
routes are documented)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator

from lib import api as api_package
from lib.api.ops import PREFIX
from tests.api.server import ApiServer

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
TABLE = sorted({(op.method, PREFIX + op.path) for op in api_package.all_ops()})


@pytest.fixture(scope="module")
def document(api: ApiServer) -> dict[str, Any]:
    r = api.call("GET", "/api/v1/openapi.json")
    assert r.status == 200 and r.headers["content-type"].startswith("application/json")
    found: dict[str, Any] = r.json
    return found


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_the_document_lists_exactly_the_route_table(document: dict[str, Any]) -> None:
    documented = {(method.upper(), path) for path, item in document["paths"].items()
                  for method in item if method in METHODS}
    assert documented == set(TABLE)
    names = [spec["operationId"] for item in document["paths"].values()
             for method, spec in item.items() if method in METHODS]
    assert len(names) == len(set(names))  # operationIds are unique
    for item in document["paths"].values():  # every handler's docstring is its description
        assert all(spec.get("description") for m, spec in item.items() if m in METHODS)


@pytest.mark.parametrize(("method", "path"), TABLE)
def test_every_documented_route_is_mounted(api: ApiServer, method: str, path: str) -> None:
    """Without a token, a mounted route answers 401; the fallback would say 404 "No such
    endpoint"."""
    concrete = re.sub(r"{\w+}", "placeholder", path)
    r = api.call(method, concrete)
    assert r.status == 401, (r.status, r.content)
    assert r.error["code"] == "unauthorized"
    assert not r.error["message"].startswith("No such endpoint")


def test_the_fallback_is_what_the_test_above_would_catch(api: ApiServer) -> None:
    r = api.call("GET", PREFIX + "/no/such/route", "ada")
    assert r.status == 404 and r.error["message"].startswith("No such endpoint")
