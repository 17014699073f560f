"""A local Redis Cluster for tests: 3 masters + 3 replicas from the Debian redis-server,
on free ports, in a temp dir of its own, torn down afterwards."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis

from .requirements import require_binary


def require_replicas(cluster: LocalCluster) -> bool:
    # after a failover test killed a master, its promoted replica has none: that is fine
    return len(cluster.alive()) == len(cluster.ports)


@dataclass
class LocalCluster:
    ports: list[int]
    binary: str = ""
    directory: str = ""
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return ",".join(f"redis://127.0.0.1:{port}" for port in self.ports)

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, socket_connect_timeout=1)

    def master_of(self, key: str) -> int:
        cluster = redis.RedisCluster(host="127.0.0.1", port=self.alive()[0])
        try:
            return cluster.get_node_from_key(key).port
        finally:
            cluster.close()

    def alive(self) -> list[int]:
        return [port for port, process in self.processes.items() if process.poll() is None]

    def kill(self, port: int) -> None:
        process = self.processes[port]
        process.kill()
        process.wait(5)

    def _replicas_online(self, port: int) -> bool:
        """A master's replicas finished their first sync (WAIT can count them)."""
        client = self.client(port)
        info = client.info("replication")
        if info.get("role") != "master":
            # a replica is in sync when its link is up and no full sync is running
            return info.get("master_link_status") == "up" and not info.get("master_sync_in_progress")
        slaves = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
        if not all(s.get("state") == "online" for s in slaves):
            return False
        if not slaves:
            return not require_replicas(self)
        # WAIT: every replica acknowledged the master's offset (the first publish's WAIT then succeeds)
        return int(client.execute_command("WAIT", len(slaves), 1000)) >= len(slaves)

    def restart(self, port: int) -> None:
        """Bring a killed node back (same port, same nodes.conf): it rejoins as a replica."""
        self.processes[port] = _start_node(self.binary, port, self.directory)

    def kill_and_recover(self, port: int) -> None:
        """What an orchestrator does: the master dies, a replica is promoted, the dead node
        comes back and syncs as a replica of the new master."""
        self.kill(port)
        self.wait_until_healthy()
        self.restart(port)
        self.wait_until_healthy()

    def wait_until_healthy(self, timeout: float = 30) -> None:
        """Every live node says cluster_state:ok and all 16384 slots are served."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if all(b"cluster_state:ok" in self.client(p).execute_command("CLUSTER", "INFO") for p in self.alive()) and all(
                    self._replicas_online(p) for p in self.alive()
                ):
                    return
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the local redis cluster did not become healthy")


def _free_node_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    import random
    import socket

    while True:
        port = random.randint(20000, 45000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port


def _start_node(binary: str, port: int, directory: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            f"nodes-{port}.conf",
            "--cluster-node-timeout",
            "1000",
            "--dir",
            directory,
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextmanager
def local_cluster() -> Iterator[LocalCluster]:
    server = require_binary("redis-server", "redis-server")
    cli = require_binary("redis-cli", "redis-server")
    directory = tempfile.mkdtemp(prefix="flagstream-cluster-")
    cluster = LocalCluster([], server, directory)
    while len(cluster.ports) < 6:
        port = _free_node_port()
        if port not in cluster.ports:
            cluster.ports.append(port)
    try:
        for port in cluster.ports:
            cluster.processes[port] = _start_node(server, port, directory)
        deadline = time.monotonic() + 10
        for port in cluster.ports:
            while True:
                try:
                    if cluster.client(port).ping():
                        break
                except redis.RedisError as exc:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"redis-server (cluster node) did not start: {exc}") from None
                    time.sleep(0.05)
        subprocess.run(
            [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in cluster.ports), "--cluster-replicas", "1", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        cluster.wait_until_healthy()
        yield cluster
    finally:
        for process in cluster.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in cluster.processes.values():
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(directory, ignore_errors=True)
