"""X-Forwarded-For / X-Forwarded-Proto, believed only from TRUSTED_PROXIES.

Behind nginx, HAProxy or an ingress, the peer of every connection is the proxy. When that
peer is in one of the trusted networks, the client is the rightmost X-Forwarded-For entry
that is not itself a trusted proxy (entries to its left were written by the client and
prove nothing), and the scheme is the one the proxy saw. The ASGI scope is changed in
place, so the access log, the dashboard cookie's `Secure` (from `request.scheme`) and
everything else see the real client. From any other peer the headers are ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import MutableMapping
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(text: str) -> tuple[Network, ...]:
    """`10.0.0.0/8, 127.0.0.1` → networks (a bare address is a /32 or /128)."""
    networks = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
    return tuple(networks)


class TrustedProxyHeaders:
    def __init__(self, app: Any, networks: tuple[Network, ...]) -> None:
        self._app = app
        self._networks = networks

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            if client and self._trusted(_address(client[0])):
                self._apply(scope)
        await self._app(scope, receive, send)

    def _apply(self, scope: MutableMapping[str, Any]) -> None:
        forwarded_for: list[str] = []
        proto = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                forwarded_for += [hop.strip() for hop in value.decode("latin-1").split(",")]
            elif name == b"x-forwarded-proto":
                proto = value.decode("latin-1").split(",")[-1].strip().lower()
        client = self.client_from(forwarded_for)
        if client is not None:
            scope["client"] = (client, 0)
        if proto in ("http", "https"):
            scope["scheme"] = proto if scope["type"] == "http" else {"http": "ws", "https": "wss"}[proto]

    def client_from(self, hops: list[str]) -> str | None:
        """The rightmost hop that is not a trusted proxy (a malformed hop ends the walk)."""
        client = None
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                break
            client = str(address)
            if not self._trusted(address):
                break
        return client

    def _trusted(self, address: Address | None) -> bool:
        return address is not None and any(address in network for network in self._networks)


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:10.0.0.1 from a dual-stack listener
    return address
