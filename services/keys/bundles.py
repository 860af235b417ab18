"""Public key bundles: how parties exchange public keys (``crx keys export`` / ``import``)::


    {"format": "crx-key-bundle/1", "party": "FR", "exported_at": "<ISO 8601>",
     "keys": [{"key_id", "purpose", "algorithm", "status", "not_before", "not_after",
               "public_key_format", "public_key"}],          # registry fields; PEM for PEM-able keys
     "signatures": [{"key_id": "<signing key id>", "signature": "<base64>"}]}

Each signature is made by one of the party's active signing keys (held by the exporter) over
``b"crx-key-bundle/1\\n"`` followed by the bundle without ``signatures`` as canonical JSON (keys sorted, no
whitespace, ASCII). ``import`` refuses the whole bundle when any key id does not match its key, a key does
not match its algorithm, a signature does not verify, a key id belongs to another party, or the party's
private keys are held here (a node never imports over its own keys). It then requires a signature by a
signing key already registered for that party (continuity across rotations) or by a key named with
``--trust`` (checked out of band). On first contact with a party ``--trust`` is required and must name a key
that signed the bundle: nothing else vouches for a party crx has never seen (an unsigned bundle needs
``--allow-unsigned``, the operator's explicit decision). Statuses of known keys only move forward (an old bundle cannot
revive a retired or revoked key); their validity is kept.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature

from services.kernel.errors import KeyUnavailable
from services.kernel.suites import signature_alg
from services.keys.lifecycle import KeyAdminError, check_party
from services.keys.ring import STATUS_ORDER, KeyEntry, KeyRing, allowed

BUNDLE_FORMAT = "crx-key-bundle/1"
BUNDLE_KEY_FIELDS = frozenset(
    {"key_id", "purpose", "algorithm", "status", "not_before", "not_after", "public_key_format", "public_key"}
)


def _signing_input(body: dict[str, Any]) -> bytes:
    unsigned = {k: v for k, v in body.items() if k != "signatures"}
    canonical = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return BUNDLE_FORMAT.encode() + b"\n" + canonical.encode("ascii")


def export_bundle(ring: KeyRing, party: str, now: dt.datetime) -> dict[str, Any]:
    """The party's public keys (every status, so importers learn of revocations), signed where this node can."""
    entries = ring.registry.entries(party)
    if not entries:
        raise KeyAdminError(f"no keys registered for party {party}")
    body: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "party": party,
        "exported_at": now.isoformat(),
        "keys": [{k: v for k, v in dataclasses.asdict(e).items() if k != "party"} for e in entries],
    }
    message = _signing_input(body)
    body["signatures"] = [
        {
            "key_id": e.key_id,
            "signature": base64.b64encode(
                signature_alg(e.algorithm).sign(ring.store.load(party, e.key_id), message)
            ).decode("ascii"),
        }
        for e in entries
        if allowed(e, "sign", now) and ring.store.holds(party, e.key_id)
    ]
    return body


@dataclass
class ImportResult:
    """What ``import_bundle`` did."""

    party: str
    signed_by: list[str]
    first_contact: bool
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return dataclasses.asdict(self)


def _bundle_entries(bundle: Any) -> tuple[str, list[KeyEntry]]:
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise KeyAdminError(f"not a {BUNDLE_FORMAT} key bundle")
    party, keys = bundle.get("party"), bundle.get("keys")
    if not isinstance(party, str) or not isinstance(keys, list) or not keys:
        raise KeyAdminError("key bundle has no party or no keys")
    check_party(party)
    entries = []
    for key in keys:
        if not isinstance(key, dict) or set(key) != BUNDLE_KEY_FIELDS:
            raise KeyAdminError("key bundle entry has missing or unexpected fields")
        try:
            entry = KeyEntry(party=party, **key)
            entry.check()
        except (TypeError, ValueError):
            key_id = str(key.get("key_id"))[:32]
            raise KeyAdminError(f"key bundle refused: key {key_id} does not match its id or algorithm") from None
        entries.append(entry)
    if len({e.key_id for e in entries}) != len(entries):
        raise KeyAdminError("key bundle lists a key twice")
    return party, entries


def _bundle_signers(bundle: dict[str, Any], entries: list[KeyEntry], now: dt.datetime) -> set[str]:
    signatures = bundle.get("signatures", [])
    if not isinstance(signatures, list):
        raise KeyAdminError("key bundle signatures are malformed")
    by_id = {e.key_id: e for e in entries}
    message = _signing_input(bundle)
    signers = set()
    for item in signatures:
        if not isinstance(item, dict) or not isinstance(item.get("signature"), str):
            raise KeyAdminError("key bundle signatures are malformed")
        entry = by_id.get(str(item.get("key_id")))
        if entry is None or not allowed(entry, "verify", now):
            continue  # a signature by a key the bundle does not vouch for counts for nothing
        try:
            signature = base64.b64decode(item["signature"], validate=True)
            signature_alg(entry.algorithm).verify(entry.load_public(), signature, message)
        except (binascii.Error, InvalidSignature, TypeError, ValueError):
            raise KeyAdminError("key bundle refused: a signature does not verify (altered in transit?)") from None
        signers.add(entry.key_id)
    return signers


def import_bundle(
    ring: KeyRing,
    bundle: Any,
    now: dt.datetime,
    *,
    trust: frozenset[str] = frozenset(),
    allow_unsigned: bool = False,
) -> ImportResult:
    """Add a partner's public keys to the registry under the rules in the module docstring. All or nothing."""
    party, entries = _bundle_entries(bundle)
    if ring.store.manages(party):
        raise KeyAdminError(f"this node holds private keys of {party}: its keys are managed here, not imported")
    for entry in entries:
        for other in ring.registry.entries():
            if other.key_id == entry.key_id and other.party != party:
                raise KeyAdminError(f"key {entry.key_id} is registered for another party")
    signers = _bundle_signers(bundle, entries, now)
    known = ring.registry.entries(party)
    pinned = {e.key_id for e in known if allowed(e, "verify", now)} | trust
    first_contact = not known
    if not signers:
        if not allow_unsigned:
            raise KeyAdminError("key bundle is not signed by any of its active signing keys")
    elif first_contact and not signers & trust:
        raise KeyAdminError(
            f"first contact with {party}: pass --trust KEY_ID with the id of its signing key, checked out of band "
            f"(this bundle is signed by {', '.join(sorted(signers))})"
        )
    elif not first_contact and not signers & pinned:
        raise KeyAdminError(
            f"key bundle is not signed by a signing key already registered for {party}; "
            "check the new key id out of band and pass --trust KEY_ID"
        )
    result = ImportResult(party, sorted(signers), first_contact)
    for entry in entries:
        try:
            existing = ring.registry.get(party, entry.key_id)
        except KeyUnavailable:
            ring.registry.add(entry)
            result.added.append(entry.key_id)
            continue
        if (existing.purpose, existing.algorithm) != (entry.purpose, entry.algorithm):
            raise KeyAdminError(f"key {entry.key_id} changed purpose or algorithm")
        if STATUS_ORDER[entry.status] > STATUS_ORDER[existing.status]:
            ring.registry.add(dataclasses.replace(existing, status=entry.status))
            result.updated.append(entry.key_id)
        else:
            result.unchanged.append(entry.key_id)
    return result
