"""/static/ serves the pages (sse_service/static) and the browser client (clients/js/src) side by side."""

from __future__ import annotations

import pytest

from sse_service import create_app
from sse_service.app import CLIENT_JS, STATIC
from tests.support.inprocess import server_settings


async def test_the_client_library_and_the_pages_are_served_from_their_own_folders() -> None:
    client = create_app(server_settings()).test_client()
    for name, folder in (("flagstream.js", CLIENT_JS), ("use-sse.js", CLIENT_JS), ("dashboard.js", STATIC), ("demo.js", STATIC)):
        response = await client.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert await response.get_data() == (folder / name).read_bytes()
    assert not (STATIC / "flagstream.js").exists() and not (CLIENT_JS / "demo.js").exists()


@pytest.mark.parametrize("path", ["/static/nope.js", "/static/../app.py", "/static/%2e%2e/app.py", "/static/"])
async def test_nothing_outside_the_two_folders_is_served(path: str) -> None:
    response = await create_app(server_settings()).test_client().get(path)
    assert response.status_code == 404
