"""nginx and HAProxy in the foreground, configured from the files shipped under deploy/."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.redis_server import free_port
from tests.support.requirements import require_binary

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
TEMPLATES = {"nginx": DEPLOY / "nginx" / "flagstream.conf", "haproxy": DEPLOY / "haproxy" / "flagstream.cfg"}
BINARIES = {"nginx": ("/usr/sbin/nginx", "nginx"), "haproxy": ("/usr/sbin/haproxy", "haproxy")}

# nginx's main context for a foreground, unprivileged-paths run; the shipped file is included as is.
NGINX_MAIN = """daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/flagstream.conf;
}}
"""


def render(kind: str, listen: str, upstreams: list[str], read_timeout: str) -> str:
    """The shipped file with its placeholders filled; the {{UPSTREAM}} line once per instance."""
    lines = []
    for line in TEMPLATES[kind].read_text().splitlines(keepends=True):
        if "{{UPSTREAM}}" in line and not line.lstrip().startswith("#"):
            lines += [line.replace("{{UPSTREAM}}", u).replace("{{N}}", str(n)) for n, u in enumerate(upstreams, 1)]
        else:
            lines.append(line)
    text = "".join(lines).replace("{{LISTEN}}", listen).replace("{{READ_TIMEOUT}}", read_timeout)
    body = "".join(line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("#"))
    assert "{{" not in body, "a placeholder of the template was left unreplaced"
    return text


@dataclass
class RunningProxy:
    kind: str
    url: str
    process: subprocess.Popen[bytes]
    directory: str

    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in Path(self.directory).glob("*.log"))


@contextmanager
def running_proxy(kind: str, upstream_urls: str | list[str], read_timeout_s: float) -> Iterator[RunningProxy]:
    """`kind` (nginx | haproxy) on 127.0.0.1:<free port> in front of the upstream URL(s)."""
    path, package = BINARIES[kind]
    binary = path if os.access(path, os.X_OK) else require_binary(kind, package)
    port = free_port()
    urls = [upstream_urls] if isinstance(upstream_urls, str) else upstream_urls
    upstreams = [url.removeprefix("http://") for url in urls]
    timeout = f"{int(read_timeout_s * 1000)}ms"
    directory = tempfile.mkdtemp(prefix=f"flagstream-{kind}-")
    text = render(kind, f"127.0.0.1:{port}", upstreams, timeout)
    if kind == "nginx":
        Path(directory, "flagstream.conf").write_text(text)
        main = Path(directory, "nginx.conf")
        main.write_text(NGINX_MAIN.format(tmp=directory))
        command = [binary, "-e", f"{directory}/error.log", "-p", directory, "-c", str(main)]
    else:
        config = Path(directory, "haproxy.cfg")
        config.write_text(text)
        command = [binary, "-db", "-f", str(config)]
    with open(Path(directory, "stdout.log"), "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=directory)
    proxy = RunningProxy(kind, f"http://127.0.0.1:{port}", process, directory)
    try:
        _wait_listening(proxy, port)
        yield proxy
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _wait_listening(proxy: RunningProxy, port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proxy.process.poll() is not None:
            raise RuntimeError(f"{proxy.kind} exited with {proxy.process.returncode}:\n{proxy.log()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{proxy.kind} did not listen on {port}:\n{proxy.log()}")
