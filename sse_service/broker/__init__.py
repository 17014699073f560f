"""Brokers: how a notification reaches every instance holding its user.

`Broker` is the protocol (`base.py`); `MemoryBroker` (`memory.py`) serves one process,
`RedisBroker` (`redis.py`) and the cluster variant (`redis_cluster.py`) scale out. Import the
implementations from their modules: only the app factory picks one.
"""

from .base import Accepted, Broker, BrokerListeners

__all__ = ["Accepted", "Broker", "BrokerListeners"]
