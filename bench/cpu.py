"""CPU per request of each intake step, measured with timeit (no server, no network).

Run: .venv/bin/python bench/cpu.py
Prints microseconds per call (best of 5) for parsing, verification, normalization, a log line,
and for json.loads of the same body as the baseline every request pays anyway.
"""

from __future__ import annotations

import io
import json
import logging
import time
import timeit
from pathlib import Path

from receiver.identity import replay_identity
from receiver.logs import configure_logging
from receiver.parsing import parse_body
from receiver.schemas import normalize
from receiver.secret import Secret
from receiver.signature import SignType, TimeWindow, Verifier, sign

KEY = "BenchKey0123456789abcdefghijklmnopqrstuvwxyz"
SAMPLE = Path(__file__).parents[1] / "tests/fixtures/payloads/seed_003_record_file_complete.json"


def per_call_us(function: object, number: int = 5000) -> float:
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1e6  # type: ignore[arg-type]


def main() -> None:
    now = time.time()
    expires = str(int(now) + 300)
    payload = json.loads(SAMPLE.read_text()) | {"auth_timestamp": int(expires)}
    payload["auth_sign"] = sign(SignType.HMACSHA256, KEY, payload, expires)
    body = json.dumps(payload).encode()
    verifier = Verifier(SignType.HMACSHA256, [Secret(KEY)], TimeWindow(300, 86_400))
    verification = verifier.verify(payload, now)
    identity = replay_identity(verification, payload)
    configure_logging("INFO")
    logging.getLogger().handlers[0].stream = io.StringIO()
    log = logging.getLogger("receiver.web")
    rows = [
        ("json.loads (baseline)", lambda: json.loads(body)),
        ("parse_body", lambda: parse_body(body, max_bytes=65536, max_depth=32)),
        ("verify (HMACSHA256, 1 key)", lambda: verifier.verify(payload, now)),
        ("normalize (marshmallow)", lambda: normalize(payload, verification, identity, now)),
        ("one JSON log line", lambda: log.info("callback accepted", extra={"event_id": "x"})),
    ]
    print(f"body: {len(body)} bytes")
    for name, function in rows:
        print(f"{name:32s} {per_call_us(function):8.1f} µs")


if __name__ == "__main__":
    main()
