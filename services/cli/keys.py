"""``crx keys generate | rotate | retire | revoke | destroy | epoch | list | export | import``: key
administration.

The operations are in ``services.keys.lifecycle``, ``services.keys.epochs`` and ``services.keys.bundles``;
these commands only parse, lock the registry, call them and print.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from services.cli.common import passphrase_of, settings_of
from services.kernel.config import Settings
from services.kernel.errors import CrxError, KeyUnavailable
from services.kernel.producers import component_of
from services.kernel.suites import DEFAULT_HPKE, DEFAULT_SIGNATURE, HPKE_SUITES, SIGNATURE_ALGS
from services.keys.bundles import export_bundle, import_bundle
from services.keys.epochs import check_destroyable, destroy, run_epoch
from services.keys.lifecycle import describe, generate, generate_component, generate_components, rotate, set_status
from services.keys.ring import (
    KeyRing,
    PrivateKeyStore,
    Purpose,
    Status,
    editing,
)

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


@contextlib.contextmanager
def _file_errors() -> Iterator[None]:
    """A private key file that cannot be overwritten or removed: one line, the key's status unchanged."""
    try:
        yield
    except OSError as exc:
        raise click.ClickException(f"key store: {exc.strerror or exc} ({exc.filename})") from None


def _party(settings: Settings, party: str) -> str:
    """The broker's own id and its components' (``crx.router``) as given; partner ids upper-cased (ISO 3166-1
    alpha-2)."""
    return party if party == settings.broker_party or _component(settings, party) else party.upper()


def _component(settings: Settings, party: str) -> bool:
    """True when ``party`` names one of this broker's components (``<broker party>.<component>``)."""
    return component_of(party) is not None and party.rpartition(".")[0] == settings.broker_party


def _warn_unencrypted(ring: KeyRing) -> None:
    if not ring.store.encrypted:
        click.echo("warning: CRX_KEY_PASSPHRASE is not set: private keys are stored unencrypted", err=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=None, sort_keys=True))


@click.group(name="keys")
def keys() -> None:
    """Keys: generate, rotate, retire, revoke, destroy, epoch, list; export and import public key bundles."""


@keys.command(name="generate")
@click.option("--party", required=True, help="The party (the broker's id, or a jurisdiction).")
@click.option("--suite", type=click.Choice(sorted(HPKE_SUITES)), default=DEFAULT_HPKE, show_default=True)
@click.option("--signature", type=click.Choice(sorted(SIGNATURE_ALGS)), default=DEFAULT_SIGNATURE, show_default=True)
@click.pass_context
def keys_generate(ctx: click.Context, party: str, suite: str, signature: str) -> None:
    """Generate an encryption and a signing key for PARTY and register them (private keys stay local).

    For the broker itself, also a signing key (Ed25519) for each of its components that has none
    (``crx.intake``, ``crx.normaliser`` ...: what authenticates the batches each one produces); for one
    component's party id, that component's signing key alone.
    """
    with _ring(ctx, write=True) as (settings, ring):
        party = _party(settings, party)
        if _component(settings, party):
            entry = generate_component(ring, party, _now())
            _warn_unencrypted(ring)
            _echo_json({"party": party, "signing_key_id": entry.key_id})
            return
        enc, sig = generate(ring, party, _now(), hpke=suite, signature=signature)
        result: dict[str, Any] = {"party": party, "encryption_key_id": enc.key_id, "signing_key_id": sig.key_id}
        if party == settings.broker_party:
            made = generate_components(ring, party, _now())
            result["components"] = {e.party: e.key_id for e in made}
        _warn_unencrypted(ring)
    _echo_json(result)


@keys.command(name="rotate")
@click.option("--party", required=True)
@click.option(
    "--purpose",
    type=click.Choice(["encryption", "signing"]),
    help="Default: encryption (signing for a component, which has no other key).",
)
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
    ctx: click.Context, party: str, purpose: Purpose | None, algorithm: str | None, not_before: dt.datetime | None
) -> None:
    """Make a new active key for PARTY; the previous one becomes retiring (its private key is kept)."""
    settings = settings_of(ctx)
    party = _party(settings, party)
    if purpose is None:
        purpose = "signing" if _component(settings, party) else "encryption"
    if algorithm is not None and algorithm not in (HPKE_SUITES if purpose == "encryption" else SIGNATURE_ALGS):
        raise click.BadParameter(f"{algorithm} is not a {purpose} algorithm", param_hint="--suite")
    if not_before is not None and not_before.tzinfo is None:
        not_before = not_before.replace(tzinfo=dt.UTC)
    with _ring(ctx, write=True) as (_, ring):
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
            except KeyUnavailable:
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


@keys.command(name="destroy")
@click.option("--party", required=True)
@click.argument("key_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Even before the key's needed-until time: its envelopes become unreadable.")
@click.pass_context
def keys_destroy(ctx: click.Context, party: str, key_id: str, yes: bool, force: bool) -> None:
    """Destroy encryption key KEY_ID of PARTY for good (crypto-shredding): its private file is overwritten and
    deleted, its status becomes destroyed (audited). Refused while the key may still be needed: active, no
    newer key yet, or copies sealed to it may still be kept (see `crx keys epoch --dry-run`)."""
    settings = settings_of(ctx)
    party = _party(settings, party)
    with _ring(ctx, write=False) as (_, ring):
        check_destroyable(ring, settings, party, key_id, _now(), force=force)
    if not yes:
        click.confirm(
            f"Destroy key {key_id} of {party}? Everything sealed to it becomes unreadable", abort=True, err=True
        )
    with _file_errors(), _ring(ctx, write=True) as (_, ring):
        held = ring.store.holds(party, key_id)
        entry = destroy(ring, settings, party, key_id, _now(), force=force)
    _echo_json({"party": party, "key_id": key_id, "status": entry.status, "private_key_overwritten": held})


@keys.command(name="epoch")
@click.option("--dry-run", is_flag=True, help="Change nothing: show what is due.")
@click.pass_context
def keys_epoch(ctx: click.Context, dry_run: bool) -> None:
    """The broker's key epoch: rotate its encryption key once it is CRX_BROKER_KEY_EPOCH_DAYS old, and destroy
    the old ones nothing may still need (after the longest internal retention). Prints what it did, and until
    when each remaining key is kept (null: while in use)."""
    settings = settings_of(ctx)
    with _file_errors():
        try:
            report = run_epoch(settings, _now(), dry_run=dry_run)
        except CrxError as exc:
            raise click.ClickException(exc.detail) from None
    _echo_json(report.as_dict())


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
            f"{row['party']:<6} {row['key_id']} {row['purpose']:<10} {row['algorithm']:<33} {row['status']:<9} "
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
