"""gunicorn settings for the receiver: `gunicorn -c python:receiver.gunicorn_config ...`.

Every setting can be overridden on the command line or by the copy in deploy/gunicorn.conf.py.

Worker model: gthread. The request path is short CPU work (JSON, HMAC, normalization) around
one Redis round trip, so threads overlap the waits while one process per core keeps the CPU
part parallel. gevent/eventlet would add monkey-patching for no gain at this request size.

Timeouts nest, so the inner one always fires first and the answer is a clear 503, not a
proxy error: Redis budget (socket_timeout_seconds x 2 tries = 2 s by default) < nginx
proxy_read_timeout (10 s) < gunicorn timeout (30 s).
"""

import os

from prometheus_client import multiprocess

bind = os.environ.get("RECEIVER_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, os.cpu_count() or 1)))
threads = int(os.environ.get("RECEIVER_THREADS", "8"))

timeout = 30  # a worker silent this long is killed and replaced
graceful_timeout = 20  # on SIGTERM or SIGHUP, requests in hand get this long to finish
keepalive = 5  # nginx keeps upstream connections open; reuse them

# Recycle workers now and then so slow leaks cannot grow without bound; the jitter keeps the
# workers from restarting together.
max_requests = 20_000
max_requests_jitter = 2_000

# No preload: each worker imports the app and opens its own Redis connection pool after the
# fork, so no socket is ever shared between processes.
preload_app = False

# The receiver is run by systemd, honcho or `receiver serve`, and managed with signals.
control_socket_disable = True

# nginx logs every request (with its request id) and the receiver logs every callback's outcome,
# so gunicorn's own access log is off; set accesslog = "-" to have it, in this JSON format.
accesslog = None
errorlog = "-"
access_log_format = (
    '{"time": "%(t)s", "logger": "gunicorn.access", "client": "%(h)s", "method": "%(m)s", '
    '"path": "%(U)s", "status": %(s)s, "bytes": "%(B)s", "duration_us": %(D)s, '
    '"request_id": "%({x-request-id}o)s", "user_agent": "%(a)s"}'
)


def child_exit(_server: object, worker: object) -> None:
    """Drop a dead worker's live gauges from the multiprocess metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def post_fork(_server: object, _worker: object) -> None:
    """Give each worker the receiver's JSON logs (with request ids) on stderr."""
    from receiver.logs import configure_logging

    configure_logging(
        os.environ.get("RECEIVER_LOG_LEVEL", "INFO"),
        json=os.environ.get("RECEIVER_LOG_FORMAT", "json") != "text",
    )
