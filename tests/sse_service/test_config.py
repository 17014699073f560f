from __future__ import annotations

import pytest

from sse_service.config import ConfigError, Settings, load_settings


def test_defaults_run_the_embedded_mode() -> None:
    s = load_settings(env={})
    assert (s.broker, s.max_connections_per_user, s.user_limit_policy, s.rollout_flag) == ("memory", 5, "reject", "sse-delivery")
    assert s.ping_interval == 30 and s.flags_refresh_interval == 5 and s.max_batch == 1000


def test_env_overrides_file_and_flags_override_env(tmp_path) -> None:
    config = tmp_path / "f.toml"
    config.write_text("[flagstream]\nport = 9000\nping_interval = 10\nbroker = 'redis'\n")
    s = load_settings(config, env={"FLAGSTREAM_PORT": "9100"}, overrides={"ping_interval": 2.5})
    assert (s.port, s.ping_interval, s.broker) == (9100, 2.5, "redis")


@pytest.mark.parametrize(
    "env, name",
    [
        ({"FLAGSTREAM_PORT": "x"}, "FLAGSTREAM_PORT"),
        ({"FLAGSTREAM_PORT": "70000"}, "FLAGSTREAM_PORT"),
        ({"FLAGSTREAM_USER_LIMIT_POLICY": "drop"}, "FLAGSTREAM_USER_LIMIT_POLICY"),
        ({"FLAGSTREAM_DEV_MODE": "maybe"}, "FLAGSTREAM_DEV_MODE"),
        ({"FLAGSTREAM_BROKER": "redis", "FLAGSTREAM_REDIS_URL": "http://x"}, "FLAGSTREAM_REDIS_URL"),
        ({"FLAGSTREAM_WORKERS": "4"}, "FLAGSTREAM_WORKERS"),
        ({"FLAGSTREAM_BATCH_WINDOW_MS": "5000"}, "FLAGSTREAM_BATCH_WINDOW_MS"),
        ({"FLAGSTREAM_MAX_DATA_DEPTH": "0"}, "FLAGSTREAM_MAX_DATA_DEPTH"),
        ({"FLAGSTREAM_MAX_DATA_DEPTH": "501"}, "FLAGSTREAM_MAX_DATA_DEPTH"),
        ({"FLAGSTREAM_PUBLISH_RATE": "-1"}, "FLAGSTREAM_PUBLISH_RATE"),
        ({"FLAGSTREAM_PUBLISH_RATE": "nan"}, "FLAGSTREAM_PUBLISH_RATE"),
        ({"FLAGSTREAM_STREAM_RATE": "inf"}, "FLAGSTREAM_STREAM_RATE"),
        ({"FLAGSTREAM_STREAM_BURST": "0"}, "FLAGSTREAM_STREAM_BURST"),
    ],
)
def test_invalid_values_name_the_setting(env, name) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(env=env)


def test_unknown_file_keys_are_refused(tmp_path) -> None:
    config = tmp_path / "f.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(ConfigError, match="FLAGSTREAM_PROT: unknown setting"):
        load_settings(config, env={})


def test_every_api_setting_exists() -> None:
    names = {f.upper() for f in Settings.__dataclass_fields__}
    for required in (
        "HOST",
        "PORT",
        "JWT_SECRET",
        "PUBLISH_TOKEN",
        "ADMIN_TOKEN",
        "BROKER",
        "REDIS_URL",
        "MAX_CONNECTIONS",
        "MAX_CONNECTIONS_PER_USER",
        "USER_LIMIT_POLICY",
        "PING_INTERVAL",
        "QUEUE_SIZE",
        "BATCH_WINDOW_MS",
        "HISTORY_SIZE",
        "HISTORY_TTL",
        "MAX_PAYLOAD_BYTES",
        "FLAGS_FILE",
        "UNLEASH_URL",
        "UNLEASH_API_TOKEN",
        "UNLEASH_APP_NAME",
        "ROLLOUT_FLAG",
        "SHUTDOWN_GRACE",
        "MAX_BATCH",
        "FLAGS_REFRESH_INTERVAL",
        "METRICS_TOKEN",
    ):
        assert required in names


@pytest.mark.parametrize(
    "env, name",
    [
        ({"FLAGSTREAM_CORS_ORIGINS": "*"}, "FLAGSTREAM_CORS_ORIGINS"),
        ({"FLAGSTREAM_CORS_ORIGINS": "https://*.example.com"}, "FLAGSTREAM_CORS_ORIGINS"),
        ({"FLAGSTREAM_CORS_ORIGINS": "https://app.example.com/path"}, "FLAGSTREAM_CORS_ORIGINS"),
        ({"FLAGSTREAM_CORS_ORIGINS": "app.example.com"}, "FLAGSTREAM_CORS_ORIGINS"),
        ({"FLAGSTREAM_TRUSTED_PROXIES": "10.0.0.0/40"}, "FLAGSTREAM_TRUSTED_PROXIES"),
        ({"FLAGSTREAM_STREAM_COOKIE_SAMESITE": "none"}, "FLAGSTREAM_STREAM_COOKIE_SAMESITE"),
        ({"FLAGSTREAM_STREAM_COOKIE_SAMESITE": "loose"}, "FLAGSTREAM_STREAM_COOKIE_SAMESITE"),
    ],
)
def test_invalid_deployment_settings_name_the_setting(env, name) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(env=env)


def test_cors_origins_are_normalised_as_browsers_send_them() -> None:
    from sse_service.cors import parse_origins

    assert parse_origins("https://App.Example.com:443/, http://127.0.0.1:3000") == {
        "https://app.example.com",
        "http://127.0.0.1:3000",
    }
