"""Helpers shared by the tests: recorded payloads, Huawei-style signing, test settings."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

from receiver.config import Settings, parse_settings
from receiver.signature import SignType, sign

PAYLOADS = Path(__file__).parent / "fixtures" / "payloads"
NOW = 1_800_000_000.0  # the frozen clock's start: 2027-01-15T08:00:00Z

KEY_WILDCARD = "WildcardKey0123456789abcdefghijklmnopqrstu"
KEY_LIVE = "LiveAppKeyNew0123456789abcdefghijklmnopqr"
KEY_LIVE_OLD = "LiveAppKeyOld0123456789abcdefghijklmnopqr"
KEY_MD5 = "Md5ModeKey0123456789abcdefghijklmnopqrstuv"
KEY_UNKNOWN = "NobodyKnowsThisKey0123456789abcdefghijklm"
FORWARD_SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()

CONFIG: dict[str, Any] = {
    "http": {"paths": ["/callbacks/huawei-live", "/openapi/v1/ivmAlarm/Live/vodCallBack"]},
    "signature": {"leeway_seconds": 60, "max_validity_seconds": 3600},
    "callbacks": [
        {"publish_domain": "push.example.com", "app": "*", "keys": [KEY_WILDCARD]},
        {"publish_domain": "push.example.com", "app": "live", "keys": [KEY_LIVE, KEY_LIVE_OLD]},
        {"publish_domain": "pushsit.xxxx.com", "app": "*", "keys": [KEY_WILDCARD]},
        {"publish_domain": "md5.example.com", "app": "*", "sign_type": "MD5", "keys": [KEY_MD5]},
        {"publish_domain": "open.example.com", "app": "*", "sign_type": "NONE"},
        {
            "publish_domain": "filtered.example.com",
            "app": "*",
            "keys": [KEY_WILDCARD],
            "events": ["RECORD_FILE_COMPLETE"],
        },
    ],
}


def toml_text(raw: dict[str, Any]) -> str:
    """A configuration dict (tables of scalars and lists, arrays of tables) as TOML."""
    lines: list[str] = []
    for section, content in raw.items():
        tables = content if isinstance(content, list) else [content]
        for table in tables:
            lines.append(f"[[{section}]]" if isinstance(content, list) else f"[{section}]")
            lines += [f"{name} = {json.dumps(value)}" for name, value in table.items()]
    return "\n".join(lines) + "\n"


def http_handler(name: str, url: str, **options: Any) -> dict[str, Any]:
    """An http handler's configuration, signing with FORWARD_SECRET."""
    return {"name": name, "kind": "http", "url": url, "secret": FORWARD_SECRET, **options}


def load_payload(name: str) -> dict[str, Any]:
    """A recorded sample payload from tests/fixtures/payloads."""
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


def payload_names() -> list[str]:
    """Every recorded sample payload."""
    return sorted(path.stem for path in PAYLOADS.glob("*.json"))


def settings_for(
    redis_url: str | None = None, namespace: str = "test", **overrides: Any
) -> Settings:
    """Settings for the test configs, against the given Redis."""
    raw = copy.deepcopy(CONFIG)
    raw["redis"] = {"namespace": namespace, **({"url": redis_url} if redis_url else {})}
    for section, values in overrides.items():
        if isinstance(values, list):
            raw[section] = values
        else:
            raw.setdefault(section, {}).update(values)
    return parse_settings(raw, {})


def signed(
    payload: dict[str, Any],
    *,
    key: str = KEY_WILDCARD,
    sign_type: str = "HMACSHA256",
    expires_at: float = NOW + 300,
    timestamp_as_text: bool = False,
) -> dict[str, Any]:
    """A copy of payload signed as Huawei signs it, expiring at expires_at."""
    out = {
        name: value
        for name, value in payload.items()
        if name not in ("auth_sign", "auth_timestamp")
    }
    text = str(int(expires_at))
    out["auth_timestamp"] = text if timestamp_as_text else int(text)
    out["auth_sign"] = sign(SignType(sign_type), key, out, text)
    return out


def key_for(payload: dict[str, Any]) -> str:
    """The key of the test config that a payload's (publish_domain, app) resolves to."""
    exact_live = (
        payload.get("publish_domain") == "push.example.com" and payload.get("app") == "live"
    )
    return KEY_LIVE if exact_live else KEY_WILDCARD


def body_of(payload: Any) -> bytes:
    """JSON bytes of a payload, as a sender would put them on the wire."""
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")
