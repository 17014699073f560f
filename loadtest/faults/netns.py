"""A network namespace joined to this one by a veth pair, and a black hole between them.

The black hole is a `blackhole` route inside the namespace towards this side's address:
packets from this side still arrive, but nothing the namespace sends gets out — no data,
no ACK, no SYN-ACK, no keepalive answer. To the client the server vanished without a
FIN; to the server the client stopped acknowledging. So the server's TCP keepalive and
TCP_USER_TIMEOUT are what end its streams, as with a dead NAT or a laptop lid.
Needs root (CAP_NET_ADMIN) and iproute2.
"""

from __future__ import annotations

import os
import subprocess

from .processes import MissingTool, binary


class NetworkNamespace:
    def __init__(self) -> None:
        self.name = f"fsfault{os.getpid() % 100000}"
        octet = os.getpid() % 250 + 1
        self.outside_ip, self.inside_ip = f"10.231.{octet}.1", f"10.231.{octet}.2"
        self._veth = f"fsf{os.getpid() % 100000}"
        self._ip = ""
        self.black_hole_on = False

    @property
    def exec_prefix(self) -> tuple[str, ...]:
        return (self._ip, "netns", "exec", self.name)

    def create(self) -> None:
        self._ip = binary("ip", "iproute2")
        try:
            self._run("netns", "add", self.name)
        except subprocess.CalledProcessError as exc:
            raise MissingTool(f"cannot create a network namespace (needs root): {exc.stderr.strip()}") from None
        inside = self._veth + "i"
        self._run("link", "add", self._veth, "type", "veth", "peer", "name", inside)
        self._run("link", "set", inside, "netns", self.name)
        self._run("addr", "add", f"{self.outside_ip}/30", "dev", self._veth)
        self._run("link", "set", self._veth, "up")
        self._run_inside("addr", "add", f"{self.inside_ip}/30", "dev", inside)
        self._run_inside("link", "set", inside, "up")
        self._run_inside("link", "set", "lo", "up")

    def black_hole(self) -> None:
        self._run_inside("route", "add", "blackhole", f"{self.outside_ip}/32")
        self.black_hole_on = True

    def heal(self) -> None:
        if self.black_hole_on:
            self._run_inside("route", "del", "blackhole", f"{self.outside_ip}/32")
            self.black_hole_on = False

    def established(self, port: int) -> int:
        """TCP connections to `port` the kernel inside still holds (the server's view)."""
        out = subprocess.run(
            [self._ip, "netns", "exec", self.name, "ss", "-Htn", "state", "established", f"( sport = :{port} )"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return sum(1 for line in out.splitlines() if line.strip())

    def destroy(self) -> None:
        if not self._ip:
            return
        subprocess.run([self._ip, "link", "del", self._veth], capture_output=True)
        subprocess.run([self._ip, "netns", "del", self.name], capture_output=True)

    def _run(self, *args: str) -> None:
        subprocess.run([self._ip, *args], capture_output=True, text=True, check=True)

    def _run_inside(self, *args: str) -> None:
        subprocess.run([self._ip, "netns", "exec", self.name, self._ip, *args], capture_output=True, text=True, check=True)
