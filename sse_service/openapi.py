"""The OpenAPI 3.1 description of every HTTP route, served at `/openapi.json`.

docs/api.md is the contract in prose; this is the same contract for machines (client
generators, schemathesis in `make test`). A test checks that every route the app
registers is described here and nothing else is (tests/sse_service/test_openapi.py).
"""

from __future__ import annotations

from typing import Any

from .client_input import MAX_EVENT_ID_LENGTH
from .publish_rules import MAX_IDEMPOTENCY_KEY
from .publishing import MAX_RECIPIENTS

JSON = "application/json"
SSE = "text/event-stream"
Schema = dict[str, Any]

USER: list[dict[str, list[str]]] = [{"userBearer": []}, {"userQueryToken": []}]
USER_HEADER_ONLY: list[dict[str, list[str]]] = [{"userBearer": []}]
PUBLISHER: list[dict[str, list[str]]] = [{"publisherBearer": []}]
ADMIN: list[dict[str, list[str]]] = [{"adminBearer": []}]
DASHBOARD: list[dict[str, list[str]]] = [{"dashboardSession": []}, {"adminBearer": []}]


def openapi_document(*, dev_mode: bool = False, max_batch: int = 1000, max_page: int = 1000) -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/v1/stream": _stream(),
        "/v1/notifications": {"get": _inbox(max_page), "post": _publish(max_batch)},
        "/healthz": {"get": _op("Liveness", {"200": _json({"$ref": "#/components/schemas/Alive"}, "the process lives")})},
        "/readyz": {
            "get": _op(
                "Readiness",
                {
                    "200": _json({"$ref": "#/components/schemas/Readiness"}, "can serve"),
                    "503": _json({"$ref": "#/components/schemas/Readiness"}, "cannot serve now (the body says why)"),
                },
            )
        },
        "/metrics": {
            "get": _op(
                "Prometheus exposition (open unless METRICS_TOKEN is set)",
                {
                    "200": {
                        "description": "text exposition or OpenMetrics",
                        "content": {
                            "text/plain": {"schema": {"type": "string"}},
                            "application/openmetrics-text": {"schema": {"type": "string"}},
                        },
                    },
                    "401": _error("METRICS_TOKEN is set and was not sent"),
                },
                security=[{"metricsBearer": []}, {}],
            )
        },
        "/v1/admin/stats": {
            "get": _op(
                "This instance's live numbers",
                {
                    "200": _json({"$ref": "#/components/schemas/AdminStats"}, "stats"),
                    "401": _error("not an admin credential"),
                },
                security=ADMIN,
            )
        },
        "/v1/admin/alerts": {
            "post": {
                **_op(
                    "Alertmanager webhook: firing alerts roll the rollout back",
                    {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["rolled_back", "reason"],
                                "properties": {
                                    "rolled_back": {"type": "boolean"},
                                    "reason": {"type": "string"},
                                    "alerts": {"type": "array", "items": {"type": "string"}},
                                    "seconds": {"type": "number"},
                                },
                            },
                            "what was done",
                        ),
                        "401": _error("not an admin credential"),
                        "422": _json({"$ref": "#/components/schemas/Invalid"}, "not an Alertmanager webhook body"),
                        "503": _error("the rollback could not be made (Alertmanager retries)"),
                    },
                    security=ADMIN,
                ),
                "requestBody": {"required": True, "content": {JSON: {"schema": {"type": "object"}}}},
            }
        },
        "/dashboard": {
            "get": _op(
                "The live SRE page",
                {
                    "200": {"description": "the page", "content": {"text/html": {"schema": {"type": "string"}}}},
                    "303": {
                        "description": "session cookie set; the token is dropped from the address bar",
                        "headers": {"Location": {"schema": {"type": "string"}}},
                    },
                    "401": _error("no session and no valid admin token"),
                },
                params=[_query("access_token", {"type": "string"}, "the admin token, once")],
                security=DASHBOARD + [{}],
            )
        },
        "/dashboard/logout": {
            "post": _op(
                "End the dashboard session (clears its cookie)",
                {
                    "303": {
                        "description": "back to /dashboard, session cookie cleared",
                        "headers": {"Location": {"schema": {"type": "string"}}},
                    },
                },
            )
        },
        "/dashboard/stream": {
            "get": _op(
                "Stats pushed every second (SSE)",
                {
                    "200": {"description": "`stats` events", "content": {SSE: {"schema": _sse_event()}}},
                    "401": _error("no dashboard session"),
                },
                security=DASHBOARD,
            )
        },
        "/": {
            "get": _op(
                "The demo page",
                {
                    "200": {"description": "the page", "content": {"text/html": {"schema": {"type": "string"}}}},
                },
            )
        },
        "/static/{filename}": {
            "get": _op(
                "Static files (JS client, demo and dashboard assets)",
                {
                    "200": {"description": "the file", "content": {"*/*": {"schema": {}}}},
                    "404": _error("no such file"),
                },
                params=[{"name": "filename", "in": "path", "required": True, "schema": {"type": "string"}}],
            )
        },
        "/v1/stream-session": _stream_session(),
        "/openapi.json": {
            "get": _op(
                "This document",
                {
                    "200": _json({"type": "object", "required": ["openapi", "paths"]}, "OpenAPI 3.1"),
                },
            )
        },
    }
    if dev_mode:
        paths.update(_dev())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "flagstream",
            "version": "1",
            "description": "Real-time notifications over Server-Sent Events. The contract in prose: docs/api.md.",
        },
        "paths": paths,
        "components": {"schemas": _schemas(max_batch), "securitySchemes": _security_schemes()},
    }


# -- operations ----------------------------------------------------------------------------
def _stream() -> dict[str, Any]:
    get = _op(
        "A user's live stream",
        {
            "200": {
                "description": "`connected`, then replay after Last-Event-ID, then live events",
                "content": {SSE: {"schema": _sse_event()}},
            },
            "204": {"description": "the user is outside the rollout: poll the inbox"},
            "401": _error("bad, missing or expired token"),
            "422": _json({"$ref": "#/components/schemas/Invalid"}, "a malformed Last-Event-ID"),
            "429": _json(
                {"oneOf": [{"$ref": "#/components/schemas/RateLimited"}, {"$ref": "#/components/schemas/Error"}]},
                "too many stream attempts (`rate_limited`) or streams (`user_limit`) for this user",
                headers=_retry_after(),
            ),
            "503": _error("global limit, draining, or the broker is unavailable", headers=_retry_after()),
        },
        params=[
            {"name": "Last-Event-ID", "in": "header", "required": False, "schema": _event_id()},
            _query("last_event_id", _event_id(), "Last-Event-ID for clients that cannot set headers"),
            _query("access_token", {"type": "string"}, "the user JWT, for EventSource (redacted from logs)"),
        ],
        security=USER,
    )
    wrong = _op(
        "Not allowed: streams are GET",
        {
            "405": _error("use GET", headers={"Allow": {"schema": {"type": "string"}}}),
        },
    )
    return {"get": get, "post": wrong, "put": wrong, "delete": wrong, "patch": wrong}


def _inbox(max_page: int) -> dict[str, Any]:
    return _op(
        "A user's inbox, oldest first (the polling fallback)",
        {
            "200": _json({"$ref": "#/components/schemas/InboxPage"}, "one page"),
            "401": _error("bad, missing or expired token"),
            "422": _json({"$ref": "#/components/schemas/Invalid"}, "a bad `after` or `limit`"),
            "503": _error("the store is unavailable", headers=_retry_after()),
        },
        params=[
            _query("after", _event_id(), "an id this service issued: the page starts after it"),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": max_page, "default": 100}, "page size"),
            _query("access_token", {"type": "string"}, "the user JWT (redacted from logs)"),
        ],
        security=USER,
    )


def _publish(max_batch: int) -> dict[str, Any]:
    return {
        **_op(
            "Publish notifications (one, or a batch refused or stored whole)",
            {
                "202": _json({"$ref": "#/components/schemas/Accepted"}, "stored; delivered after"),
                "401": _error("not a publisher credential"),
                "413": _json(
                    {"oneOf": [{"$ref": "#/components/schemas/Invalid"}, {"$ref": "#/components/schemas/Error"}]},
                    "a `data` over MAX_PAYLOAD_BYTES, or a body over MAX_BATCH × that",
                ),
                "422": _json({"$ref": "#/components/schemas/Invalid"}, "invalid: every problem named by field"),
                "429": _json(
                    {"$ref": "#/components/schemas/RateLimited"}, "this publisher is over its rate", headers=_retry_after()
                ),
                "503": _error("the store is unavailable; nothing was stored", headers=_retry_after()),
            },
            security=PUBLISHER,
        ),
        "requestBody": {"required": True, "content": {JSON: {"schema": {"$ref": "#/components/schemas/PublishRequest"}}}},
    }


def _stream_session() -> dict[str, Any]:
    cookie = {"Set-Cookie": {"schema": {"type": "string"}, "description": "the HttpOnly stream cookie"}}
    return {
        "post": _op(
            "Exchange a user JWT (Authorization header only) for the stream cookie",
            {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["user_id", "expires_at", "paths"],
                        "properties": {
                            "user_id": {"type": "string"},
                            "expires_at": {"type": "string"},
                            "paths": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                    "cookie set for the stream and inbox paths",
                    headers=cookie,
                ),
                "401": _error("bad, missing or expired token"),
                "403": _error("an origin outside CORS_ORIGINS"),
                "404": _error("STREAM_COOKIE is off"),
            },
            security=USER_HEADER_ONLY,
        ),
        "delete": _op(
            "Clear the stream cookie (sign-out)",
            {
                "204": {"description": "cookie cleared", "headers": cookie},
                "403": _error("an origin outside CORS_ORIGINS"),
            },
        ),
    }


def _dev() -> dict[str, Any]:
    return {
        "/dev/token": {
            "get": _op(
                "Dev mode only: a user token for anyone",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["token", "user_id"],
                            "properties": {"token": {"type": "string"}, "user_id": {"type": "string"}},
                        },
                        "a token",
                    ),
                    "422": _json({"$ref": "#/components/schemas/Invalid"}, "a bad user id"),
                },
                params=[_query("user_id", {"type": "string"}, "who the token is for")],
            )
        },
        "/dev/notify": {
            "post": _op(
                "Dev mode only: notify yourself",
                {
                    "202": _json({"$ref": "#/components/schemas/Accepted"}, "stored"),
                    "401": _error("bad, missing or expired token"),
                },
                security=USER_HEADER_ONLY,
            )
        },
    }


# -- schemas -------------------------------------------------------------------------------
def _schemas(max_batch: int) -> dict[str, Schema]:
    string = {"type": "string"}
    return {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": string, "detail": {}}},
        "Invalid": {
            "type": "object",
            "required": ["error", "detail"],
            "properties": {
                "error": {"enum": ["invalid", "too_large"]},
                "detail": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {"field": string, "message": string},
                    },
                },
            },
        },
        "RateLimited": {
            "type": "object",
            "required": ["error", "detail", "retry_after"],
            "properties": {
                "error": {"const": "rate_limited"},
                "detail": string,
                "retry_after": {"type": "integer", "minimum": 1},
            },
        },
        "Alive": {"type": "object", "required": ["status"], "properties": {"status": {"const": "alive"}}},
        "Readiness": {"type": "object", "required": ["status"], "properties": {"status": {"enum": ["ready", "unavailable"]}}},
        "AdminStats": {
            "type": "object",
            "required": ["connections", "users", "top_users", "delivered_per_second", "latency_ms", "errors", "flags", "rollout"],
        },
        "Accepted": {"type": "object", "required": ["ids"], "properties": {"ids": {"type": "array", "items": string}}},
        "InboxItem": {
            "type": "object",
            "required": ["id", "event", "data", "created_at"],
            "properties": {
                "id": string,
                "event": string,
                "data": {},
                "created_at": {"type": "string"},
                "collapse_key": {"type": "string", "description": "present when the notification was published with one"},
            },
        },
        "InboxPage": {
            "type": "object",
            "required": ["notifications", "next"],
            "properties": {
                "notifications": {"type": "array", "items": {"$ref": "#/components/schemas/InboxItem"}},
                "next": {"type": ["string", "null"]},
            },
        },
        "Notification": _notification(),
        "Batch": {
            "type": "object",
            "required": ["notifications"],
            "additionalProperties": False,
            "properties": {
                "notifications": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": max_batch,
                    "items": {"$ref": "#/components/schemas/Notification"},
                },
            },
        },
        "PublishRequest": {"oneOf": [{"$ref": "#/components/schemas/Notification"}, {"$ref": "#/components/schemas/Batch"}]},
    }


def _notification() -> Schema:
    user_id = {"type": "string", "minLength": 1, "maxLength": 256, "pattern": "^[^\\x00-\\x1f\\x7f]+$"}
    return {
        "type": "object",
        "required": ["data"],
        "additionalProperties": False,
        "description": "`data` is any JSON (finite numbers, Unicode text, nested at most MAX_DATA_DEPTH deep)",
        "properties": {
            "user_id": user_id,
            "user_ids": {"type": "array", "minItems": 1, "maxItems": MAX_RECIPIENTS, "items": user_id},
            "broadcast": {"const": True},
            "event": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$", "default": "notification"},
            "data": {},
            "idempotency_key": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY},
            "collapse_key": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_.:-]{1,64}$",
                "description": "a newer notification with the same key (same user, or both broadcasts) "
                "replaces this one while undelivered; replay and the inbox return "
                "only the latest per key",
            },
        },
        "oneOf": [{"required": ["user_id"]}, {"required": ["user_ids"]}, {"required": ["broadcast"]}],
    }


def _security_schemes() -> dict[str, Any]:
    bearer = {"type": "http", "scheme": "bearer"}
    return {
        "userBearer": {**bearer, "bearerFormat": "JWT", "description": "a user JWT (`sub` is the user id)"},
        "userQueryToken": {
            "type": "apiKey",
            "in": "query",
            "name": "access_token",
            "description": "the user JWT, for EventSource; redacted from logs",
        },
        "publisherBearer": {**bearer, "description": "PUBLISH_TOKEN, or a JWT whose scope has `publish`"},
        "adminBearer": {**bearer, "description": "ADMIN_TOKEN, or a JWT whose scope has `admin`"},
        "metricsBearer": {**bearer, "description": "METRICS_TOKEN, when set"},
        "dashboardSession": {"type": "apiKey", "in": "cookie", "name": "flagstream_dashboard"},
    }


# -- helpers -------------------------------------------------------------------------------
def _op(
    summary: str,
    responses: dict[str, Any],
    *,
    params: list[dict[str, Any]] | None = None,
    security: list[dict[str, list[str]]] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if params:
        operation["parameters"] = params
    if security is not None:
        operation["security"] = security
    return operation


def _json(schema: Schema, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return _json({"$ref": "#/components/schemas/Error"}, description, headers)


def _query(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _retry_after() -> dict[str, Any]:
    return {"Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}, "description": "seconds"}}


def _sse_event() -> Schema:
    """One event of a stream, as a reader parses it (`data` is JSON text)."""
    return {
        "type": "object",
        "properties": {
            "event": {"type": "string"},
            "id": {"type": "string"},
            "data": {"type": "string"},
            "retry": {"type": "integer", "minimum": 0},
        },
    }


def _event_id() -> Schema:
    return {"type": "string", "maxLength": MAX_EVENT_ID_LENGTH, "description": "an id this service issued (opaque)"}
