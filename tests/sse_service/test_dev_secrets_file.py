"""The dev secrets file: never readable by others, whatever was lying in STATE_DIR before."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from sse_service.config import ConfigError, load_settings
from sse_service.devsecrets import with_dev_secrets


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_preexisting_world_writable_tmp_file_does_not_lend_its_mode(tmp_path) -> None:
    planted = tmp_path / "dev-secrets.tmp"
    planted.write_text("{}")
    os.chmod(planted, 0o666)
    settings = with_dev_secrets(load_settings(env={}, overrides={"state_dir": str(tmp_path)}))
    assert settings.admin_token
    assert mode(tmp_path / "dev-secrets.json") == 0o600
    assert planted.read_text() == "{}"  # not written through


def test_the_secrets_directory_is_private_when_created(tmp_path) -> None:
    state = tmp_path / "state"
    with_dev_secrets(load_settings(env={}, overrides={"state_dir": str(state)}))
    assert mode(state) == 0o700 and mode(state / "dev-secrets.json") == 0o600


@pytest.mark.parametrize("loose", [0o640, 0o604, 0o644])
def test_a_secrets_file_readable_by_others_is_refused(tmp_path, loose: int) -> None:
    with_dev_secrets(load_settings(env={}, overrides={"state_dir": str(tmp_path)}))
    os.chmod(tmp_path / "dev-secrets.json", loose)
    with pytest.raises(ConfigError, match="FLAGSTREAM_STATE_DIR: .*dev-secrets.json.*chmod 600"):
        with_dev_secrets(load_settings(env={}, overrides={"state_dir": str(tmp_path)}))


def test_the_cli_refuses_a_readable_secrets_file_with_one_line(tmp_path) -> None:
    with_dev_secrets(load_settings(env={}, overrides={"state_dir": str(tmp_path)}))
    os.chmod(tmp_path / "dev-secrets.json", 0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAGSTREAM_")}
    result = subprocess.run(
        [sys.executable, "-m", "sse_service.cli", "token", "--user", "u"],
        capture_output=True,
        text=True,
        env={**env, "FLAGSTREAM_STATE_DIR": str(tmp_path)},
        timeout=30,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "FLAGSTREAM_STATE_DIR" in result.stderr
    assert result.stdout == ""
