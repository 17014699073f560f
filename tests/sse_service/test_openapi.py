"""/openapi.json describes every route the app serves, and only those."""

from __future__ import annotations

import re

import pytest

from sse_service.app import STREAM_PATH, create_app
from sse_service.publish_endpoint import PUBLISH_PATH
from tests.support.inprocess import server_settings

IGNORED_METHODS = {"HEAD", "OPTIONS"}  # added by Quart to every GET rule


def served_routes(app) -> set[tuple[str, str]]:
    # the plain ASGI stream and publish endpoints, outside Quart's url_map
    routes = {("GET", STREAM_PATH), ("POST", PUBLISH_PATH)}
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        routes |= {(method, path) for method in rule.methods - IGNORED_METHODS}
    return routes


def documented_routes(document) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}


@pytest.mark.parametrize("dev_mode", [False, True])
async def test_every_served_route_is_documented_and_every_documented_route_is_served(dev_mode: bool) -> None:
    app = create_app(server_settings(dev_mode=dev_mode))
    client = app.test_client()
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = await response.get_json()
    assert document["openapi"].startswith("3.1")
    assert documented_routes(document) == served_routes(app)


async def test_every_operation_documents_its_responses_and_every_reference_resolves() -> None:
    app = create_app(server_settings())
    document = await (await app.test_client().get("/openapi.json")).get_json()
    text = repr(document)
    for name in re.findall(r"#/components/schemas/(\w+)", text):
        assert name in document["components"]["schemas"], name
    for operations in document["paths"].values():
        for operation in operations.values():
            assert operation["responses"], operation["summary"]
            for scheme in (name for requirement in operation.get("security", []) for name in requirement):
                assert scheme in document["components"]["securitySchemes"]
