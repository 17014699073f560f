"""The queue bound cuts readers that are behind, never a healthy reader hit by one burst."""

from __future__ import annotations

import httpx

from tests.support.inprocess import open_stream


async def test_one_publish_larger_than_the_queue_reaches_a_reading_stream_whole(make_server) -> None:
    async with make_server(queue_size=64) as served:
        async with httpx.AsyncClient(timeout=10) as client:
            async with open_stream(client, served.url, served.auth("burst")) as stream:
                await stream.next()
                ids = await served.publish({"notifications": [{"user_id": "burst", "data": i} for i in range(80)]}, client)
                received = await stream.take(80)
                assert [e.id for e in received] == ids
                assert all(e.event == "notification" for e in received)
                [after] = await served.publish({"user_id": "burst", "data": "after"}, client)
                assert (await stream.next()).id == after
        exposition = served.services.metrics.exposition()[0].decode()
        assert 'sse_connections_closed_total{reason="overflow"} 0.0' in exposition
