"""flagstream: real-time notifications over SSE, rolled out behind feature flags.

>>> from sse_service import create_app, load_settings
>>> app = create_app(load_settings(env={}))      # nothing runs until the app is served
"""

from .app import create_app
from .config import ConfigError, Settings, load_settings
from .sse import ServerSentEvent
from .types import EventId, Notification, StoredEvent

__all__ = [
    "ConfigError",
    "EventId",
    "Notification",
    "ServerSentEvent",
    "Settings",
    "StoredEvent",
    "create_app",
    "load_settings",
]
