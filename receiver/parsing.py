"""Turn a request body into a JSON object, refusing anything malformed or oversized."""

from __future__ import annotations

import json
from typing import Any

from receiver.errors import BadRequest, PayloadTooLarge


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def parse_body(body: bytes, *, max_bytes: int, max_depth: int) -> dict[str, Any]:
    """The body as a JSON object: strict UTF-8, no NaN, bounded size and depth."""
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
    if not body.strip():
        raise BadRequest("the body is empty; a JSON object is expected", code="empty_body")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"the body is not valid UTF-8 (byte {exc.start})", code="invalid_utf8"
        ) from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            code="malformed_json",
        ) from None
    except (ValueError, RecursionError):
        raise BadRequest("the body is not valid JSON", code="malformed_json") from None
    if not isinstance(value, dict):
        raise BadRequest(
            f"the body must be a JSON object, not {_json_kind(value)}", code="not_an_object"
        )
    # Fewer brackets than the depth limit cannot nest too deep, and without a \u escape no
    # string can hold a lone surrogate: the usual callback needs no walk at all.
    if b"\\u" in body or body.count(b"{") + body.count(b"[") > max_depth:
        _check_structure(value, max_depth)
    return value


def _json_kind(value: object) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")


def _check_structure(root: dict[str, Any], max_depth: int) -> None:
    """Refuse nesting deeper than max_depth and strings that are not valid Unicode text."""
    stack: list[tuple[object, int]] = [(root, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, dict | list):
            if depth > max_depth:
                raise BadRequest(
                    f"the body is nested deeper than {max_depth} levels", code="too_deep"
                )
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    _check_text(key)
                stack.append((item, depth + 1))


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(
            "the body contains an unpaired UTF-16 surrogate escape", code="invalid_unicode"
        ) from None
