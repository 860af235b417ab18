"""Crypto-shredding of the broker's copies: its encryption key is rotated every epoch and destroyed once
nothing sealed to it may still be needed.

Every record on crx's internal topics (``feed.<J>``, ``records``, ``dlq``) is sealed to the broker's own
encryption key (party ``settings.broker_party``). Kafka keeps copies on its disks until ``retention.ms`` and
often longer (a segment is deleted only once its newest record is past retention; replicas, moved partitions
and backups keep more). Deleting records cannot reach all of them; destroying the key they are sealed to does.

- ``rotate_due``: once the key in use is ``broker_key_epoch_days`` old (by ``not_before``), a new one takes
  over at once (``lifecycle.rotate``); the old one becomes ``retiring``: never sealed to again, still opened.
- ``needed_until``: until when a key may still be needed to open something crx keeps. Indefinitely (None)
  while it is ``active`` (in use, or able to come back into use if its successor is retired), and while no
  successor exists. Otherwise from the instant its successor took over. The registry records no retirement
  time, so that instant is the successor's ``not_before``: the earliest of the party's encryption keys
  registered after it and neither revoked nor destroyed (see ``needed_until`` for why not the next by
  ``not_before``). From then on a copy sealed to the key can be kept at most ``longest_path``: on the feed
  or records topic ``topic_retention_days``; then, if a stage dead-lettered it (the dead letter keeps the
  sealed envelope whole, replayable) or the intake kept it (its store keeps the sealed feed envelope until
  settled, then ``intake_retention_days``), the longer of ``dlq_retention_days`` and
  ``intake_retention_days``. Those stays follow one another, so the bound is topic retention plus the longer
  of the other two, not the largest of the three. Plus ``SAFETY_MARGIN`` (one day): a rotated key is
  backdated by ``lifecycle.CLOCK_SKEW`` (five minutes), services see the registry change within a second and
  may finish a batch sealed to the old key, producers' clocks stamp the records Kafka's retention goes by, and
  the intake's reconciler re-publishes kept envelopes for hours before it gives up.
- ``destroy``: irreversible (see ``PrivateKeyStore.destroy``: the file is overwritten and deleted, best effort
  below the file system; the passphrase encryption of the file is the other layer), then the entry's status
  becomes ``destroyed``, which nothing may use (``ring.USES``). The audit writer logs the new status as a
  KEY_CHANGE event with outcome ``destroyed``. An envelope sealed to a destroyed key raises ``KeyDestroyed``:
  the stages dead-letter it (reason ``KEY_DESTROYED``), accounted for, never retried.
- ``destroy_due``: every broker encryption key past ``needed_until``, revoked ones included (a revoked key's
  file is kept for forensics, but no longer than the copies it could open).

What the bound does not cover: a submission that stays unsettled longer, a dead letter replayed late (its
copy goes back on a topic), a national system sealing with an outdated copy of the broker's bundle (``crx
push`` with its own key store must import the broker's bundle every epoch). Each such envelope is
dead-lettered ``KEY_DESTROYED`` (``crx dlq replay`` refuses those letters, and letters sealed to a destroyed
key). Only keys whose private half this node manages are destroyed here; each
other copy of the key store (another node, a Kubernetes Secret, a backup) must be destroyed where it is.

The functions taking a ``ring`` change its registry in memory: the caller holds the registry's lock and saves
(``ring.editing``), as ``run_epoch`` does. Run the epoch against the one key store every broker service reads
(a shared directory): services that each hold a copy of the store (Kubernetes pods unpacking a Secret) must not
each rotate their copy, or each would seal to a key the others cannot open. There the operator runs ``crx keys
epoch`` on the store the copies are made from, and redistributes it (deploy/README.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from services.kernel.config import Settings
from services.kernel.errors import KeyUnavailable
from services.kernel.runtime import passphrase_of
from services.keys.entry import parse_time
from services.keys.lifecycle import KeyAdminError, rotate
from services.keys.ring import ENDED, KeyEntry, KeyRegistry, KeyRing, PrivateKeyStore, editing

SAFETY_MARGIN = dt.timedelta(days=1)


def epoch_length(settings: Settings) -> dt.timedelta | None:
    """How long the broker's encryption key serves before ``rotate_due`` replaces it; None (never) when
    ``broker_key_epoch_days`` is zero or less."""
    days = settings.broker_key_epoch_days
    return dt.timedelta(days=days) if days > 0 else None


def longest_path(settings: Settings) -> dt.timedelta:
    """The longest a copy sealed to a key may be kept after the key stopped being sealed to, margin included
    (see the module docstring)."""
    kept = max(settings.dlq_retention_days, settings.intake_retention_days)
    return dt.timedelta(days=settings.topic_retention_days + kept) + SAFETY_MARGIN


def rotation_due(ring: KeyRing, settings: Settings, now: dt.datetime) -> KeyEntry | None:
    """The broker's encryption key in use if it was at least an epoch old at ``now``, else None: also when
    epochs are off, when this node does not hold the broker's private keys, when the broker has no encryption
    key in use (``crx keys generate`` / ``rotate`` is the operator's), and when a key is already scheduled to
    take over later (an operator's ``rotate --not-before``)."""
    party, epoch = settings.broker_party, epoch_length(settings)
    if epoch is None or not ring.store.manages(party):
        return None
    try:
        current = ring.registry.active(party, "encryption", now)
    except KeyUnavailable:
        return None
    scheduled = any(e.status == "active" and parse_time(e.not_before) > now for e in _encryption_keys(ring, party))
    if scheduled or now - parse_time(current.not_before) < epoch:
        return None
    return current


def rotate_due(ring: KeyRing, settings: Settings, now: dt.datetime) -> KeyEntry | None:
    """The broker's new encryption key when ``rotation_due`` says the one in use has served its epoch (that
    one becomes retiring at once), else None. Raises KeyAdminError as ``lifecycle.rotate`` does."""
    if rotation_due(ring, settings, now) is None:
        return None
    new, _ = rotate(ring, settings.broker_party, "encryption", now)
    return new


def needed_until(ring: KeyRing, settings: Settings, entry: KeyEntry) -> dt.datetime | None:
    """Until when the encryption key ``entry`` may still be needed: None (indefinitely) while it is active or
    no successor exists; else the successors' earliest ``not_before`` plus ``longest_path``. A successor is an
    encryption key of the party registered after it (the registry keeps a party's keys in the order they were
    made: ``not_before`` alone misleads, as a key made at once is backdated by ``CLOCK_SKEW``) and neither
    revoked nor destroyed (a scheduled key revoked before it started never took over; one revoked after it
    started handed the use back to a still active predecessor). A signing key is needed indefinitely here: this
    schedule destroys encryption keys only."""
    if entry.purpose != "encryption" or entry.status == "active":
        return None
    keys = _encryption_keys(ring, entry.party)
    ids = [e.key_id for e in keys]
    if entry.key_id not in ids:
        return None
    later = keys[ids.index(entry.key_id) + 1 :]
    starts = [parse_time(e.not_before) for e in later if e.status not in ENDED]
    return min(starts) + longest_path(settings) if starts else None


def check_destroyable(
    ring: KeyRing, settings: Settings, party: str, key_id: str, now: dt.datetime, *, force: bool = False
) -> KeyEntry:
    """The entry of ``key_id`` if ``destroy`` may destroy it at ``now``. Raises KeyAdminError, saying why, for
    a key not registered, a signing key, a key of a party whose private keys this node does not manage, a key
    already destroyed, and a key that may still be needed (active, no successor yet, or ``now`` before
    ``needed_until``; ``force`` overrides only the last)."""
    try:
        entry = ring.registry.get(party, key_id)
    except KeyUnavailable:
        raise KeyAdminError(f"no key {key_id} registered for party {party}") from None
    held = ring.store.holds(party, key_id)
    if entry.purpose != "encryption":
        raise KeyAdminError(
            f"key {key_id} is a signing key: it protects no stored copy, so it is revoked (`crx keys revoke`), "
            "not destroyed"
        )
    if not held and not ring.store.manages(party):
        raise KeyAdminError(f"the private keys of {party} are not held here: {party} destroys its own keys")
    if entry.status == "destroyed" and not held:
        raise KeyAdminError(f"key {key_id} of {party} is already destroyed")
    if entry.status == "active":
        raise KeyAdminError(
            f"key {key_id} of {party} is active (it is, or may again be, sealed to): rotate or retire it first"
        )
    until = needed_until(ring, settings, entry)
    if until is None:
        raise KeyAdminError(f"no newer encryption key of {party} took over from key {key_id}: it is still needed")
    if now < until and not force:
        raise KeyAdminError(
            f"key {key_id} of {party} may still be needed until {until.isoformat()} (copies sealed to it may be"
            " kept that long); --force destroys it anyway, and what is sealed to it becomes unreadable"
        )
    return entry


def destroy(
    ring: KeyRing, settings: Settings, party: str, key_id: str, now: dt.datetime, *, force: bool = False
) -> KeyEntry:
    """Irreversibly destroy encryption key ``key_id`` of ``party``: its private file is overwritten with random
    bytes, fsynced and deleted, the directory fsynced (``PrivateKeyStore.destroy``: best effort on journaling
    and copy-on-write file systems, SSDs, snapshots and backups; the file's passphrase encryption is the other
    layer), and its registry entry becomes ``destroyed``. Returns the new entry.

    Refused (KeyAdminError, nothing changed) under the rules of ``check_destroyable``. A key whose file is
    already gone (a destruction interrupted before the registry was saved) is marked destroyed. Raises OSError
    when the file cannot be overwritten or removed (the status is then left as it was).
    """
    entry = check_destroyable(ring, settings, party, key_id, now, force=force)
    ring.store.destroy(party, key_id)
    destroyed = dataclasses.replace(entry, status="destroyed")
    ring.registry.add(destroyed)
    return destroyed


def destruction_due(ring: KeyRing, settings: Settings, now: dt.datetime) -> list[KeyEntry]:
    """The broker's encryption keys past their ``needed_until`` at ``now``, not yet destroyed (retiring and
    revoked ones); none when this node does not hold the broker's private keys."""
    party = settings.broker_party
    if not ring.store.manages(party):
        return []
    return [
        entry
        for entry in _encryption_keys(ring, party)
        if entry.status != "destroyed" and _past(needed_until(ring, settings, entry), now)
    ]


def destroy_due(ring: KeyRing, settings: Settings, now: dt.datetime) -> list[KeyEntry]:
    """Destroy every key ``destruction_due`` lists (see ``destroy``); returns the destroyed entries."""
    return [destroy(ring, settings, e.party, e.key_id, now) for e in destruction_due(ring, settings, now)]


@dataclass
class EpochReport:
    """What ``run_epoch`` did (or, dry, would do): the rotation, the keys destroyed, the others kept and until
    when (None: while in use). Key ids and times only."""

    dry_run: bool
    rotated_from: str | None = None
    rotated_to: str | None = None
    destroyed: list[str] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dataclasses.asdict(self)


def run_epoch(settings: Settings, now: dt.datetime, *, dry_run: bool = False) -> EpochReport:
    """The broker's key epoch at ``now`` on this node's key store: ``rotate_due`` then ``destroy_due``, under
    the registry's lock, saved. ``dry_run`` changes nothing and reports what is due. Raises KeyAdminError,
    KeyUnavailable (registry not valid) and OSError."""
    report = EpochReport(dry_run)
    party, store = settings.broker_party, PrivateKeyStore(settings.keys_dir, passphrase_of(settings))
    with contextlib.ExitStack() as stack:
        if dry_run:
            ring = KeyRing(KeyRegistry.load(settings.keys_dir / "registry.json"), store)
            due = rotation_due(ring, settings, now)
            report.rotated_from = due.key_id if due is not None else None
            report.destroyed = [e.key_id for e in destruction_due(ring, settings, now)]
        else:
            ring = KeyRing(stack.enter_context(editing(settings.keys_dir / "registry.json")), store)
            due = rotation_due(ring, settings, now)
            new = rotate_due(ring, settings, now)
            if due is not None and new is not None:
                report.rotated_from, report.rotated_to = due.key_id, new.key_id
            report.destroyed = [e.key_id for e in destroy_due(ring, settings, now)]
        report.kept = [
            {"key_id": e.key_id, "status": e.status, "needed_until": _iso(needed_until(ring, settings, e))}
            for e in _encryption_keys(ring, party)
            if e.status != "destroyed" and e.key_id not in report.destroyed
        ]
    return report


def _encryption_keys(ring: KeyRing, party: str) -> list[KeyEntry]:
    return [e for e in ring.registry.entries(party) if e.purpose == "encryption"]


def _past(until: dt.datetime | None, now: dt.datetime) -> bool:
    return until is not None and now >= until


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
