"""Crypto-shredding: the broker's encryption key rotates every epoch and is destroyed once nothing sealed to it
may still be needed; an envelope sealed to a destroyed key can never be opened again, with a typed error.

Real keys (encrypted PKCS#8 files), the real Sealer and Opener, real registry files; time is injected.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from services.cli import main
from services.kernel.config import Secret, Settings
from services.kernel.envelope import Opener, SealContext, Sealer
from services.kernel.errors import EnvelopeError, KeyDestroyed, KeyUnavailable, handling
from services.keys import epochs
from services.keys.bundles import export_bundle, import_bundle
from services.keys.entry import parse_time
from services.keys.lifecycle import CLOCK_SKEW, KeyAdminError, describe, generate, rotate, set_status
from services.keys.ring import KeyRegistry, KeyRing, PrivateKeyStore, editing, generate_party_keys

PASSPHRASE = "correct horse battery staple"
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
BROKER = frozenset({"crx"})


@pytest.fixture
def shred_settings(settings: Settings) -> Settings:
    """The broker's settings with distinct retentions (so a wrong formula shows) and a key passphrase."""
    return settings.replace(
        broker_key_epoch_days=7.0,
        topic_retention_days=5.0,
        dlq_retention_days=20.0,
        intake_retention_days=10.0,
        key_passphrase=Secret(PASSPHRASE),
    )


def _ring(settings: Settings) -> KeyRing:
    """The broker's keys (generated at T0) in the settings' keys dir, saved; encrypted with the passphrase."""
    ring = KeyRing.open(settings.keys_dir, PASSPHRASE.encode())
    generate(ring, "crx", T0, hpke="P256-SHA256-AES256GCM", signature="ECDSA-P256-SHA256")
    ring.registry.save()
    return ring


def _records_ctx(message_id: str = "m-1") -> SealContext:
    return SealContext(
        channel="records",
        message_id=message_id,
        correlation_id="s-1",
        sender="crx",
        recipient="crx",
        content_type="avro/crx.v1.CriminalRecord",
    )


def _seal(ring: KeyRing, now: dt.datetime) -> bytes:
    return Sealer(ring.registry, ring.store, "crx").seal(b"conviction", _records_ctx(), now)


def _open(ring: KeyRing, sealed: bytes, now: dt.datetime) -> bytes:
    return Opener(ring.registry, ring.store, "crx").open(sealed, channel="records", now=now, signers=BROKER).plaintext


def _key_of(ring: KeyRing, sealed: bytes) -> str:
    return str(Opener(ring.registry, ring.store, "crx").parse(sealed)["recipient_key_id"])


def test_an_envelope_opens_until_its_epoch_key_is_destroyed_then_never(shred_settings: Settings) -> None:
    """Sealed to the epoch key: opens while the key is active and while it is retiring; refused before its
    needed-until time; once destroyed the envelope raises KeyDestroyed (KEY_DESTROYED, dead-lettered, never
    retried), in this process and in a fresh one, and the file is gone: the passphrase opens nothing."""
    ring = _ring(shred_settings)
    sealed = _seal(ring, T0)
    old = _key_of(ring, sealed)
    assert _open(ring, sealed, T0) == b"conviction"

    rotated_at = T0 + 8 * DAY
    new = epochs.rotate_due(ring, shred_settings, rotated_at)
    assert new is not None and new.key_id != old
    ring.registry.save()
    assert _open(ring, sealed, rotated_at) == b"conviction"  # retiring: still opened

    until = epochs.needed_until(ring, shred_settings, ring.registry.get("crx", old))
    assert until == parse_time(new.not_before) + dt.timedelta(days=5 + 20) + epochs.SAFETY_MARGIN
    with pytest.raises(KeyAdminError, match="may still be needed until"):
        epochs.destroy(ring, shred_settings, "crx", old, until - dt.timedelta(seconds=1))
    assert ring.store.holds("crx", old) and _open(ring, sealed, until) == b"conviction"

    destroyed = epochs.destroy(ring, shred_settings, "crx", old, until)
    ring.registry.save()
    assert destroyed.status == "destroyed"
    assert not ring.store.path("crx", old).exists()
    with pytest.raises(KeyDestroyed) as caught:
        _open(ring, sealed, until)  # this process had the key loaded: that copy is not used
    assert caught.value.reason_code == "KEY_DESTROYED" and not caught.value.retriable
    assert handling(caught.value) == "dead_letter"
    assert "conviction" not in str(caught.value)

    operator = KeyRing.open(shred_settings.keys_dir, PASSPHRASE.encode())  # another process, with the passphrase
    with pytest.raises(KeyDestroyed):
        _open(operator, sealed, until)
    with pytest.raises(KeyUnavailable):
        operator.store.load("crx", old)  # even by hand: the file is gone
    assert _open(operator, _seal(operator, until), until) == b"conviction"  # the new key works


def test_an_envelope_for_a_destroyed_key_still_fails_opaquely_when_it_is_not_authentic(
    shred_settings: Settings,
) -> None:
    """KeyDestroyed is said only of an authentic envelope for this party: an altered one is the opaque
    EnvelopeError, as before, so the typed error leaks nothing about forgeries."""
    ring = _ring(shred_settings)
    sealed = _seal(ring, T0)
    old = _key_of(ring, sealed)
    epochs.rotate_due(ring, shred_settings, T0 + 8 * DAY)
    epochs.destroy(ring, shred_settings, "crx", old, T0 + 8 * DAY, force=True)
    altered = sealed[:-1] + bytes([sealed[-1] ^ 1])  # the signature's last byte
    with pytest.raises(EnvelopeError) as caught:
        _open(ring, altered, T0 + 8 * DAY)
    assert type(caught.value) is EnvelopeError


def test_destroy_overwrites_the_file_in_place_before_unlinking_it(tmp_path: Path) -> None:
    """The private file's blocks are overwritten with random bytes of the same length before the name goes: a
    second link to the same inode (standing for what unlinking alone leaves on the disk) holds no key."""
    store = PrivateKeyStore(tmp_path, PASSPHRASE.encode())
    ring = KeyRing(KeyRegistry.load(tmp_path / "registry.json"), store)
    enc, _ = generate(ring, "crx", T0, hpke="P256-SHA256-AES256GCM", signature="ECDSA-P256-SHA256")
    path = store.path("crx", enc.key_id)
    before = path.read_bytes()
    link = tmp_path / "link.pem"
    os.link(path, link)

    assert store.destroy("crx", enc.key_id) is True
    assert not path.exists()
    after = link.read_bytes()
    assert len(after) == len(before) and after != before
    assert b"PRIVATE KEY" not in after and b"-----" not in after
    assert store.destroy("crx", enc.key_id) is False  # nothing left to destroy


def test_rotate_due_rotates_only_when_the_epoch_is_over(shred_settings: Settings) -> None:
    """The key in use is replaced once it is broker_key_epoch_days old (by not_before), at once (the old one
    retiring), and not again until the new one is as old; never with epochs off, when a key is scheduled to
    take over later, or on a node that does not hold the broker's keys."""
    ring = _ring(shred_settings)
    first = ring.registry.active("crx", "encryption", T0)
    epoch_end = parse_time(first.not_before) + 7 * DAY
    assert epochs.rotate_due(ring, shred_settings, epoch_end - dt.timedelta(seconds=1)) is None
    assert epochs.rotate_due(ring, shred_settings.replace(broker_key_epoch_days=0), epoch_end + DAY) is None

    second = epochs.rotate_due(ring, shred_settings, epoch_end)
    assert second is not None and parse_time(second.not_before) == epoch_end - CLOCK_SKEW
    assert ring.registry.get("crx", first.key_id).status == "retiring"
    assert ring.registry.active("crx", "encryption", epoch_end).key_id == second.key_id
    assert epochs.rotate_due(ring, shred_settings, epoch_end + DAY) is None
    third = epochs.rotate_due(ring, shred_settings, epoch_end + 7 * DAY)
    assert third is not None and third.key_id != second.key_id

    signing = ring.registry.active("crx", "signing", T0)
    assert ring.registry.get("crx", signing.key_id).status == "active"  # only the encryption key rotates

    later = epoch_end + 30 * DAY
    rotate(ring, "crx", "encryption", later, not_before=later + DAY)  # an operator's scheduled rotation
    assert epochs.rotate_due(ring, shred_settings, later) is None

    elsewhere = KeyRing(ring.registry, PrivateKeyStore(shred_settings.data_dir / "partner-keys", None))
    assert epochs.rotate_due(elsewhere, shred_settings, later + 60 * DAY) is None
    assert epochs.destroy_due(elsewhere, shred_settings, later + 600 * DAY) == []


def test_needed_until_is_indefinite_while_in_use_and_bounded_after(shred_settings: Settings) -> None:
    """Active, signing, or without a successor: needed indefinitely. Retiring or revoked with a successor: the
    successor's not_before plus topic retention, plus the longer of dead-letter and intake retention, plus
    the margin."""
    ring = _ring(shred_settings)
    first = ring.registry.active("crx", "encryption", T0)
    signing = ring.registry.active("crx", "signing", T0)
    assert epochs.needed_until(ring, shred_settings, first) is None
    assert epochs.needed_until(ring, shred_settings, signing) is None
    retired = set_status(ring, "crx", first.key_id, "retiring")
    assert epochs.needed_until(ring, shred_settings, retired) is None  # nothing took over: no bound

    second, _ = rotate(ring, "crx", "encryption", T0 + DAY)
    expected = parse_time(second.not_before) + dt.timedelta(days=25) + epochs.SAFETY_MARGIN
    assert epochs.needed_until(ring, shred_settings, ring.registry.get("crx", first.key_id)) == expected
    longer_intake = shred_settings.replace(intake_retention_days=40.0)
    assert epochs.needed_until(ring, longer_intake, retired) == expected + dt.timedelta(days=20)
    revoked = set_status(ring, "crx", first.key_id, "revoked")
    assert epochs.needed_until(ring, shred_settings, revoked) == expected


def test_the_successor_is_the_key_made_after_it_not_one_revoked_before_it_started(shred_settings: Settings) -> None:
    """A key made at once is backdated (CLOCK_SKEW), so it may start before the key it replaces (a key made
    a minute earlier, unbackdated): it is still its successor. A scheduled successor revoked before it started
    (a rotation called off) replaced nothing: the bound runs from the key that did."""
    ring = KeyRing.open(shred_settings.keys_dir, PASSPHRASE.encode())
    generate_party_keys(ring.registry, ring.store, "crx", now=T0)  # as the dev stack makes them: not backdated
    first = ring.registry.active("crx", "encryption", T0)
    second, _ = rotate(ring, "crx", "encryption", T0 + dt.timedelta(minutes=1))
    assert parse_time(second.not_before) < parse_time(first.not_before)
    until = epochs.needed_until(ring, shred_settings, ring.registry.get("crx", first.key_id))
    assert until == parse_time(second.not_before) + epochs.longest_path(shred_settings)

    called_off, _ = rotate(ring, "crx", "encryption", T0 + DAY, not_before=T0 + 10 * DAY)
    set_status(ring, "crx", called_off.key_id, "revoked")
    third, _ = rotate(ring, "crx", "encryption", T0 + 20 * DAY)  # second (still active) retires only now
    until = epochs.needed_until(ring, shred_settings, ring.registry.get("crx", second.key_id))
    assert until == parse_time(third.not_before) + epochs.longest_path(shred_settings)


def test_destroy_refuses_what_may_still_be_needed_or_is_not_ours(shred_settings: Settings) -> None:
    """Refused, saying why, and nothing changed: the active key, a retired key nothing took over from, a key
    within its needed-until time (unless forced), a signing key, another party's key, an unknown key, a key
    destroyed already; and statuses cannot be set to destroyed, or back from it."""
    ring = _ring(shred_settings)
    first = ring.registry.active("crx", "encryption", T0)
    signing = ring.registry.active("crx", "signing", T0)
    far = T0 + 1000 * DAY

    partner = KeyRing.open(shred_settings.data_dir / "fr-keys", None)
    generate(partner, "FR", T0, hpke="P256-SHA256-AES256GCM", signature="ECDSA-P256-SHA256")
    fr_bundle = export_bundle(partner, "FR", T0)
    import_bundle(ring, fr_bundle, T0, trust=frozenset(s["key_id"] for s in fr_bundle["signatures"]))
    fr_key = partner.registry.active("FR", "encryption", T0).key_id

    refusals = {
        "is active": ("crx", first.key_id),
        "signing key": ("crx", signing.key_id),
        "not held here": ("FR", fr_key),
        "no key": ("crx", "0" * 32),
    }
    for reason, (party, key_id) in refusals.items():
        with pytest.raises(KeyAdminError, match=reason):
            epochs.destroy(ring, shred_settings, party, key_id, far, force=True)
    set_status(ring, "crx", first.key_id, "retiring")
    with pytest.raises(KeyAdminError, match="no newer encryption key"):
        epochs.destroy(ring, shred_settings, "crx", first.key_id, far, force=True)
    assert ring.store.holds("crx", first.key_id)

    rotate(ring, "crx", "encryption", T0 + DAY)
    with pytest.raises(KeyAdminError, match="may still be needed"):
        epochs.destroy(ring, shred_settings, "crx", first.key_id, T0 + 2 * DAY)
    assert epochs.destroy(ring, shred_settings, "crx", first.key_id, T0 + 2 * DAY, force=True).status == "destroyed"
    with pytest.raises(KeyAdminError, match="already destroyed"):
        epochs.destroy(ring, shred_settings, "crx", first.key_id, far)
    for status in ("retiring", "revoked", "destroyed"):
        with pytest.raises(KeyAdminError):
            set_status(ring, "crx", first.key_id, status)
    assert ring.registry.get("crx", first.key_id).status == "destroyed"


def test_destroy_due_destroys_retiring_and_revoked_keys_past_their_time_only(shred_settings: Settings) -> None:
    """The scheduled part: every broker encryption key past needed_until (a revoked one too: its file is kept
    for forensics no longer than the copies it could open), none before, the one in use never."""
    ring = _ring(shred_settings)
    first = ring.registry.active("crx", "encryption", T0)
    second, _ = rotate(ring, "crx", "encryption", T0 + 7 * DAY)
    third, _ = rotate(ring, "crx", "encryption", T0 + 14 * DAY)
    set_status(ring, "crx", first.key_id, "revoked")
    first_until = epochs.needed_until(ring, shred_settings, ring.registry.get("crx", first.key_id))
    second_until = epochs.needed_until(ring, shred_settings, ring.registry.get("crx", second.key_id))
    assert first_until is not None and second_until is not None and first_until < second_until

    assert epochs.destroy_due(ring, shred_settings, first_until - dt.timedelta(seconds=1)) == []
    assert [e.key_id for e in epochs.destroy_due(ring, shred_settings, first_until)] == [first.key_id]
    assert [e.key_id for e in epochs.destroy_due(ring, shred_settings, second_until)] == [second.key_id]
    assert epochs.destroy_due(ring, shred_settings, second_until + 1000 * DAY) == []
    statuses = {e.key_id: e.status for e in ring.registry.entries("crx") if e.purpose == "encryption"}
    assert statuses == {first.key_id: "destroyed", second.key_id: "destroyed", third.key_id: "active"}
    assert not ring.store.holds("crx", first.key_id) and ring.store.holds("crx", third.key_id)


def test_a_destruction_interrupted_before_the_registry_was_saved_is_completed(shred_settings: Settings) -> None:
    """The file went but the registry was not saved (a crash in between): destroying again marks it destroyed."""
    ring = _ring(shred_settings)
    first = ring.registry.active("crx", "encryption", T0)
    rotate(ring, "crx", "encryption", T0 + DAY)
    ring.registry.save()
    ring.store.destroy("crx", first.key_id)
    reopened = KeyRing.open(shred_settings.keys_dir, PASSPHRASE.encode())
    assert reopened.registry.get("crx", first.key_id).status == "retiring"
    assert epochs.destroy(reopened, shred_settings, "crx", first.key_id, T0 + 100 * DAY).status == "destroyed"


def test_the_destroyed_status_survives_reload_is_listed_exported_and_never_revived(
    shred_settings: Settings,
) -> None:
    """The status "destroyed" is written to and read back from the registry file, listed without a private
    half, exported in the party's bundle (importers learn of it), and no import of an older bundle makes the
    key usable again; a bundle about the broker is refused on the broker's own node whatever it says."""
    ring = _ring(shred_settings)
    first = ring.registry.active("crx", "encryption", T0)
    partner = KeyRing.open(shred_settings.data_dir / "fr-keys", None)
    old_bundle = export_bundle(ring, "crx", T0)
    signer = frozenset(s["key_id"] for s in old_bundle["signatures"])
    import_bundle(partner, old_bundle, T0, trust=signer)

    when = T0 + 100 * DAY
    with editing(shred_settings.keys_dir / "registry.json") as registry:
        locked = KeyRing(registry, ring.store)
        rotate(locked, "crx", "encryption", T0 + DAY)
        epochs.destroy(locked, shred_settings, "crx", first.key_id, when)

    reloaded = KeyRing.open(shred_settings.keys_dir, PASSPHRASE.encode())
    assert reloaded.registry.get("crx", first.key_id).status == "destroyed"
    [row] = [r for r in describe(reloaded, when, "crx") if r["key_id"] == first.key_id]
    assert (row["status"], row["in_use"], row["private_key_held"]) == ("destroyed", False, False)
    new_bundle = export_bundle(reloaded, "crx", when)
    assert {k["key_id"]: k["status"] for k in new_bundle["keys"]}[first.key_id] == "destroyed"

    assert import_bundle(partner, new_bundle, when).updated == [first.key_id]
    assert import_bundle(partner, old_bundle, when).unchanged  # the old bundle says "active": ignored
    assert partner.registry.get("crx", first.key_id).status == "destroyed"
    with pytest.raises(KeyUnavailable):
        Sealer(partner.registry, partner.store, None).seal(b"x", _records_ctx(), T0 + DAY / 2)  # no key to seal to
    with pytest.raises(KeyAdminError, match="private keys"):
        import_bundle(reloaded, old_bundle, when, trust=signer)
    assert KeyRing.open(shred_settings.keys_dir, None).registry.get("crx", first.key_id).status == "destroyed"


# --- the `crx keys epoch` and `crx keys destroy` commands, on a real keys dir --------------------------------


def _crx(data_dir: Path, *args: str, stdin: str | None = None) -> Result:
    env = {"CRX_DATA_DIR": str(data_dir), "CRX_KEY_PASSPHRASE": PASSPHRASE}
    return CliRunner(env=env).invoke(main, ["keys", *args], input=stdin)


def _json(result: Result) -> Any:
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout.splitlines()[-1])


def test_the_epoch_command_rotates_and_destroys_what_is_due(tmp_path: Path) -> None:
    """With the default settings (7-day epochs, 7 days on topics, 30 in the dead letters and the intake store):
    a key retired 50 days ago is destroyed, the 50-day-old key in use is rotated; --dry-run shows the same and
    changes nothing; a second run finds nothing due; `list` shows the destroyed key without a private half."""
    now = dt.datetime.now(dt.UTC)
    keys_dir = tmp_path / "keys"
    ring = KeyRing.open(keys_dir, PASSPHRASE.encode())
    generate(ring, "crx", now - 60 * DAY, hpke="P256-SHA256-AES256GCM", signature="ECDSA-P256-SHA256")
    first = ring.registry.active("crx", "encryption", now - 60 * DAY)
    second, _ = rotate(ring, "crx", "encryption", now - 50 * DAY)
    ring.registry.save()
    registry_before = (keys_dir / "registry.json").read_bytes()

    dry = _json(_crx(tmp_path, "epoch", "--dry-run"))
    assert (dry["dry_run"], dry["rotated_from"], dry["rotated_to"]) == (True, second.key_id, None)
    assert dry["destroyed"] == [first.key_id]
    assert (keys_dir / "registry.json").read_bytes() == registry_before and ring.store.holds("crx", first.key_id)

    done = _json(_crx(tmp_path, "epoch"))
    assert done["rotated_from"] == second.key_id and done["rotated_to"] not in (None, second.key_id)
    assert done["destroyed"] == [first.key_id] and not ring.store.holds("crx", first.key_id)
    kept = {k["key_id"]: k for k in done["kept"]}
    assert kept[done["rotated_to"]] == {"key_id": done["rotated_to"], "status": "active", "needed_until": None}
    until = dt.datetime.fromisoformat(kept[second.key_id]["needed_until"])
    assert now + 37 * DAY < until < now + 39 * DAY  # 7 + 30 days, a day's margin, from the rotation
    again = _json(_crx(tmp_path, "epoch"))
    assert (again["rotated_from"], again["destroyed"]) == (None, [])

    listed = _crx(tmp_path, "list", "--party", "crx", "--json")
    assert listed.exit_code == 0, listed.output
    rows = {r["key_id"]: r for r in json.loads(listed.stdout)}
    assert (rows[first.key_id]["status"], rows[first.key_id]["private_key_held"]) == ("destroyed", False)
    assert rows[second.key_id]["status"] == "retiring"


def test_the_destroy_command_refuses_asks_and_destroys(tmp_path: Path) -> None:
    """`crx keys destroy` refuses a key that may still be needed (saying until when) and the key in use;
    --force asks for confirmation, and a "no" changes nothing; a "yes" destroys: file gone, status destroyed."""
    now = dt.datetime.now(dt.UTC)
    ring = KeyRing.open(tmp_path / "keys", PASSPHRASE.encode())
    generate(ring, "crx", now - 10 * DAY, hpke="P256-SHA256-AES256GCM", signature="ECDSA-P256-SHA256")
    first = ring.registry.active("crx", "encryption", now)
    second, _ = rotate(ring, "crx", "encryption", now - DAY)
    ring.registry.save()

    early = _crx(tmp_path, "destroy", "--party", "crx", first.key_id, "--yes")
    assert early.exit_code == 1 and "may still be needed until" in early.output
    active = _crx(tmp_path, "destroy", "--party", "crx", second.key_id, "--yes", "--force")
    assert active.exit_code == 1 and "is active" in active.output
    declined = _crx(tmp_path, "destroy", "--party", "crx", first.key_id, "--force", stdin="n\n")
    assert declined.exit_code == 1 and ring.store.holds("crx", first.key_id)
    assert KeyRing.open(tmp_path / "keys", None).registry.get("crx", first.key_id).status == "retiring"

    done = _json(_crx(tmp_path, "destroy", "--party", "crx", first.key_id, "--force", stdin="y\n"))
    assert done == {"party": "crx", "key_id": first.key_id, "status": "destroyed", "private_key_overwritten": True}
    assert not ring.store.path("crx", first.key_id).exists()
    assert KeyRing.open(tmp_path / "keys", None).registry.get("crx", first.key_id).status == "destroyed"
    twice = _crx(tmp_path, "destroy", "--party", "crx", first.key_id, "--yes", "--force")
    assert twice.exit_code == 1 and "already destroyed" in twice.output
