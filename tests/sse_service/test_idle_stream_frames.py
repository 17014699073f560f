"""What an idle stream holds of ours: one coroutine (the endpoint's own frame), whatever
phases it went through (benchmarks/stream_memory.py measures the bytes)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import CoroutineType
from typing import Any

import sse_service
from sse_service.app import create_app
from sse_service.services import Services
from sse_service.stream import StreamEndpoint
from tests.sse_service.test_stream_subscription import open_stream
from tests.support.gates import SwitchableGate
from tests.support.inprocess import server_settings

PACKAGE = str(Path(sse_service.__file__).parent)


def our_coroutines(task: asyncio.Task[Any]) -> list[str]:
    """The coroutines of sse_service in `task`'s await chain."""
    names = []
    awaited: Any = task.get_coro()
    while isinstance(awaited, CoroutineType):
        if awaited.cr_code.co_filename.startswith(PACKAGE):
            names.append(awaited.cr_code.co_qualname)
        awaited = awaited.cr_await
    return names


async def test_an_idle_stream_holds_one_coroutine_of_ours_in_all_its_tasks() -> None:
    services: Services = create_app(server_settings(), flag_gate=SwitchableGate()).extensions["flagstream"]
    others = asyncio.all_tasks()
    task, gone, status = await open_stream(StreamEndpoint(services), "u1")
    assert status == 200
    [connection] = services.hub.user_connections("u1")
    for _ in range(100):  # until the writer waits for something to write
        if connection._waiter is not None:
            break
        await asyncio.sleep(0.01)
    held = [name for t in asyncio.all_tasks() - others for name in our_coroutines(t)]
    assert held == ["StreamEndpoint.__call__"]  # was 6: _serve, _write, _write_until_closed, take, the watcher's loop
    gone.set_result({"type": "http.disconnect"})
    await asyncio.wait_for(task, 5)
    assert not list(services.hub.user_connections("u1"))
