"""``crx intake run | token``."""

from __future__ import annotations

import click

from services.cli.common import run_command, settings_of

group = click.Group(name="intake", help="The intake: HTTP API and drop directory, publishing to the feeds.")
group.add_command(run_command("intake"))


@group.command(name="token")
@click.option("--jurisdiction", required=True, help="The jurisdiction the token submits as (ISO alpha-2).")
@click.pass_context
def token(ctx: click.Context, jurisdiction: str) -> None:
    """Issue a new intake bearer token for JURISDICTION (replacing its old one) and print it once.

    Only the token's SHA-256 is stored; keep the printed token in the national system's secret store.
    """
    from services.intake.tokens import TokenBook

    settings = settings_of(ctx)
    code = jurisdiction.upper()
    if code not in settings.jurisdictions:
        raise click.ClickException(f"{code} is not a configured jurisdiction ({', '.join(settings.jurisdictions)})")
    click.echo(TokenBook.open(settings.intake_tokens_path).issue(code))
