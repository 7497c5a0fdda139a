"""The OpenAPI 3.1 document, written from the route table and its pydantic models.

Nothing here is hand-written per route: each :class:`~lib.api.ops.Op` gives its path, method,
parameters (path ones from the template, query ones from its query model), body and answer
schemas (pydantic's JSON Schema, the 2020-12 dialect OpenAPI 3.1 uses) and its statuses. A
test validates the document with openapi-spec-validator and checks it against the mounted
routes, so a route cannot exist undocumented or the other way round.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from lib.api.ops import PREFIX, Op

ERROR_STATUSES = {
    304: "Not modified: the ETag sent in If-None-Match is current (no body)",
    307: "Redirect to a short-lived presigned URL (S3 storage, ?redirect=1)",
    400: "The request is malformed", 401: "Missing or invalid credentials",
    402: "A budget would be exceeded", 403: "Your role or token scope does not allow it",
    404: "Not found, or not visible to you", 409: "Conflicts with the current state",
    413: "The body is over the endpoint's limit", 415: "Unsupported body type",
    422: "Invalid: the message says what to fix", 429: "Rate limited: see Retry-After",
}
ERROR_SCHEMA = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"},
        "fields": {"type": "array", "items": {"type": "object"}}}}}}


def _parameters(op: Op, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", op.path)]
    if op.query is not None:
        schema = op.query.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            param = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if prop.get("type") == "array":
                param["explode"] = True
            params.append(param)
    return params


def document(ops: list[Op], version: str) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document for ``ops``."""
    pairs: list[tuple[type[BaseModel], Any]] = []
    for op in ops:
        if op.body is not None:
            pairs.append((op.body, "validation"))
        if op.out is not None:
            pairs.append((op.out, "serialization"))
    refs, top = models_json_schema(list(dict.fromkeys(pairs)),
                                   ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    schemas["Error"] = ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        responses: dict[str, Any] = {}
        answers: dict[str, Any] = {} if op.out is None else {
            "application/json": {"schema": refs[(op.out, "serialization")]}}
        answers.update({media: {"schema": {"type": "string", "contentMediaType": media}}
                        for media in op.media})  # a JSON route may answer another format too
        responses[str(op.status)] = {"description": op.summary, "content": answers}
        for status in sorted({401, 403, 429, *op.errors}):
            entry: dict[str, Any] = {"description": ERROR_STATUSES.get(status, "Error")}
            if status >= 400:
                entry["content"] = {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"}}}
            responses[str(status)] = entry
        spec: dict[str, Any] = {"operationId": op.name, "summary": op.summary,
                                "parameters": _parameters(op, schemas), "responses": responses}
        if op.handler.__doc__:
            spec["description"] = op.handler.__doc__.strip()
        if op.body is not None:
            ref = refs[(op.body, "validation")]
            content: dict[str, Any] = {"application/json": {"schema": ref}}
            if op.multipart:
                content["multipart/form-data"] = {"schema": {
                    "allOf": [ref, {"type": "object", "properties": {
                        "reference": {"type": "string", "contentMediaType": "image/*"},
                        "watermark_logo": {"type": "string", "contentMediaType": "image/*"}}}]}}
            spec["requestBody"] = {"required": True, "content": content}
        if op.idempotent:
            spec["parameters"].append({
                "name": "Idempotency-Key", "in": "header", "required": False,
                "schema": {"type": "string", "maxLength": 255},
                "description": "the same key and body again answers the first result"})
        paths.setdefault(PREFIX + op.path, {})[op.method.lower()] = spec
    return {
        "openapi": "3.1.0",
        "info": {"title": "Promptboard API", "version": version, "description": (
            "Generate images, read the gallery and the costs. Authenticate with "
            "`Authorization: Bearer <token>` (Account page). See README.md, section API.")},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "token": {"type": "http", "scheme": "bearer"},
            "cookie": {"type": "apiKey", "in": "cookie", "name": "promptboard_auth"}}},
        "security": [{"token": []}, {"cookie": []}],
    }
