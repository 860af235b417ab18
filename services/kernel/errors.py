"""The one crx error tree, and what a service does with each error.

Every error says whether it is the record's fault (``dead_letter``: the record goes to ``crx.dlq`` with its
reason, and the next one is handled) or not (the batch is retried with backoff, and the record waits: a
key not yet imported, a broker or database not answering, a setting an operator must fix). ``retriable``
marks the faults expected to pass by themselves. ``handling`` is the one place that decides. Messages never
contain record content: only ids, field names and reason codes. Metrics label errors by class name.
"""

from __future__ import annotations


class CrxError(Exception):
    """Root of every error crx raises on purpose. A subclass states its flags in its class line:
    ``class NotFound(CrxError, dead_letter=False, reason_code="NOT_FOUND")``; unstated ones are inherited."""

    retriable: bool = False
    dead_letter: bool = True
    reason_code: str = "ERROR"

    def __init_subclass__(
        cls, *, retriable: bool | None = None, dead_letter: bool | None = None, reason_code: str | None = None
    ) -> None:
        super().__init_subclass__()
        if retriable is not None:
            cls.retriable = retriable
        if dead_letter is not None:
            cls.dead_letter = dead_letter
        if reason_code is not None:
            cls.reason_code = reason_code

    def __init__(self, detail: str, *, reason_code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if reason_code is not None:
            self.reason_code = reason_code


class ConfigError(CrxError, dead_letter=False, reason_code="CONFIG"):
    """The configuration is incomplete or contradictory. Fatal at start-up."""


class PayloadTooLarge(CrxError, reason_code="PAYLOAD_TOO_LARGE"):
    """The payload exceeds the configured size limit; it is refused whole."""


class UnknownJurisdiction(CrxError, reason_code="UNKNOWN_JURISDICTION"):
    """The submitting or addressed jurisdiction is not configured."""


class AdapterNotFound(CrxError, reason_code="UNKNOWN_ADAPTER"):
    """No adapter is registered under the requested name."""


class UnmappedCode(CrxError, reason_code="UNMAPPED_CODE"):
    """A record carries a national code without a common category, from a jurisdiction configured as strict."""


class CodecError(CrxError, reason_code="CODEC"):
    """Bytes are not a valid single-object-encoded record of the expected schema."""


class ValidationError(CrxError, reason_code="INVALID_RECORD"):
    """A record does not satisfy the canonical schema or its semantic rules."""


class EnvelopeError(CrxError, reason_code="ENVELOPE"):
    """An envelope could not be verified or opened. Deliberately opaque: one message for every cause."""

    def __init__(self, detail: str = "envelope could not be verified or opened") -> None:
        super().__init__(detail)


class KeyDestroyed(EnvelopeError, reason_code="KEY_DESTROYED"):
    """An authentic envelope addressed to this party is sealed to a key that was destroyed (crypto-shredding,
    ``services.keys.epochs``): unreadable by design, for good. Not retriable (no key will ever come back); the
    record is dead-lettered with this reason, so each copy that outlived its key is accounted for (a dead
    letter and its ERROR audit event) instead of holding its partition forever. An ``EnvelopeError``, so every
    caller that refuses an envelope refuses this one too; raised only once the signature, channel and
    recipient are checked, and it names only the key id (a key's status is public, in the registry)."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"envelope sealed to key {key_id}, which was destroyed: unreadable by design")


class KeyUnavailable(CrxError, retriable=True, dead_letter=False, reason_code="KEY"):
    """A key this node needs is missing, not yet valid, expired or revoked (e.g. no active encryption key for
    a recipient yet). Not the record's fault: the batch is retried until the key is there (key rotations and
    imports reach running services within a second), never dead-lettered."""


class PolicyError(CrxError, dead_letter=False, reason_code="POLICY"):
    """The agreements file is invalid."""


class TransientError(CrxError, retriable=True, dead_letter=False, reason_code="TRANSIENT"):
    """A dependency (broker, database) failed in a way that may pass; the batch is retried."""


def handling(exc: BaseException) -> str:
    """``"dead_letter"`` when ``exc`` is the record's fault, else ``"retry"``.

    A crx error decides by its ``dead_letter`` flag. Any other exception is a bug met on this record: it is
    dead-lettered too (kept whole for replay once the bug is fixed, never lost), except the standard
    transient failures (``OSError``, ``TimeoutError``, ``ConnectionError``), which are retried.
    """
    if isinstance(exc, CrxError):
        return "dead_letter" if exc.dead_letter else "retry"
    if isinstance(exc, OSError | TimeoutError):  # ConnectionError is an OSError
        return "retry"
    return "dead_letter"
