"""The HTTP face of the receiver: translates requests to intake calls and errors to JSON."""

from __future__ import annotations

import logging
import os
import re
import secrets
import time

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from receiver.bootstrap import Services, build_services
from receiver.config import Settings, load_settings
from receiver.errors import PayloadTooLarge, ReceiverError, Unavailable
from receiver.logs import SampledLog, request_id
from receiver.metrics import exposition
from receiver.store import Outcome, Receipt

EXTENSION = "receiver"
REJECTION_LOG = "receiver.rejection_log"
REJECTION_LINES_PER_SECOND = 20  # per error code; metrics count every rejection
REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID_FORM = re.compile(r"[A-Za-z0-9._:-]{1,128}")
log = logging.getLogger(__name__)
_MESSAGES = {
    Outcome.ACCEPTED: "accepted",
    Outcome.DUPLICATE: "duplicate delivery: already accepted, not stored again",
    Outcome.IGNORED: "ignored: this event type is not subscribed",
}


def _services() -> Services:
    return current_app.extensions[EXTENSION]


def receive_callback() -> tuple[Response, int]:
    """POST a Huawei Live recording callback."""
    try:
        receipt = _services().intake.receive(request.get_data(cache=False))
    except ReceiverError as error:
        return _error_answer(error)  # directly: cheaper than Flask's exception dispatch
    _services().metrics.callbacks.labels(receipt.outcome.value, "").inc()
    log.info(
        "callback %s",
        receipt.outcome.value,
        extra={"event_id": receipt.event_id, "stream_id": receipt.stream_id, **_client()},
    )
    return jsonify(_receipt_body(receipt)), 200


def _receipt_body(receipt: Receipt) -> dict[str, object]:
    body: dict[str, object] = {
        "status": 0,
        "message": _MESSAGES[receipt.outcome],
        "outcome": receipt.outcome.value,
        "event_id": receipt.event_id,
    }
    if receipt.stream_id is not None:
        body["stream_id"] = receipt.stream_id
    if receipt.outcome is Outcome.DUPLICATE:
        body["duplicate"] = True
    return body


def _client() -> dict[str, object]:
    return {"client": request.remote_addr, "path": request.path}


def healthz() -> tuple[Response, int]:
    """The process is alive."""
    return jsonify(status="ok"), 200


def readyz() -> tuple[Response, int]:
    """Redis answers, so callbacks can be stored."""
    _services().store.ping()
    return jsonify(status="ready"), 200


def metrics() -> Response:
    """Prometheus metrics of every process (see receiver.metrics)."""
    services = _services()
    body, content_type = exposition(services.metrics, services.queue_metrics)
    return Response(body, content_type=content_type)


def _error_answer(error: ReceiverError) -> tuple[Response, int]:
    response = jsonify({**error.as_body(), "request_id": request_id.get()})
    details = {
        "code": error.code,
        "status": error.status,
        "reason": error.message,
        **error.context,
        **_client(),
    }
    if isinstance(error, Unavailable):
        response.headers["Retry-After"] = str(error.retry_after_seconds)
        log.warning("callback not stored", extra=details)
        outcome = "unavailable"
    else:
        suppressed = current_app.extensions[REJECTION_LOG].allow(error.code)
        if suppressed is not None:
            log.info("callback rejected", extra={**details, "suppressed": suppressed})
        outcome = "rejected"
    if request.endpoint and request.endpoint.startswith("receiver.callback"):
        _services().metrics.callbacks.labels(outcome, error.code).inc()
    return response, error.status


def _http_error_answer(error: HTTPException) -> tuple[Response, int]:
    status = error.code or 500
    if status == 413:
        limit = _services().settings.http.max_body_bytes
        return _error_answer(PayloadTooLarge(f"the body is larger than {limit} bytes"))
    code = (error.name or "error").lower().replace(" ", "_")
    response = jsonify(status=1, message=error.description or error.name, error=code)
    methods = getattr(error, "valid_methods", None)
    if methods:
        response.headers["Allow"] = ", ".join(methods)
    return response, status


def _unexpected_answer(error: Exception) -> tuple[Response, int]:
    log.exception("unexpected error", extra=_client())
    return jsonify(status=1, message="internal error", error="internal_error"), 500


def _begin_request() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _REQUEST_ID_FORM.fullmatch(incoming) else secrets.token_hex(16)
    g.request_id_token = request_id.set(g.request_id)
    g.started = time.perf_counter()


def _end_request(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
    started = g.get("started")
    if started is not None:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        _services().metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
    return response


def _forget_request(_error: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        request_id.reset(token)


def _blueprint(paths: tuple[str, ...]) -> Blueprint:
    blueprint = Blueprint("receiver", __name__)
    for number, path in enumerate(paths):
        blueprint.add_url_rule(path, f"callback_{number}", receive_callback, methods=["POST"])
    blueprint.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    blueprint.add_url_rule("/readyz", "readyz", readyz, methods=["GET"])
    blueprint.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
    return blueprint


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> Flask:
    """Build the Flask app; settings come from RECEIVER_CONFIG when not given."""
    if services is None:
        settings = settings or load_settings(None, os.environ)
        services = build_services(settings)
    http = services.settings.http
    app = Flask(__name__)
    # One byte over the limit gets through to intake, whose own size check then answers 413:
    # werkzeug truncates a chunked body at the limit instead of refusing it.
    app.config["MAX_CONTENT_LENGTH"] = http.max_body_bytes + 1
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = services
    app.extensions[REJECTION_LOG] = SampledLog(REJECTION_LINES_PER_SECOND)
    app.register_blueprint(_blueprint(http.paths))
    app.before_request(_begin_request)
    app.after_request(_end_request)
    app.teardown_request(_forget_request)
    app.register_error_handler(ReceiverError, _error_answer)
    app.register_error_handler(HTTPException, _http_error_answer)
    app.register_error_handler(Exception, _unexpected_answer)
    if http.trusted_proxies:
        proxies = http.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    return app
