"""The ``crx`` command: the root group, and every command group registered from one list.

Each module of this package holds one command group (or one command) and nothing else: domain logic lives
in the service packages, and heavy imports happen inside the commands, so ``crx --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from services.cli import (
    adapters,
    audit,
    broker,
    cases,
    demo,
    dlq,
    envelope,
    intake,
    keys,
    ledger,
    lookup,
    lookup_keys,
    normaliser,
    partner,
    push,
    retention,
    router,
    submissions,
)
from services.cli.common import quiet_kafka_client, settings_of
from services.kernel.errors import CrxError


class CrxGroup(click.Group):
    """The root group: a command that needs Kafka while it is out of reach says so in one line (exit 1),
    naming the bootstrap servers and the error class; a crx error is its reason code and detail (which never
    hold record content). Never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; KafkaError and CrxError become one ClickException each."""
        from aiokafka.errors import KafkaError

        try:
            return super().invoke(ctx)
        except CrxError as exc:
            raise click.ClickException(f"{exc.reason_code}: {exc.detail}") from None
        except KafkaError as exc:
            try:
                bootstrap = settings_of(ctx).kafka_bootstrap
            except click.ClickException:
                bootstrap = "the configured bootstrap servers"
            raise click.ClickException(f"Kafka at {bootstrap} is not reachable ({type(exc).__name__})") from None


@click.group(cls=CrxGroup)
@click.option("--config", type=click.Path(path_type=Path, exists=True), help="TOML settings file.")
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """crx: exchange criminal-record information between jurisdictions."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config
    quiet_kafka_client()  # one-shot commands: an unreachable Kafka is one line (CrxGroup)


COMMANDS: tuple[click.Command, ...] = (
    intake.group,
    normaliser.group,
    router.group,
    cases.group,
    audit.group,
    ledger.group,
    lookup.lookup,
    partner.group,
    push.push,
    submissions.group,
    adapters.group,
    keys.keys,
    envelope.envelope,
    dlq.dlq,
    retention.group,
    demo.demo,
    broker.broker,
)
for _command in COMMANDS:
    main.add_command(_command)

lookup.lookup.add_command(lookup_keys.keys)
lookup.lookup.add_command(lookup_keys.reindex)
