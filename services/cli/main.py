"""The ``crx`` command: the root group, and every command group registered from one list.

Each module of this package holds one command group (or one command) and nothing else: domain logic lives
in the service packages, and heavy imports happen inside the commands, so ``crx --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from services.cli import adapters, audit, broker, demo, dlq, envelope, intake, keys, normaliser, partner, push, router


@click.group()
@click.option("--config", type=click.Path(path_type=Path, exists=True), help="TOML settings file.")
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """crx: exchange criminal-record information between jurisdictions."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config


COMMANDS: tuple[click.Command, ...] = (
    intake.group,
    normaliser.group,
    router.group,
    audit.group,
    partner.group,
    push.push,
    adapters.group,
    keys.keys,
    envelope.envelope,
    dlq.dlq,
    demo.demo,
    broker.broker,
)
for _command in COMMANDS:
    main.add_command(_command)
