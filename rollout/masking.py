"""Credentials out of every message and log line: state store URLs and webhook URLs.

A Redis URL keeps everything but its password (``redis://:***@host:6379/0``); a webhook URL
keeps only its scheme and host, because for Slack-style hooks the path *is* the secret.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

_PASSWORD_IN_URL = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@", re.IGNORECASE)
_PASSWORD_IN_QUERY = re.compile(r"(?P<head>[?&]password=)[^&\s]*", re.IGNORECASE)


def mask_url(url: str) -> str:
    """A URL safe to show: no password, and for http(s) nothing past the host.

    >>> mask_url("redis://:hunter2@cache:6379/0")
    'redis://:***@cache:6379/0'
    >>> mask_url("https://hooks.slack.com/services/T0/B0/not-a-real-secret")
    'https://hooks.slack.com/…'
    """
    if url.lower().startswith(("http://", "https://")):
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            return "<webhook URL>"
        return f"{parts.scheme}://{host}{port}/…"
    return mask_text(url)


def mask_text(text: str, *secret_urls: str) -> str:
    """``text`` with every password in a URL masked, and each of ``secret_urls`` shown masked."""
    for url in secret_urls:
        if url:
            text = text.replace(url, mask_url(url))
    text = _PASSWORD_IN_URL.sub(r"\g<head>***@", text)
    return _PASSWORD_IN_QUERY.sub(r"\g<head>***", text)


class MaskingFilter(logging.Filter):
    """Rewrites records of a logger it is added to (e.g. ``httpx``, which logs every request URL)."""

    def __init__(self, *secret_urls: str) -> None:
        super().__init__()
        self.secret_urls = secret_urls

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message, *self.secret_urls)
        if masked != message:
            record.msg, record.args = masked, ()
        return True
