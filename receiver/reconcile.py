"""Recover missed RECORD_FILE_COMPLETE callbacks from Huawei's recorded-files list.

Huawei documents no retries of callbacks. Each recorded file becomes the event its callback
would have produced, marked reconciled, and is appended only if no event with its idempotency
key was stored before (by a callback or an earlier reconciliation), in one atomic script.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from receiver.errors import BadRequest
from receiver.huawei import RecordedFile
from receiver.schemas import normalize
from receiver.signature import SignType, Verification
from receiver.store import EventStore, Outcome


@dataclass
class ReconcileReport:
    """What a reconciliation found and did."""

    found: int = 0
    appended: int = 0
    known: int = 0
    skipped: list[str] = field(default_factory=list)  # why each malformed file was skipped


def reconcile(
    pages: Iterable[list[RecordedFile]],
    store: EventStore,
    clock: Callable[[], float],
    progress: Callable[[ReconcileReport], None] = lambda _report: None,
) -> ReconcileReport:
    """Append an event for every recorded file whose event was never stored."""
    report = ReconcileReport()
    for page in pages:
        for recorded in page:
            report.found += 1
            now = clock()
            unsigned = Verification(SignType.NONE, int(now), "", None)
            # The identity only names the event; the idempotency key (the file) dedupes it.
            identity = "reconcile:" + str(
                recorded.fields.get("obs_object") or recorded.fields.get("download_url")
            )
            try:
                event = normalize(recorded.fields, unsigned, identity, now)
            except BadRequest as error:
                report.skipped.append(f"{identity.removeprefix('reconcile:')}: {error.message}")
                continue
            event["reconciled"] = True
            receipt = store.append_unless_known(event)
            if receipt.outcome is Outcome.ACCEPTED:
                report.appended += 1
            else:
                report.known += 1
        progress(report)
    return report
