"""``crx retention run``: purge crx's own copies that are past their retention (see ``services/retention``)."""

from __future__ import annotations

import datetime as dt

import click

from services.cli.common import settings_of
from services.kernel.errors import CrxError

group = click.Group(name="retention", help="Retention of crx's own copies of national data.")


def _instant(value: str | None) -> dt.datetime:
    """``value`` (ISO 8601, UTC unless it carries an offset), or the current time."""
    if value is None:
        return dt.datetime.now(dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("takes an ISO 8601 date or time", param_hint="--now") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@group.command(name="run")
@click.option("--dry-run", is_flag=True, help="Count what is due; delete nothing.")
@click.option("--now", "now", help="The instant to judge ages at (ISO 8601; default: now).")
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@click.option(
    "--key-epochs",
    is_flag=True,
    help="Also rotate the broker's encryption key when its epoch is over and destroy the keys no retained copy"
    " may still need (only where the key store's master copy lives).",
)
@click.pass_context
def run(ctx: click.Context, dry_run: bool, now: str | None, as_json: bool, key_epochs: bool) -> None:
    """Purge, per store, what is past its retention: the drop directory's done/ and failed/ files, the intake
    store, the demo's partner outputs (erasure receipts are left owed to the partner service); report dead letters.
    Prints counts per store, never file names or record ids. The services do the same every
    retention_check_seconds; this runs it now, or shows what is due (--dry-run)."""
    from services.retention.run import run_retention

    try:
        report = run_retention(settings_of(ctx), _instant(now), dry_run=dry_run, key_epochs=key_epochs)
    except CrxError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(report.as_json() if as_json else report.as_text())
