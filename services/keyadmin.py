"""Key administration, the ``crx keys`` commands: generate, rotate, retire, revoke, list, export, import.

Every change is a read-modify-write of ``<keys_dir>/registry.json`` under a lock, written atomically; running
services pick it up within a second (``KeyRegistry`` hot reload), with no restart. What a key may be used for
in each status is decided in one place, ``services.kernel.keys.USES``.

- ``generate``: a party's first encryption and signing keys (refused if it has keys: use ``rotate``).
- ``rotate``: a new active key for one purpose. Immediate by default: the previous active keys become
  ``retiring`` (never sealed to or signed with again; still opened with and verified against). With
  ``--not-before`` in the future the previous key stays in use until then, the newest valid active key
  taking over by itself: publish the new public key first (``export``), let partners import it, then let it
  start. Do that for signing keys, which partners must know before they can verify.
- ``retire`` / ``revoke``: statuses only move forward (active -> retiring -> revoked). A revoked key is
  never sealed to, signed with, opened with or verified against: every envelope it signed is refused. Its
  private file is kept (an operator may still decrypt old records by hand, for forensics), never used.
- New keys start five minutes back (``CLOCK_SKEW``), so a service whose clock or batch time is a little
  behind the administrator's still finds a valid key the moment it reloads (certificate authorities
  backdate ``notBefore`` for the same reason).
- ``list`` shows key ids, purposes, algorithms, statuses, validity, whether the key is the one in use and
  whether this node holds its private half; never key material.

Key bundles (``export`` / ``import``) are how parties exchange public keys::

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
``--trust`` (checked out of band); on first contact with a party a self-signed bundle is accepted and its key
ids printed to be checked out of band. Statuses of known keys only move forward (an old bundle cannot
revive a retired or revoked key); their validity is kept.

Private keys are encrypted with ``CRX_KEY_PASSPHRASE`` when set, and never printed or logged. Without a
passphrase (the demo) they are stored unencrypted and ``generate`` / ``rotate`` say so on stderr.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from cryptography.exceptions import InvalidSignature

from services.cli_common import passphrase_of, settings_of
from services.kernel.config import Settings
from services.kernel.errors import CrxError, KeyError_
from services.kernel.keys import (
    STATUS_ORDER,
    KeyEntry,
    KeyRing,
    PrivateKeyStore,
    Purpose,
    Status,
    allowed,
    editing,
    generate_key,
    generate_party_keys,
)
from services.kernel.suites import DEFAULT_HPKE, DEFAULT_SIGNATURE, HPKE_SUITES, SIGNATURE_ALGS, signature_alg

CLOCK_SKEW = dt.timedelta(minutes=5)
BUNDLE_FORMAT = "crx-key-bundle/1"
BUNDLE_KEY_FIELDS = frozenset(
    {"key_id", "purpose", "algorithm", "status", "not_before", "not_after", "public_key_format", "public_key"}
)
PARTY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class KeyAdminError(KeyError_):
    """A key administration request was refused (bad party, refused bundle, status going backwards)."""

    reason_code = "KEY_ADMIN"


# --- operations (no I/O but the key ring) -----------------------------------------------------------------


def check_party(party: str) -> str:
    """``party`` if it is a valid party id (it names a directory). Raises KeyAdminError."""
    if not PARTY_ID.fullmatch(party):
        raise KeyAdminError("a party id is 1-64 letters, digits, '_', '.', '-', starting with a letter or digit")
    return party


def generate(ring: KeyRing, party: str, now: dt.datetime, *, hpke: str, signature: str) -> tuple[KeyEntry, KeyEntry]:
    """A party's first encryption and signing keys, valid from ``now - CLOCK_SKEW``. Refused if it has keys."""
    if any(e.status != "revoked" for e in ring.registry.entries(check_party(party))):
        raise KeyAdminError(f"party {party} already has keys: use `crx keys rotate`")
    return generate_party_keys(ring.registry, ring.store, party, now=now - CLOCK_SKEW, hpke=hpke, signature=signature)


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

    The algorithm defaults to the current key's. Refused for a party whose keys this node does not hold.
    """
    entries = ring.registry.entries(check_party(party))
    if entries and not any(ring.store.holds(party, e.key_id) for e in entries):
        raise KeyAdminError(f"the keys of {party} are not held here: {party} rotates its own and sends a bundle")
    current = [e for e in entries if e.purpose == purpose and e.status == "active"]
    if algorithm is None:
        newest = max(current, key=lambda e: e.not_before, default=None)
        algorithm = newest.algorithm if newest else (DEFAULT_HPKE if purpose == "encryption" else DEFAULT_SIGNATURE)
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
    """Move key ``key_id`` of ``party`` to ``status`` (only forward). Raises KeyError_ / KeyAdminError."""
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
        with contextlib.suppress(KeyError_):
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
    if (ring.store.root / party).exists():
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
    elif not first_contact and not signers & pinned:
        raise KeyAdminError(
            f"key bundle is not signed by a signing key already registered for {party}; "
            "check the new key id out of band and pass --trust KEY_ID"
        )
    result = ImportResult(party, sorted(signers), first_contact)
    for entry in entries:
        try:
            existing = ring.registry.get(party, entry.key_id)
        except KeyError_:
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


# --- the command line -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _ring(ctx: click.Context, *, write: bool) -> Iterator[tuple[Settings, KeyRing]]:
    """The key ring; with ``write``, its registry is locked and saved when the command succeeds."""
    settings = settings_of(ctx)
    store = PrivateKeyStore(settings.keys_dir, passphrase_of(settings))
    try:
        if write:
            with editing(settings.keys_dir / "registry.json") as registry:
                yield settings, KeyRing(registry, store)
        else:
            yield settings, KeyRing.open(settings.keys_dir, passphrase_of(settings))
    except CrxError as exc:
        raise click.ClickException(exc.detail) from None


def _party(settings: Settings, party: str) -> str:
    """The broker's own id as configured; partner ids upper-cased (ISO 3166-1 alpha-2)."""
    return party if party == settings.broker_party else party.upper()


def _warn_unencrypted(ring: KeyRing) -> None:
    if not ring.store.encrypted:
        click.echo("warning: CRX_KEY_PASSPHRASE is not set: private keys are stored unencrypted", err=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=None, sort_keys=True))


@click.group(name="keys")
def keys() -> None:
    """Keys: generate, rotate, retire, revoke, list; export and import public key bundles."""


@keys.command(name="generate")
@click.option("--party", required=True, help="The party (the broker's id, or a jurisdiction).")
@click.option("--suite", type=click.Choice(sorted(HPKE_SUITES)), default=DEFAULT_HPKE, show_default=True)
@click.option("--signature", type=click.Choice(sorted(SIGNATURE_ALGS)), default=DEFAULT_SIGNATURE, show_default=True)
@click.pass_context
def keys_generate(ctx: click.Context, party: str, suite: str, signature: str) -> None:
    """Generate an encryption and a signing key for PARTY and register them (private keys stay local)."""
    with _ring(ctx, write=True) as (settings, ring):
        party = _party(settings, party)
        enc, sig = generate(ring, party, _now(), hpke=suite, signature=signature)
        _warn_unencrypted(ring)
    _echo_json({"party": party, "encryption_key_id": enc.key_id, "signing_key_id": sig.key_id})


@keys.command(name="rotate")
@click.option("--party", required=True)
@click.option("--purpose", type=click.Choice(["encryption", "signing"]), default="encryption", show_default=True)
@click.option(
    "--suite",
    "--algorithm",
    "algorithm",
    type=click.Choice(sorted({*HPKE_SUITES, *SIGNATURE_ALGS})),
    help="HPKE suite (encryption) or signature algorithm (signing); default: the current key's.",
)
@click.option("--not-before", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"]), help="Start later.")
@click.pass_context
def keys_rotate(
    ctx: click.Context, party: str, purpose: Purpose, algorithm: str | None, not_before: dt.datetime | None
) -> None:
    """Make a new active key for PARTY; the previous one becomes retiring (its private key is kept)."""
    if algorithm is not None and algorithm not in (HPKE_SUITES if purpose == "encryption" else SIGNATURE_ALGS):
        raise click.BadParameter(f"{algorithm} is not a {purpose} algorithm", param_hint="--suite")
    if not_before is not None and not_before.tzinfo is None:
        not_before = not_before.replace(tzinfo=dt.UTC)
    with _ring(ctx, write=True) as (settings, ring):
        party = _party(settings, party)
        new, retired = rotate(ring, party, purpose, _now(), algorithm=algorithm, not_before=not_before)
        _warn_unencrypted(ring)
    _echo_json(
        {
            "party": party,
            "purpose": purpose,
            "key_id": new.key_id,
            "algorithm": new.algorithm,
            "not_before": new.not_before,
            "retiring": [e.key_id for e in retired],
        }
    )


def _status_command(name: str, status: Status, help_text: str) -> click.Command:
    @click.command(name=name, help=help_text)
    @click.option("--party", required=True)
    @click.option("--key-id", required=True)
    @click.pass_context
    def command(ctx: click.Context, party: str, key_id: str) -> None:
        with _ring(ctx, write=True) as (settings, ring):
            party = _party(settings, party)
            entry = set_status(ring, party, key_id, status)
            try:
                ring.registry.active(party, entry.purpose, _now())
                left = True
            except KeyError_:
                left = False
        if not left:
            click.echo(f"warning: {party} has no active {entry.purpose} key now: run `crx keys rotate`", err=True)
        _echo_json({"party": party, "key_id": key_id, "purpose": entry.purpose, "status": entry.status})

    return command


keys.add_command(
    _status_command("retire", "retiring", "Stop sealing to / signing with a key; it still opens and verifies.")
)
keys.add_command(
    _status_command(
        "revoke",
        "revoked",
        "Revoke a key: never used again; everything it signed is refused. Its private file is kept, unused.",
    )
)


@keys.command(name="list")
@click.option("--party", default=None)
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@click.pass_context
def keys_list(ctx: click.Context, party: str | None, as_json: bool) -> None:
    """Registered keys: ids, purpose, algorithm, status, validity. Never key material."""
    with _ring(ctx, write=False) as (settings, ring):
        rows = describe(ring, _now(), _party(settings, party) if party else None)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        flags = ",".join(f for f, on in (("in-use", row["in_use"]), ("private", row["private_key_held"])) if on)
        click.echo(
            f"{row['party']:<6} {row['key_id']} {row['purpose']:<10} {row['algorithm']:<33} {row['status']:<8} "
            f"{row['not_before']} .. {row['not_after'] or '-'} {flags}"
        )


@keys.command(name="export")
@click.option("--party", required=True)
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), help="File to write (default: stdout).")
@click.pass_context
def keys_export(ctx: click.Context, party: str, out: Path | None) -> None:
    """Write PARTY's public key bundle (JSON, signed with its active signing key when held here)."""
    with _ring(ctx, write=False) as (settings, ring):
        bundle = export_bundle(ring, _party(settings, party), _now())
    text = json.dumps(bundle, indent=2) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
    if not bundle["signatures"]:
        click.echo("warning: bundle is unsigned (this node holds no active signing key of the party)", err=True)


@keys.command(name="import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--trust", multiple=True, help="A signing key id of the party, checked out of band.")
@click.option("--allow-unsigned", is_flag=True, help="Accept a bundle with no signature (check every key id!).")
@click.pass_context
def keys_import(ctx: click.Context, file: Any, trust: tuple[str, ...], allow_unsigned: bool) -> None:
    """Add a partner's public keys from a bundle FILE ('-' for stdin), after checking ids and signatures."""
    try:
        bundle = json.load(file)
    except ValueError:
        raise click.ClickException("not a JSON key bundle") from None
    with _ring(ctx, write=True) as (_, ring):
        result = import_bundle(ring, bundle, _now(), trust=frozenset(trust), allow_unsigned=allow_unsigned)
    if result.first_contact or not result.signed_by:
        ids = ", ".join(result.added)
        click.echo(f"warning: first keys of {result.party}: confirm these key ids out of band: {ids}", err=True)
    _echo_json(result.as_dict())
