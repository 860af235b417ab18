"""``crx partner consume``: the partner side, receiving records addressed to one party."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from services.cli.common import settings_of
from services.kernel.errors import CrxError


@click.group(name="partner")
def group() -> None:
    """The partner side: receive records addressed to you."""


@group.command()
@click.option("--as", "party", required=True, help="Your party id (e.g. FR).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Directory for JSON records.")
@click.option("--metrics-port", type=int, default=0)
@click.pass_context
def consume(ctx: click.Context, party: str, out_dir: Path, metrics_port: int) -> None:
    """Verify, decrypt and store records for PARTY; send signed receipts. Runs until SIGTERM/SIGINT.

    With CRX_AUDIT_API_URL set (and the log's verifier key in <keys_dir>/audit-note.vkey), also proves that
    every delivery and receipt is in the audit log and that the log's history never changes.
    """
    from services.kernel.lifecycle import run_until_stopped
    from services.kernel.logging import configure_logging
    from services.kernel.runtime import Ports, Runtime
    from services.partner.client import build

    settings = settings_of(ctx)
    configure_logging(settings.log_level)
    try:
        service = build(Runtime.create(settings), ports=Ports(metrics_port), party=party.upper(), sink=out_dir)
    except CrxError as exc:
        raise click.ClickException(f"{exc.reason_code}: {exc.detail}") from None
    asyncio.run(run_until_stopped([service]))
