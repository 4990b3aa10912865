"""Startup checks of where and how events are forwarded: URL safety and signing secrets."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import socket
from urllib.parse import urlsplit

# Cloud metadata services answer on these addresses; forwarding there can leak credentials.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(text)
    for text in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []  # unresolvable now: delivery will fail and retry, nothing is reached
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def destination_problem(url: str, *, allow_link_local: bool) -> str | None:
    """Why url may not receive events, or None when it may."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "url must be an http:// or https:// URL with a host"
    if parts.username or parts.password:
        return "url must not carry credentials; use the signing secret"
    if allow_link_local:
        return None
    for address in _addresses(parts.hostname):
        if address in METADATA_ADDRESSES or address.is_link_local:
            return (
                f"url resolves to the link-local or metadata address {address}; "
                "set allow_link_local = true if that is intended"
            )
    return None


def secret_problem(secret: str) -> str | None:
    """Why secret is not a usable Standard Webhooks secret, or None."""
    encoded = secret.removeprefix("whsec_")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return "secret must be base64 (optionally prefixed whsec_)"
    if not 24 <= len(raw) <= 64:
        return f"secret must decode to 24..64 bytes (it decodes to {len(raw)})"
    return None
