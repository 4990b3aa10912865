"""The production stack for integration tests: nginx -> gunicorn -> Redis -> worker -> sink.

nginx and gunicorn run with the files in deploy/ themselves; only the socket path, the listen
address and the rate limit are changed to suit a test machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from processes import BIN, start, stop, wait_until_up
from support import KEY_WILDCARD, http_handler, toml_text

from receiver.embedded import free_port

DEPLOY = Path(__file__).parents[1] / "deploy"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def render_site(socket_path: str, port: int, rate: str = "100000r/s") -> str:
    """deploy/nginx/receiver.conf for this machine; fails if the file changed shape."""
    site = (DEPLOY / "nginx" / "receiver.conf").read_text()
    replacements = {
        "unix:/run/receiver/gunicorn.sock": f"unix:{socket_path}",
        "listen 80;": f"listen 127.0.0.1:{port};",
        "rate=200r/s": f"rate={rate}",
    }
    for old, new in replacements.items():
        assert old in site, f"deploy/nginx/receiver.conf no longer contains {old!r}"
        site = site.replace(old, new, 1)
    return site


def nginx_main_conf(folder: Path, site: Path) -> str:
    user = "user root;" if os.geteuid() == 0 else ""
    temp = folder / "temp"
    return f"""
{user}
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {folder}/nginx-access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {site};
}}
"""


@dataclass
class Stack:
    """Running processes of one deployment, and where they log."""

    folder: Path
    url: str
    config: Path
    env: dict[str, str]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def gunicorn_master(self) -> int:
        return self.processes["gunicorn"].pid

    def gunicorn_workers(self) -> list[int]:
        children = Path(f"/proc/{self.gunicorn_master()}/task/{self.gunicorn_master()}/children")
        return [int(pid) for pid in children.read_text().split()]

    def signal_gunicorn(self, number: signal.Signals) -> None:
        os.kill(self.gunicorn_master(), number)

    def stop(self) -> dict[str, int]:
        return {name: stop(process) for name, process in reversed(self.processes.items())}


def start_stack(
    redis_url: str,
    namespace: str,
    sink_url: str,
    *,
    rate: str = "100000r/s",
    workers: int = 3,
    with_worker: bool = True,
) -> Stack:
    folder = Path(tempfile.mkdtemp(prefix="rcv-"))
    (folder / "temp").mkdir()
    (folder / "metrics").mkdir()
    config = folder / "receiver.toml"
    config.write_text(
        toml_text(
            {
                "http": {"trusted_proxies": 1},
                "redis": {"url": redis_url, "namespace": namespace},
                "delivery": {"lease_seconds": 5, "claim_idle_seconds": 2,
                             "backoff_base_seconds": 0.05, "backoff_max_seconds": 1},
                "callbacks": [{"publish_domain": "push.example.com", "app": "*",
                               "keys": [KEY_WILDCARD]}],
                "handlers": [http_handler("sink", sink_url)],
            }
        )
    )  # fmt: skip
    socket_path = str(folder / "g.sock")
    port = free_port()
    site = folder / "site.conf"
    site.write_text(render_site(socket_path, port, rate))
    (folder / "nginx.conf").write_text(nginx_main_conf(folder, site))
    env = {"RECEIVER_CONFIG": str(config), "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics")}
    stack = Stack(folder, f"http://127.0.0.1:{port}", config, env)
    stack.processes["gunicorn"] = start(
        [str(BIN / "gunicorn"), "-c", str(DEPLOY / "gunicorn.conf.py"), "--bind",
         f"unix:{socket_path}", "--workers", str(workers), "receiver.web:create_app()"],
        env=env, log=folder / "gunicorn.log",
    )  # fmt: skip
    stack.processes["nginx"] = start(
        [str(NGINX), "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"],
        env={}, log=folder / "nginx.log",
    )  # fmt: skip
    if with_worker:
        stack.processes["worker"] = start(
            [str(BIN / "receiver"), "worker"], env=env, log=folder / "worker.log"
        )
    try:
        wait_until_up(stack.url + "/healthz", stack.processes["nginx"])
        _wait_for_gunicorn(stack)
    except Exception:
        stack.stop()
        raise
    return stack


def _wait_for_gunicorn(stack: Stack) -> None:
    import time

    import requests

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if requests.get(stack.url + "/healthz", timeout=5).status_code == 200:
            return
        time.sleep(0.1)
    raise TimeoutError("gunicorn did not answer through nginx")
