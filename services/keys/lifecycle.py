"""Key lifecycle: generate, rotate, retire, revoke, describe (what the ``crx keys`` commands do); destroying a
key and the broker's key epochs are in ``services.keys.epochs``.

Every change is a read-modify-write of ``<keys_dir>/registry.json`` under a lock, written atomically; running
services pick it up within a second (``KeyRegistry`` hot reload), with no restart. What a key may be used for
in each status is decided in one place, ``services.keys.ring.USES``.

- ``generate``: a party's first encryption and signing keys (refused if it has keys: use ``rotate``).
- ``generate_component``: the first signing key (Ed25519) of one of the broker's components, party
  ``<broker party>.<component>`` (``services.kernel.producers``): a component only signs the batches it
  produces, so it has no encryption key. ``crx keys generate --party crx`` makes the broker's keys and every
  component's that has none; ``rotate``, ``retire`` and ``revoke`` work on component keys as on any other.
- ``rotate``: a new active key for one purpose. Immediate by default: the previous active keys become
  ``retiring`` (never sealed to or signed with again; still opened with and verified against). With
  ``--not-before`` in the future the previous key stays in use until then, the newest valid active key
  taking over by itself: publish the new public key first (``export``), let partners import it, then let it
  start. Do that for signing keys, which partners must know before they can verify.
- ``retire`` / ``revoke``: statuses only move forward (active -> retiring -> revoked -> destroyed). A revoked
  key is never sealed to, signed with, opened with or verified against: every envelope it signed is refused.
  Its private file is kept (an operator may still decrypt old records by hand, for forensics), never used.
- ``destroyed`` (``epochs.destroy``, ``crx keys destroy``; crypto-shredding): an encryption key no longer
  needed has its private file overwritten and deleted; never used for anything again, and an envelope sealed
  to it raises ``KeyDestroyed``. ``set_status`` does not make a key destroyed: only ``destroy`` does.
- New keys start five minutes back (``CLOCK_SKEW``), so a service whose clock or batch time is a little
  behind the administrator's still finds a valid key the moment it reloads (certificate authorities
  backdate ``notBefore`` for the same reason).
- ``list`` shows key ids, purposes, algorithms, statuses, validity, whether the key is the one in use and
  whether this node holds its private half; never key material.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
from typing import Any

from services.kernel.errors import CrxError, KeyUnavailable
from services.kernel.producers import COMPONENT_SIGNATURE, COMPONENTS, component_of, component_party
from services.kernel.suites import DEFAULT_HPKE, DEFAULT_SIGNATURE
from services.keys.ring import (
    ENDED,
    STATUS_ORDER,
    KeyEntry,
    KeyRing,
    Purpose,
    Status,
    generate_key,
    generate_party_keys,
)

CLOCK_SKEW = dt.timedelta(minutes=5)
PARTY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class KeyAdminError(CrxError, dead_letter=False, reason_code="KEY_ADMIN"):
    """A key administration request was refused (bad party, refused bundle, status going backwards)."""


# --- operations (no I/O but the key ring) -----------------------------------------------------------------


def check_party(party: str) -> str:
    """``party`` if it is a valid party id (it names a directory). Raises KeyAdminError."""
    if not PARTY_ID.fullmatch(party):
        raise KeyAdminError("a party id is 1-64 letters, digits, '_', '.', '-', starting with a letter or digit")
    return party


def generate(ring: KeyRing, party: str, now: dt.datetime, *, hpke: str, signature: str) -> tuple[KeyEntry, KeyEntry]:
    """A party's first encryption and signing keys, valid from ``now - CLOCK_SKEW``. Refused if it has keys,
    and for a component's party id (``generate_component``)."""
    if component_of(check_party(party)):
        raise KeyAdminError(f"{party} names a component: it gets a signing key only (generate_component)")
    if any(e.status not in ENDED for e in ring.registry.entries(party)):
        raise KeyAdminError(f"party {party} already has keys: use `crx keys rotate`")
    return generate_party_keys(ring.registry, ring.store, party, now=now - CLOCK_SKEW, hpke=hpke, signature=signature)


def generate_component(ring: KeyRing, party: str, now: dt.datetime) -> KeyEntry:
    """The first signing key (``COMPONENT_SIGNATURE``) of the component party ``party`` (``crx.router``),
    valid from ``now - CLOCK_SKEW``. Raises KeyAdminError for a party that names no component, or one that
    has keys (use ``rotate``)."""
    if not component_of(check_party(party)):
        raise KeyAdminError(f"{party} names no component ({', '.join(COMPONENTS)})")
    if any(e.status not in ENDED for e in ring.registry.entries(party)):
        raise KeyAdminError(f"component {party} already has a key: use `crx keys rotate --party {party}`")
    return generate_key(ring.registry, ring.store, party, "signing", COMPONENT_SIGNATURE, not_before=now - CLOCK_SKEW)


def generate_components(ring: KeyRing, broker_party: str, now: dt.datetime) -> list[KeyEntry]:
    """A first signing key for every component of ``broker_party`` that has no key yet (see
    ``generate_component``); returns the new entries (none when every component has one)."""
    parties = [component_party(broker_party, c) for c in COMPONENTS]
    return [generate_component(ring, p, now) for p in parties if not ring.registry.entries(p)]


def rotate(
    ring: KeyRing,
    party: str,
    purpose: Purpose,
    now: dt.datetime,
    *,
    algorithm: str | None = None,
    not_before: dt.datetime | None = None,
) -> tuple[KeyEntry, list[KeyEntry]]:
    """A new active key for ``purpose``; returns it and the keys it made ``retiring`` (none when scheduled).

    The algorithm defaults to the current key's. Refused for a party whose keys this node does not hold, and
    for an encryption key of a component (a component only signs).
    """
    entries = ring.registry.entries(check_party(party))
    if component_of(party) and purpose != "signing":
        raise KeyAdminError(f"{party} is a component: it has a signing key only (--purpose signing)")
    if entries and not any(ring.store.holds(party, e.key_id) for e in entries):
        raise KeyAdminError(f"the keys of {party} are not held here: {party} rotates its own and sends a bundle")
    current = [e for e in entries if e.purpose == purpose and e.status == "active"]
    if algorithm is None:
        newest = max(current, key=lambda e: e.not_before, default=None)
        signing = COMPONENT_SIGNATURE if component_of(party) else DEFAULT_SIGNATURE
        algorithm = newest.algorithm if newest else (DEFAULT_HPKE if purpose == "encryption" else signing)
    immediate = not_before is None or not_before <= now
    start = not_before if not_before is not None and not immediate else now - CLOCK_SKEW
    new = generate_key(ring.registry, ring.store, party, purpose, algorithm, not_before=start)
    retired = []
    if immediate:
        for entry in current:
            retired.append(dataclasses.replace(entry, status="retiring"))
            ring.registry.add(retired[-1])
    return new, retired


def set_status(ring: KeyRing, party: str, key_id: str, status: Status) -> KeyEntry:
    """Move key ``key_id`` of ``party`` to ``status`` (only forward; never to "destroyed", which only
    ``epochs.destroy`` sets, with the private file). Raises KeyUnavailable / KeyAdminError."""
    if status == "destroyed":
        raise KeyAdminError("a key is destroyed with its private half: `crx keys destroy`")
    entry = ring.registry.get(party, key_id)
    if STATUS_ORDER[status] < STATUS_ORDER[entry.status]:
        raise KeyAdminError(f"key {key_id} is {entry.status}: statuses only move forward")
    updated = dataclasses.replace(entry, status=status)
    ring.registry.add(updated)
    return updated


def describe(ring: KeyRing, now: dt.datetime, party: str | None = None) -> list[dict[str, Any]]:
    """One row per key: ids, purpose, algorithm, status, validity, in use now, private half held. No key material."""
    in_use = set()
    entries = ring.registry.entries(party)
    for p, purpose in {(e.party, e.purpose) for e in entries}:
        with contextlib.suppress(KeyUnavailable):
            in_use.add(ring.registry.active(p, purpose, now).key_id)
    return [
        {
            "party": e.party,
            "key_id": e.key_id,
            "purpose": e.purpose,
            "algorithm": e.algorithm,
            "status": e.status,
            "not_before": e.not_before,
            "not_after": e.not_after,
            "in_use": e.key_id in in_use,
            "private_key_held": ring.store.holds(e.party, e.key_id),
        }
        for e in entries
    ]
