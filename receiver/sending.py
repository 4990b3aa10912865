"""Build, sign and send a callback exactly as Huawei Cloud Live would (`receiver send`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import urllib3

from receiver.signature import SignType, sign

# What each event type carries (seed documents: the callback message and its field table).
_TEMPLATES: dict[str, dict[str, Any]] = {
    "RECORD_START": {"record_format": "HLS"},
    "RECORD_NEW_FILE_START": {"record_format": "HLS", "job_id": "{job}"},
    "RECORD_FILE_COMPLETE": {
        "record_format": "HLS",
        "job_id": "{job}",
        "download_url": "https://obs.example.com/{app}/{stream}/{job}.m3u8",
        "asset_id": "{job}",
        "file_size": 3957964,
        "record_duration": 120,
        "start_time": "2020-03-08T14:10:25Z",
        "end_time": "2020-03-08T14:12:25Z",
        "width": 1280,
        "height": 720,
        "obs_location": "https://obs.example.com",
        "obs_bucket": "recordings",
        "obs_object": "{app}/{stream}/{job}.m3u8",
    },
    "RECORD_OVER": {"record_format": "HLS", "record_duration": 600},
    "RECORD_FAILED": {"record_format": "HLS", "error_message": "upload to OBS failed"},
}
EVENT_TYPES = tuple(_TEMPLATES)


def build_callback(
    event_type: str,
    publish_domain: str,
    app: str,
    stream: str,
    *,
    base: Mapping[str, Any] | None = None,
    fields: Mapping[str, Any] | None = None,
    project_id: str = "0123456789abcdef0123456789abcdef",
    task_id: str = "task-0001",
    job_id: str = "job-0001",
) -> dict[str, Any]:
    """A callback body: a recorded sample (base) or the type's template, then fields over it."""
    if base is not None:
        payload = dict(base)
    else:
        names = {"app": app, "stream": stream, "job": job_id}
        template = _TEMPLATES.get(event_type, {})
        payload = {
            "project_id": project_id,
            "task_id": task_id,
            **{name: _fill(value, names) for name, value in template.items()},
        }
    payload.update(
        {"event_type": event_type, "publish_domain": publish_domain, "app": app, "stream": stream}
    )
    payload.update(fields or {})
    payload.pop("auth_sign", None)
    payload.pop("auth_timestamp", None)
    return payload


def _fill(value: Any, names: Mapping[str, str]) -> Any:
    return value.format(**names) if isinstance(value, str) else value


def signed(
    payload: Mapping[str, Any],
    sign_type: SignType,
    key: str | None,
    expires_at: int,
    *,
    timestamp_as_text: bool = False,
) -> dict[str, Any]:
    """The payload with auth_timestamp and auth_sign, as Huawei adds them (none when unsigned)."""
    out = dict(payload)
    if sign_type is SignType.NONE or key is None:
        return out
    text = str(expires_at)
    out["auth_timestamp"] = text if timestamp_as_text else expires_at
    out["auth_sign"] = sign(sign_type, key, out, text)
    return out


@dataclass(frozen=True, slots=True)
class Answer:
    """What the receiver answered."""

    status: int
    body: str


def post(url: str, payload: Mapping[str, Any], *, timeout: float = 10.0) -> Answer:
    """POST the payload as JSON, as Huawei does; no redirects followed."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    response = urllib3.request(
        "POST",
        url,
        body=body,
        headers={"Content-Type": "application/json", "User-Agent": "receiver-send"},
        timeout=timeout,
        redirect=False,
        retries=False,
    )
    return Answer(response.status, response.data.decode("utf-8", "replace"))
