"""``crx intake run | token | revoke``."""

from __future__ import annotations

from pathlib import Path

import click

from services.cli.common import run_command, settings_of

group = click.Group(name="intake", help="The intake: HTTP API and drop directory, publishing to the feeds.")
group.add_command(run_command("intake"))


def _jurisdiction(ctx: click.Context, jurisdiction: str) -> tuple[Path, str]:
    settings = settings_of(ctx)
    code = jurisdiction.upper()
    if code not in settings.jurisdictions:
        raise click.ClickException(f"{code} is not a configured jurisdiction ({', '.join(settings.jurisdictions)})")
    return settings.intake_tokens_path, code


@group.command(name="token")
@click.option("--jurisdiction", required=True, help="The jurisdiction the token submits as (ISO alpha-2).")
@click.option("--keep-old", is_flag=True, help="Keep the current token valid beside the new one (rotation).")
@click.pass_context
def token(ctx: click.Context, jurisdiction: str, keep_old: bool) -> None:
    """Issue a new intake bearer token for JURISDICTION and print it once; its old tokens end, unless
    --keep-old (then retire the old one with ``crx intake revoke --old`` once the national system switched).

    Only the token's SHA-256 is stored; keep the printed token in the national system's secret store.
    """
    from services.intake.tokens import TokenBook

    path, code = _jurisdiction(ctx, jurisdiction)
    click.echo(TokenBook.open(path).issue(code, keep_old=keep_old))


@group.command(name="revoke")
@click.option("--jurisdiction", required=True, help="Whose tokens end (ISO alpha-2).")
@click.option("--old", "old_only", is_flag=True, help="Only the older token of a rotation; the newest stays.")
@click.pass_context
def revoke(ctx: click.Context, jurisdiction: str, old_only: bool) -> None:
    """End JURISDICTION's intake tokens at once (a running intake refuses them at the next request)."""
    from services.intake.tokens import TokenBook

    path, code = _jurisdiction(ctx, jurisdiction)
    ended = TokenBook.open(path).revoke(code, old_only=old_only)
    click.echo(f"{ended} token(s) of {code} revoked", err=True)
