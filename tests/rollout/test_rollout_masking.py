"""Credentials never shown: state store URLs keep all but the password, webhook URLs only scheme and host."""

from __future__ import annotations

import logging

import pytest

from rollout.masking import MaskingFilter, mask_text, mask_url
from rollout.store import RedisStateStore


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
        ("rediss://app:hunter2@cache.internal:6380/1", "rediss://app:***@cache.internal:6380/1"),
        ("redis://cache:6379/0?password=hunter2&db=1", "redis://cache:6379/0?password=***&db=1"),
        ("unix://:hunter2@/run/redis.sock?db=0", "unix://:***@/run/redis.sock?db=0"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("https://hooks.slack.com/services/T0/B0/not-a-real-secret", "https://hooks.slack.com/…"),
        ("http://user:pw@127.0.0.1:9000/hook?token=abc", "http://127.0.0.1:9000/…"),
    ],
)
def test_mask_url_hides_the_secret_part(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_mask_text_masks_urls_inside_a_message() -> None:
    message = "redis redis://:hunter2@cache:6379/0: Error 111 connecting; hook https://hooks.example/s/T/B/X failed"
    masked = mask_text(message, "https://hooks.example/s/T/B/X")
    assert "hunter2" not in masked and "/s/T/B/X" not in masked
    assert "redis://:***@cache:6379/0" in masked and "https://hooks.example/…" in masked


def test_a_redis_state_store_names_itself_without_its_password() -> None:
    assert RedisStateStore("redis://:hunter2@127.0.0.1:1/0", "sse-delivery").where == "redis://:***@127.0.0.1:1/0"


def test_the_masking_filter_rewrites_formatted_records(caplog) -> None:
    logger = logging.getLogger("tests.masking")
    secret = "https://hooks.example/services/T/B/SECRET"
    logger.addFilter(MaskingFilter(secret))
    try:
        with caplog.at_level(logging.INFO, logger="tests.masking"):
            logger.info('HTTP Request: POST %s "HTTP/1.1 200 OK"', secret)
    finally:
        logger.filters.clear()
    assert "SECRET" not in caplog.text and "https://hooks.example/…" in caplog.text


def test_a_cli_error_about_the_state_store_shows_no_password(tmp_path, capsys) -> None:
    from sse_service.cli import main as flagstream
    from tests.rollout.conftest import PLAN
    from tests.support.redis_server import free_port

    plan = tmp_path / "rollout.toml"
    plan.write_text(PLAN)
    state = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    code = flagstream(["rollout", "report", "--plan", str(plan), "--state", state])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "hunter2-secret" not in err and "redis://:***@127.0.0.1" in err
