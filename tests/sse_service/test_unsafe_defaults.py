"""Settings that would make flagstream unsafe refuse to start, with one line naming the setting."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sse_service.config import ConfigError, load_settings
from sse_service.devsecrets import with_dev_secrets

LONG_SECRET = "s" * 32


def test_asymmetric_mode_without_an_audience_is_refused(tmp_path) -> None:
    pem = tmp_path / "key.pem"
    pem.write_text(public_pem())
    with pytest.raises(ConfigError, match="FLAGSTREAM_JWT_AUDIENCE"):
        load_settings(env={}, overrides={"jwt_public_key": str(pem)})
    with pytest.raises(ConfigError, match="FLAGSTREAM_JWT_AUDIENCE"):
        load_settings(env={}, overrides={"jwks_url": "https://id.example/jwks.json"})
    assert load_settings(env={}, overrides={"jwks_url": "https://id.example/jwks.json", "jwt_audience": "notify"})


@pytest.mark.parametrize("secret", ["short", "x" * 31, "é" * 15])
def test_a_short_jwt_secret_is_refused(secret: str) -> None:
    with pytest.raises(ConfigError, match="FLAGSTREAM_JWT_SECRET: .*32 bytes"):
        load_settings(env={}, overrides={"jwt_secret": secret})


def test_a_32_byte_secret_is_accepted() -> None:
    assert load_settings(env={}, overrides={"jwt_secret": LONG_SECRET}).jwt_secret == LONG_SECRET


@pytest.mark.parametrize("url", ["http://id.example/jwks.json", "ftp://127.0.0.1/jwks", "http://10.0.0.1/jwks"])
def test_jwks_urls_must_be_https_unless_on_loopback(url: str) -> None:
    with pytest.raises(ConfigError, match="FLAGSTREAM_JWKS_URL"):
        load_settings(env={}, overrides={"jwks_url": url, "jwt_audience": "a"})


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9999/jwks", "http://localhost/jwks", "http://[::1]:80/jwks", "https://id.example/jwks"]
)
def test_loopback_http_and_https_jwks_urls_are_accepted(url: str) -> None:
    assert load_settings(env={}, overrides={"jwks_url": url, "jwt_audience": "a"}).jwks_url == url


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "notify.example.com"])
def test_dev_mode_only_listens_on_loopback(host: str) -> None:
    with pytest.raises(ConfigError, match="FLAGSTREAM_DEV_MODE"):
        load_settings(env={}, overrides={"dev_mode": True, "host": host})


def test_dev_mode_runs_only_with_the_generated_dev_secrets(tmp_path) -> None:
    settings = load_settings(env={}, overrides={"dev_mode": True, "jwt_secret": LONG_SECRET, "state_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="FLAGSTREAM_DEV_MODE: .*JWT_SECRET"):
        with_dev_secrets(settings)
    generated = with_dev_secrets(load_settings(env={}, overrides={"dev_mode": True, "state_dir": str(tmp_path)}))
    assert len(generated.jwt_secret.encode()) >= 32


def test_a_missing_public_key_file_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="FLAGSTREAM_JWT_PUBLIC_KEY: no such file"):
        load_settings(env={}, overrides={"jwt_public_key": "/nonexistent/key.pem", "jwt_audience": "a"})


@pytest.mark.slow
@pytest.mark.parametrize(
    "env, name",
    [
        ({"FLAGSTREAM_JWT_PUBLIC_KEY": "/nonexistent/key.pem", "FLAGSTREAM_JWT_AUDIENCE": "a"}, "FLAGSTREAM_JWT_PUBLIC_KEY"),
        (
            {
                "FLAGSTREAM_JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n",
                "FLAGSTREAM_JWT_AUDIENCE": "a",
            },
            "FLAGSTREAM_JWT_PUBLIC_KEY",
        ),
        ({"FLAGSTREAM_JWKS_URL": "https://id.example/jwks.json"}, "FLAGSTREAM_JWT_AUDIENCE"),
        ({"FLAGSTREAM_JWT_SECRET": "too-short"}, "FLAGSTREAM_JWT_SECRET"),
        ({"FLAGSTREAM_DEV_MODE": "true", "FLAGSTREAM_HOST": "0.0.0.0"}, "FLAGSTREAM_DEV_MODE"),
    ],
)
def test_flagstream_serve_refuses_unsafe_settings_with_one_line(env, name, tmp_path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLAGSTREAM_")}
    result = subprocess.run(
        [sys.executable, "-m", "sse_service.cli", "serve"],
        capture_output=True,
        text=True,
        env={**clean, **env, "FLAGSTREAM_STATE_DIR": str(tmp_path), "FLAGSTREAM_PORT": "0"},
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def public_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.mark.parametrize(
    "env, name",
    [
        ({"FLAGSTREAM_HEADER_TIMEOUT": "100"}, "FLAGSTREAM_HEADER_TIMEOUT"),  # past the 75 s keep-alive
        ({"FLAGSTREAM_HEADER_TIMEOUT": "0"}, "FLAGSTREAM_HEADER_TIMEOUT"),
        ({"FLAGSTREAM_JWKS_REFRESH_INTERVAL": "0.5"}, "FLAGSTREAM_JWKS_REFRESH_INTERVAL"),  # would hammer the IdP
    ],
)
def test_security_timers_are_bounded(env, name) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(env=env)
