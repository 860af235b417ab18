"""``crx envelope seal | open | inspect``: the envelope offline, for partners testing their integration.

``seal`` makes exactly what the router puts on ``crx.out.<party>`` (same Sealer, same signature), ``open``
does exactly what the partner client does before decoding (same Opener: signature, channel, recipient, key
status, HPKE). Neither prints personal data: metadata goes to stderr, payloads only to files or stdout as
asked.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import click

from services.cli.common import keyring_of, settings_of
from services.kernel.envelope import Opener, SealContext, Sealer
from services.kernel.errors import CrxError


def _write(data: bytes, out: Path | None) -> None:
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        out.write_bytes(data)


def _metadata(env: dict[str, Any]) -> str:
    """The envelope's non-personal fields, as one JSON line."""
    shown = ("message_id", "correlation_id", "channel", "sender", "recipient", "recipient_key_id", "suite",
             "content_type", "signer", "signer_key_id")  # fmt: skip
    meta = {name: env.get(name) for name in shown}
    meta["schema_fingerprint"] = (env.get("schema_fingerprint") or b"").hex()
    meta["created_at"] = str(env.get("created_at"))
    meta["sealed_bytes"] = len(env.get("sealed") or b"")
    return json.dumps(meta, sort_keys=True)


@click.group()
def envelope() -> None:
    """Seal, open and inspect crx envelopes offline (schemas/ENVELOPE.md)."""


@envelope.command()
@click.option("--to", "recipient", required=True, help="The recipient party (its active encryption key is used).")
@click.option("--in", "source", required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--out", type=click.Path(path_type=Path), help="Write the envelope here (default: stdout).")
@click.option("--as", "signer", help="Sign as this party (default: the broker party; needs its private key).")
@click.option("--channel", help="Logical channel bound into the envelope (default: out.<recipient>).")
@click.option("--message-id", help="Message id (default: a random UUID).")
@click.option("--content-type", default="application/octet-stream", show_default=True)
@click.pass_context
def seal(
    ctx: click.Context,
    recipient: str,
    source: Path,
    out: Path | None,
    signer: str | None,
    channel: str | None,
    message_id: str | None,
    content_type: str,
) -> None:
    """Seal the bytes of --in to RECIPIENT, signed, as the router would."""
    settings = settings_of(ctx)
    ring = keyring_of(settings)
    to = recipient.upper()
    sender = (signer or settings.broker_party).strip()
    seal_ctx = SealContext(
        channel=channel or f"out.{to}",
        message_id=message_id or str(uuid.uuid4()),
        correlation_id=message_id or "offline",
        sender=sender,
        recipient=to,
        content_type=content_type,
    )
    try:
        sealed = Sealer(ring.registry, ring.store, sender).seal(source.read_bytes(), seal_ctx, dt.datetime.now(dt.UTC))
        meta = _metadata(Opener(ring.registry, ring.store, to).parse(sealed))
    except CrxError as exc:
        raise click.ClickException(f"{exc.reason_code}: {exc.detail}") from None
    _write(sealed, out)
    click.echo(meta, err=True)


@envelope.command(name="open")
@click.option("--as", "party", required=True, help="Your party id: the envelope must be addressed to it.")
@click.option("--in", "source", required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--out", type=click.Path(path_type=Path), help="Write the plaintext here (default: stdout).")
@click.option("--channel", help="The channel you expect (default: out.<party>).")
@click.option("--from", "signer", help="The party whose signature is required (default: the broker party).")
@click.pass_context
def open_(
    ctx: click.Context, party: str, source: Path, out: Path | None, channel: str | None, signer: str | None
) -> None:
    """Verify and open an envelope addressed to PARTY, as the partner client does.

    Every failure (bad signature, other channel or recipient, revoked or unknown key, altered byte) gives
    the same opaque error and exit status 1, by design.
    """
    settings = settings_of(ctx)
    ring = keyring_of(settings)
    me = party.upper()
    opener = Opener(ring.registry, ring.store, me)
    try:
        opened = opener.open(
            source.read_bytes(),
            channel=channel or f"out.{me}",
            now=dt.datetime.now(dt.UTC),
            signers=frozenset({signer or settings.broker_party}),
        )
    except CrxError as exc:
        click.echo(f"refused: {exc.reason_code}: {exc.detail}", err=True)
        sys.exit(1)
    click.echo(_metadata(opened.envelope), err=True)
    _write(opened.plaintext, out)


@envelope.command()
@click.option("--in", "source", required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
def inspect(source: Path) -> None:
    """Print an envelope's routing fields (nothing is verified or decrypted)."""
    from schemas import ENVELOPE
    from services.kernel.codec import codec

    try:
        env = codec(ENVELOPE).decode(source.read_bytes())
    except CrxError as exc:
        click.echo(f"refused: {exc.reason_code}: {exc.detail}", err=True)
        sys.exit(1)
    click.echo(_metadata(env))
