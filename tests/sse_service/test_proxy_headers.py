"""TRUSTED_PROXIES: X-Forwarded-For/-Proto believed only from trusted peers."""

from __future__ import annotations

from typing import Any

import pytest

from sse_service.proxy_headers import TrustedProxyHeaders, parse_networks


async def _seen(peer: str, headers: dict[str, str], trusted: str = "10.0.0.0/8, 127.0.0.1") -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def app(scope, receive, send) -> None:
        seen.update(client=scope["client"][0], scheme=scope["scheme"])

    scope = {
        "type": "http",
        "scheme": "http",
        "client": (peer, 5555),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    await TrustedProxyHeaders(app, parse_networks(trusted))(scope, None, None)
    return seen


async def test_a_trusted_proxy_names_the_client_and_scheme() -> None:
    seen = await _seen("10.1.2.3", {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
    assert seen == {"client": "203.0.113.7", "scheme": "https"}


async def test_headers_from_an_untrusted_peer_are_ignored() -> None:
    seen = await _seen("198.51.100.9", {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
    assert seen == {"client": "198.51.100.9", "scheme": "http"}


async def test_a_client_cannot_spoof_its_address_through_a_trusted_proxy() -> None:
    # The client wrote "1.2.3.4"; nginx appended the address it saw.
    seen = await _seen("127.0.0.1", {"X-Forwarded-For": "1.2.3.4, 203.0.113.7"})
    assert seen["client"] == "203.0.113.7"


async def test_a_chain_of_trusted_proxies_is_walked_from_the_right() -> None:
    seen = await _seen("127.0.0.1", {"X-Forwarded-For": "203.0.113.7, 10.0.0.5, 10.0.0.6"})
    assert seen["client"] == "203.0.113.7"


async def test_a_malformed_hop_ends_the_walk() -> None:
    seen = await _seen("127.0.0.1", {"X-Forwarded-For": "203.0.113.7, garbage, 10.0.0.6"})
    assert seen["client"] == "10.0.0.6"


async def test_an_ipv4_mapped_peer_matches_an_ipv4_network() -> None:
    seen = await _seen("::ffff:10.1.2.3", {"X-Forwarded-For": "2001:db8::1"})
    assert seen["client"] == "2001:db8::1"


async def test_an_unknown_scheme_is_ignored() -> None:
    seen = await _seen("127.0.0.1", {"X-Forwarded-Proto": "gopher"})
    assert seen["scheme"] == "http"


@pytest.mark.parametrize("text", ["10.0.0.0/33", "example.com", "10.0.0.0/8, nope"])
def test_bad_networks_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_networks(text)
