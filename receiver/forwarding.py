"""Forward events over HTTP, signed with the Standard Webhooks scheme.

Downstream receives the event's JSON with webhook-id (the event's idempotency key, so re-signed
resends and retries share it), webhook-timestamp and webhook-signature, and verifies them with
any Standard Webhooks library. Redirects are never followed; connect and read time and the
response size are bounded.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import urllib3
from standardwebhooks import Webhook

from receiver import __version__
from receiver.config import HandlerConfig
from receiver.handlers import PermanentFailure, RetryableFailure

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504}) | frozenset(range(505, 600))
USER_AGENT = f"huawei-live-receiver/{__version__}"


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - now)


@dataclass
class HttpHandler:
    """POSTs events to one URL."""

    name: str
    url: str
    signer: Webhook
    pool: urllib3.PoolManager
    timeout: urllib3.Timeout
    max_response_bytes: int
    clock: Callable[[], float] = time.time

    @classmethod
    def from_config(cls, config: HandlerConfig, maxsize: int = 32) -> HttpHandler:
        """A handler for a validated http handler configuration."""
        if config.url is None or config.secret is None:
            raise ValueError(f"handler {config.name} needs a url and a secret")
        return cls(
            name=config.name,
            url=config.url,
            signer=Webhook(config.secret.reveal()),
            pool=urllib3.PoolManager(maxsize=maxsize, block=False, retries=False),
            timeout=urllib3.Timeout(
                connect=config.connect_timeout_seconds,
                read=config.timeout_seconds,
                total=config.connect_timeout_seconds + config.timeout_seconds,
            ),
            max_response_bytes=config.max_response_bytes,
        )

    def __repr__(self) -> str:
        return f"HttpHandler(name={self.name!r}, url={self.url!r})"

    def headers(self, event: Mapping[str, Any], body: str) -> dict[str, str]:
        """Standard Webhooks headers for one attempt."""
        message_id = str(event.get("idempotency_key") or event.get("id"))
        now = datetime.fromtimestamp(int(self.clock()), UTC)
        return {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self.signer.sign(message_id, now, body),
        }

    def __call__(self, event: Mapping[str, Any]) -> None:
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        try:
            response = self.pool.request(
                "POST",
                self.url,
                body=body.encode("utf-8"),
                headers=self.headers(event, body),
                timeout=self.timeout,
                redirect=False,
                retries=False,
                preload_content=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise RetryableFailure(f"{type(exc).__name__}: {exc}") from None
        try:
            excerpt = self._read_bounded(response)
        finally:
            response.release_conn()
        self._judge(response.status, response.headers.get("Retry-After"), excerpt)

    def _read_bounded(self, response: urllib3.BaseHTTPResponse) -> bytes:
        try:
            data = response.read(self.max_response_bytes + 1)
        except urllib3.exceptions.HTTPError:
            return b""
        if len(data) > self.max_response_bytes:
            response.close()  # do not drain an oversized body; drop the connection instead
        return data[:200]

    def _judge(self, status: int, retry_after: str | None, excerpt: bytes) -> None:
        if 200 <= status < 300:
            return
        detail = f"HTTP {status}: {excerpt.decode('utf-8', 'replace')[:200]}".rstrip(": ")
        if status in RETRYABLE_STATUSES:
            raise RetryableFailure(detail, retry_after_seconds(retry_after, self.clock()))
        if 300 <= status < 400:
            raise PermanentFailure(f"HTTP {status}: redirects are not followed")
        raise PermanentFailure(detail)
