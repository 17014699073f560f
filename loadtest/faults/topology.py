"""A deployment a fault scenario can hurt: Redis, N instances, HAProxy (or one instance in
a network namespace for the black hole), with secrets and fast settings of its own."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from dataclasses import dataclass

from .netns import NetworkNamespace
from .processes import HAProxy, Instance, RedisProcess, state_dir


@dataclass(frozen=True)
class TopologySpec:
    instances: int = 2
    redis: str | None = "volatile"  # volatile | aof | None (memory broker, one instance)
    haproxy: bool = True
    namespace: bool = False  # the one instance inside a network namespace
    queue_size: int = 512
    ping_interval: float = 1.0
    dead_peer_timeout: float = 3.0


class Topology:
    def __init__(self, spec: TopologySpec) -> None:
        self.spec = spec
        self.workdir = state_dir()
        self.jwt_secret = secrets.token_hex(24)
        self.publish_token = secrets.token_hex(16)
        self.redis: RedisProcess | None = None
        self.netns: NetworkNamespace | None = None
        self.instances: list[Instance] = []
        self.haproxy: HAProxy | None = None

    @property
    def url(self) -> str:
        return self.haproxy.url if self.haproxy is not None else self.instances[0].url

    def _env(self, name: str) -> dict[str, str]:
        instance_dir = os.path.join(self.workdir, name)
        os.makedirs(instance_dir, exist_ok=True)
        env = {
            "FLAGSTREAM_JWT_SECRET": self.jwt_secret,
            "FLAGSTREAM_PUBLISH_TOKEN": self.publish_token,
            "FLAGSTREAM_ADMIN_TOKEN": secrets.token_hex(16),
            "FLAGSTREAM_STATE_DIR": instance_dir,
            "FLAGSTREAM_PING_INTERVAL": str(self.spec.ping_interval),
            "FLAGSTREAM_RETRY_MS": "500",
            "FLAGSTREAM_SHUTDOWN_GRACE": "3",
            "FLAGSTREAM_LOG_LEVEL": "warning",
            "FLAGSTREAM_QUEUE_SIZE": str(self.spec.queue_size),
            "FLAGSTREAM_MAX_PAYLOAD_BYTES": "100000",
            "FLAGSTREAM_DEAD_PEER_TIMEOUT": str(self.spec.dead_peer_timeout),
            "FLAGSTREAM_BROKER": "memory",
        }
        if self.redis is not None:
            env |= {
                "FLAGSTREAM_BROKER": "redis",
                "FLAGSTREAM_REDIS_URL": self.redis.url,
                "FLAGSTREAM_REDIS_PREFIX": f"fsfault:{secrets.token_hex(4)}:"
                if not self.instances
                else self.instances[0].env["FLAGSTREAM_REDIS_PREFIX"],
            }
        return env

    def start(self) -> None:
        try:
            if self.spec.redis is not None:
                self.redis = RedisProcess(self.workdir, persistent=self.spec.redis == "aof")
                self.redis.start()
            host, prefix = "127.0.0.1", ()
            if self.spec.namespace:
                self.netns = NetworkNamespace()
                self.netns.create()
                host, prefix = self.netns.inside_ip, self.netns.exec_prefix
            for index in range(self.spec.instances):
                instance = Instance(f"i{index}", self._env(f"i{index}"), host=host, prefix=prefix)
                instance.start()
                self.instances.append(instance)
            if self.spec.haproxy:
                self.haproxy = HAProxy(self.workdir, self.instances)
                self.haproxy.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.haproxy is not None:
            self.haproxy.stop()
        for instance in self.instances:
            instance.terminate(timeout=10)
        if self.netns is not None:
            self.netns.heal()
            self.netns.destroy()
        if self.redis is not None:
            self.redis.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    async def __aenter__(self) -> Topology:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)
