"""The opaque key of one record: every version of one conviction record shares it, and nothing in it is
personal data. It is the Kafka partition key (so versions stay in order) and the disclosure ledger's key."""

from __future__ import annotations

import hashlib


def record_key(source_jurisdiction: str, source_record_id: str) -> bytes:
    """The first 16 bytes of SHA-256(source jurisdiction 0x1F source record id)."""
    return hashlib.sha256(f"{source_jurisdiction}\x1f{source_record_id}".encode()).digest()[:16]
