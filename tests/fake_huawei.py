"""A local fake of Huawei Cloud Live's management API, strict about what it is sent.

It checks method, path, query, body and the AK/SK signature headers the SDK adds, and answers
as the API reference (seeds 000/001/004) documents: 201 for a created callback config, 400 and
404 with error_code and error_msg.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

AK, SK, PROJECT = (
    "AKFAKE0123456789",
    "SKFAKE-secret-0123456789abcdef",
    "0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d",
)
ILLEGAL = {"error_code": "LIVE.100011001", "error_msg": "Request Illegal"}
NOT_FOUND = {"error_code": "LIVE.100011001", "error_msg": "The resource to access is not exists"}
_DATE = re.compile(r"\d{8}T\d{6}Z")


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


@dataclass
class FakeLive:
    """The fake's state: callback configs, pushing streams, recorded files, and every request."""

    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    streams: set[tuple[str, str, str]] = field(default_factory=set)
    files: list[dict[str, Any]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    controls: list[tuple[str, str, str, str]] = field(default_factory=list)

    def answer(self, seen: Seen) -> tuple[int, Any]:
        if not self._signed(seen.headers):
            return 401, {"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication"}
        prefix = f"/v1/{PROJECT}/record/"
        if not seen.path.startswith(prefix):
            return 404, NOT_FOUND
        route = (seen.method, seen.path[len(prefix) :].split("/")[0])
        handlers = {
            ("GET", "callbacks"): self._list_configs,
            ("POST", "callbacks"): self._create_config,
            ("PUT", "callbacks"): self._update_config,
            ("POST", "control"): self._control,
            ("GET", "contents"): self._contents,
        }
        handler = handlers.get(route)
        return handler(seen) if handler else (404, NOT_FOUND)

    @staticmethod
    def _signed(headers: dict[str, str]) -> bool:
        authorization = headers.get("Authorization", "")
        return (
            authorization.startswith(f"SDK-HMAC-SHA256 Access={AK}, ")
            and "SignedHeaders=" in authorization
            and "Signature=" in authorization
            and bool(_DATE.fullmatch(headers.get("X-Sdk-Date", "")))
            and headers.get("X-Project-Id") == PROJECT
        )

    def _list_configs(self, seen: Seen) -> tuple[int, Any]:
        found = [c for c in self.configs.values()
                 if c["publish_domain"] == seen.query.get("publish_domain")
                 and c["app"] == seen.query.get("app")]  # fmt: skip
        return 200, {"total": len(found), "callback_config": found}

    @staticmethod
    def _valid_config(body: Any) -> bool:
        return (
            isinstance(body, dict)
            and all(body.get(name) for name in ("publish_domain", "app", "notify_callback_url"))
            and body.get("sign_type", "HMACSHA256") in ("HMACSHA256", "MD5")
            and len(body.get("key") or "x" * 32) >= 32
        )

    def _create_config(self, seen: Seen) -> tuple[int, Any]:
        if not self._valid_config(seen.body):
            return 400, ILLEGAL
        config = {k: v for k, v in seen.body.items() if k != "key"} | {"id": uuid.uuid4().hex}
        self.configs[config["id"]] = config | {"key": seen.body.get("key")}
        return 201, config

    def _update_config(self, seen: Seen) -> tuple[int, Any]:
        config_id = seen.path.rstrip("/").rsplit("/", 1)[-1]
        if config_id not in self.configs:
            return 404, NOT_FOUND
        if not self._valid_config(seen.body):
            return 400, ILLEGAL
        self.configs[config_id] = {**seen.body, "id": config_id}
        return 200, {k: v for k, v in self.configs[config_id].items() if k != "key"}

    def _control(self, seen: Seen) -> tuple[int, Any]:
        action = seen.query.get("action")
        body = seen.body if isinstance(seen.body, dict) else {}
        target = (body.get("publish_domain"), body.get("app"), body.get("stream"))
        if action not in ("START", "STOP") or not all(target):
            return 400, ILLEGAL
        if target not in self.streams:
            return 404, NOT_FOUND
        self.controls.append((action, *target))
        return 200, {}

    def _contents(self, seen: Seen) -> tuple[int, Any]:
        query = seen.query
        if not all(query.get(name) for name in ("publish_domain", "app", "start_time", "end_time")):
            return 400, ILLEGAL
        found = [f for f in self.files
                 if (f["publish_domain"], f["app"]) == (query["publish_domain"], query["app"])
                 and query["start_time"] <= f["start_time"] <= query["end_time"]]  # fmt: skip
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 10))
        return 200, {"total": len(found), "record_contents": found[offset : offset + limit]}


class FakeHuaweiServer:
    """Serves a FakeLive on loopback."""

    def __init__(self) -> None:
        self.live = FakeLive()
        live = self.live

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                body = json.loads(raw) if raw else None
                seen = Seen(self.command, parts.path, query, body, dict(self.headers.items()))
                live.seen.append(seen)
                status, answer = live.answer(seen)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Request-Id", uuid.uuid4().hex)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
