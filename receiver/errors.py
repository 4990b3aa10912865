"""Errors raised while receiving a callback, each knowing its HTTP answer.

    ReceiverError                 root; carries status, machine code and a message
    ├── Rejected                  the sender's fault (4xx); never retried by us
    │   ├── BadRequest            400  malformed JSON, not an object, bad UTF-8, wrong types
    │   ├── SignatureRejected     401  missing, malformed, wrong, expired or too-early signature
    │   ├── UnknownSource         403  no callback config for (publish_domain, app)
    │   └── PayloadTooLarge       413  body over the configured limit
    └── Unavailable               503  storage unreachable; the sender should retry later

Messages never contain keys, signatures or other secrets.
"""

from __future__ import annotations


class ReceiverError(Exception):
    """Root of every error that becomes an HTTP answer."""

    status: int = 500
    default_code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field = field
        self.context: dict[str, str] = {}  # who sent it, for logs; never secrets

    def as_body(self) -> dict[str, object]:
        """The JSON body that tells the sender what is wrong."""
        body: dict[str, object] = {"status": 1, "message": self.message, "error": self.code}
        if self.field is not None:
            body["field"] = self.field
        return body


class Rejected(ReceiverError):
    """The request itself is at fault; resending it unchanged will not help."""

    status = 400
    default_code = "rejected"


class BadRequest(Rejected):
    """The body is not a well-formed callback."""

    status = 400
    default_code = "bad_request"


class SignatureRejected(Rejected):
    """auth_sign or auth_timestamp does not prove the callback genuine and current."""

    status = 401
    default_code = "bad_signature"


class UnknownSource(Rejected):
    """No callback config covers the (publish_domain, app) of the callback."""

    status = 403
    default_code = "unknown_source"


class PayloadTooLarge(Rejected):
    """The body is larger than the configured limit."""

    status = 413
    default_code = "payload_too_large"


class Unavailable(ReceiverError):
    """Storage cannot be reached; nothing was stored and the sender should retry."""

    status = 503
    default_code = "unavailable"

    def __init__(
        self, message: str, *, code: str | None = None, retry_after_seconds: int = 5
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after_seconds = retry_after_seconds
