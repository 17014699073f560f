"""Bad `flagstream loadtest` arguments: one clear line on stderr, exit 2, nothing started."""

from __future__ import annotations

import subprocess
import sys

import pytest

BASE = ["--jwt-secret", "x" * 32, "--publish-token", "p", "--no-progress"]


def loadtest(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sse_service.cli", "loadtest", *args], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nonsense", *BASE], "invalid choice: 'nonsense'"),
        (["idle", "--url", "http://10.1.2.3:8080", *BASE], "must point at this machine"),
        (["idle", "--url", "ftp://127.0.0.1", *BASE], "--url must be http://127.0.0.1:PORT"),
        (["notify", "-c", "0", *BASE], "--connections must be positive"),
        (["notify", "-c", "ten", *BASE], "argument -c/--connections: invalid int value: 'ten'"),
        (["notify", "--rate", "-5", *BASE], "--rate must be positive"),
        (["notify", "--workers", "65", *BASE], "--workers: at most 64"),
        (["notify", "--jwt-secret", "x" * 32, "--no-progress"], "give --publish-token"),
        (["idle", "--token-file", "/nonexistent/tokens.txt"], "--token-file: No such file or directory"),
        (["faults", "--fault", "nope"], "--fault: unknown nope"),
        (["faults", "-c", "0"], "--connections: 1 to 2000 users for faults"),
        (["faults", "--hold", "0"], "--hold must be in (0, 60] seconds"),
    ],
)
def test_bad_arguments_get_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = loadtest(*args, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("flagstream loadtest: ") and message in lines[0]
    assert result.stdout == ""


def test_a_token_file_shorter_than_the_stream_count_is_refused(tmp_path) -> None:
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("not-a-jwt\n")
    result = loadtest("idle", "-c", "2", "--token-file", str(tokens), env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert result.stderr.strip() == "flagstream loadtest: --token-file has 1 tokens, --connections needs 2"


def test_an_unreachable_server_is_one_line_and_exit_1() -> None:
    from tests.support.redis_server import free_port

    result = loadtest("idle", "--url", f"http://127.0.0.1:{free_port()}", *BASE)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "cannot reach" in result.stderr


def test_a_server_pid_that_does_not_exist_is_refused() -> None:
    result = loadtest("idle", "--server-pid", "999999999", *BASE, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert result.stderr.strip() == "flagstream loadtest: --server-pid: no process 999999999 on this machine"


def test_without_the_loadtest_extra_the_command_says_so_in_one_line() -> None:
    # tqdm blocked the way a missing install looks to `import`
    program = (
        "import sys; sys.modules['tqdm'] = None; from sse_service.cli import main; "
        f"sys.exit(main(['loadtest', 'idle', *{BASE!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "flagstream loadtest: needs the [loadtest] extra (pip install 'flagstream[loadtest]'): tqdm is not installed"
    ]
