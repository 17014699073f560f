"""Settings the rollout shares with the service: the Unleash environment check and DISABLE_SPREAD."""

from __future__ import annotations

import pytest

from sse_service.config import ConfigError, load_settings, token_environment

UNLEASH = {"FLAGSTREAM_UNLEASH_URL": "http://unleash.internal:4242/api", "FLAGSTREAM_ROLLOUT_CONTROLLER": "true"}


def test_the_environment_a_client_token_reads():
    assert token_environment("default:production.abc123") == "production"
    assert token_environment("*:development.abc123") == "development"
    assert token_environment("a-token-without-scope") is None
    assert token_environment("") is None


def test_a_controller_writing_to_another_environment_than_the_service_reads_is_refused():
    env = {
        **UNLEASH,
        "FLAGSTREAM_UNLEASH_API_TOKEN": "default:development.s3cret",
        "FLAGSTREAM_UNLEASH_ENVIRONMENT": "production",
    }
    with pytest.raises(ConfigError) as refused:
        load_settings(env=env)
    message = str(refused.value)
    assert message.startswith("FLAGSTREAM_UNLEASH_ENVIRONMENT:") and "\n" not in message and "s3cret" not in message


def test_the_same_environment_or_no_controller_starts():
    same = {**UNLEASH, "FLAGSTREAM_UNLEASH_API_TOKEN": "default:production.s", "FLAGSTREAM_UNLEASH_ENVIRONMENT": "production"}
    assert load_settings(env=same).unleash_environment == "production"
    no_controller = {**same, "FLAGSTREAM_ROLLOUT_CONTROLLER": "false", "FLAGSTREAM_UNLEASH_ENVIRONMENT": "development"}
    assert load_settings(env=no_controller).unleash_environment == "development"


def test_disable_spread_is_validated():
    assert load_settings(env={"FLAGSTREAM_DISABLE_SPREAD": "30"}).disable_spread == 30.0
    with pytest.raises(ConfigError, match="^FLAGSTREAM_DISABLE_SPREAD: must be at least 0"):
        load_settings(env={"FLAGSTREAM_DISABLE_SPREAD": "-1"})
    with pytest.raises(ConfigError, match="^FLAGSTREAM_DISABLE_SPREAD: expected float"):
        load_settings(env={"FLAGSTREAM_DISABLE_SPREAD": "soon"})
