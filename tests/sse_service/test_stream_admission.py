"""Whether a stream opens, from its headers and query alone (`stream_admission.admit`), without a
socket: the real app's services on the memory broker, each refusal in the documented order."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

from flags.types import Decision, Knobs
from sse_service.app import create_app
from sse_service.auth import mint_token
from sse_service.services import Services
from sse_service.stream_admission import RESET, Open, Refuse, admit
from sse_service.types import EventId
from tests.support.gates import SwitchableGate
from tests.support.inprocess import SECRET, server_settings


def services(**changes: Any) -> Services:
    app = create_app(server_settings(**changes), flag_gate=SwitchableGate(outside={"outsider"}))
    return app.extensions["flagstream"]


def bearer(user_id: str) -> dict[str, str]:
    return {"authorization": f"Bearer {mint_token(SECRET, user_id)}"}


def answer(s: Services, headers: dict[str, str], query: str = "") -> Refuse | Open:
    return asyncio.run(admit(s, headers, parse_qs(query)))


def test_no_token_is_refused_401_with_www_authenticate() -> None:
    refused = answer(services(), {})
    assert isinstance(refused, Refuse) and refused.status == 401
    assert refused.headers == {"www-authenticate": "Bearer"} and refused.body is not None
    assert refused.body["error"] == "unauthorized"


def test_a_user_outside_the_rollout_gets_204_without_a_body() -> None:
    assert answer(services(), bearer("outsider")) == Refuse(204, None)


def test_a_draining_instance_refuses_503_with_retry_after() -> None:
    s = services(retry_ms=3000)
    s.hub.draining = True
    refused = answer(s, bearer("u1"))
    assert isinstance(refused, Refuse) and refused.status == 503 and refused.headers == {"Retry-After": "3"}


def test_a_last_event_id_it_never_issued_is_a_422_naming_the_header() -> None:
    refused = answer(services(), {**bearer("u1"), "last-event-id": "not-an-id"})
    assert isinstance(refused, Refuse) and refused.status == 422 and refused.body is not None
    assert refused.body["detail"][0]["field"] == "Last-Event-ID"


def test_an_id_of_the_scheme_before_epochs_opens_a_stream_that_starts_with_reset() -> None:
    opened = answer(services(), {**bearer("u1"), "last-event-id": "1700000000000-0"})
    assert isinstance(opened, Open) and opened.after == RESET


def test_a_token_in_the_query_and_a_resumable_id_open_a_stream_of_that_user() -> None:
    s = services()
    position = asyncio.run(s.broker.position("u1"))
    query = f"access_token={mint_token(SECRET, 'u1')}&last_event_id={position}"
    opened = answer(s, {}, query)
    assert isinstance(opened, Open) and opened.connection.user_id == "u1"
    assert isinstance(opened.after, EventId) and str(opened.after) == str(position)
    assert opened.evicted == ()


def test_one_stream_too_many_for_the_user_is_a_429_user_limit() -> None:
    s = services(max_connections_per_user=1)
    assert isinstance(answer(s, bearer("u1")), Open)  # it holds the lease
    refused = answer(s, bearer("u1"))
    assert isinstance(refused, Refuse) and refused.status == 429 and refused.body is not None
    assert refused.body["error"] == "user_limit" and "Retry-After" in refused.headers


def test_under_evict_oldest_the_new_stream_opens_and_names_the_one_it_replaces() -> None:
    s = services(max_connections_per_user=1, user_limit_policy="evict_oldest")
    first = answer(s, bearer("u1"))
    assert isinstance(first, Open)
    second = answer(s, bearer("u1"))
    assert isinstance(second, Open) and second.evicted == (first.connection.id,)


class CountingGate(SwitchableGate):
    """Counts the questions admission asks of the flag gate."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.asked: list[str] = []

    def decide(self, user_id: str) -> Decision:
        self.asked.append("decide")
        return super().decide(user_id)

    def is_enabled(self, user_id: str) -> bool:
        self.asked.append("is_enabled")
        return super().is_enabled(user_id)

    def knobs(self, user_id: str) -> Knobs:
        self.asked.append("knobs")
        return super().knobs(user_id)


def test_a_connect_asks_the_flags_one_question_for_the_rollout_and_its_knobs() -> None:
    gate = CountingGate(outside={"outsider"}, knobs=Knobs(ping_interval=9.0))
    s: Services = create_app(server_settings(), flag_gate=gate).extensions["flagstream"]
    opened = answer(s, bearer("u1"))
    assert isinstance(opened, Open) and opened.connection.ping_interval == 9.0
    assert answer(s, bearer("outsider")) == Refuse(204, None)
    assert gate.asked == ["decide", "decide"]
