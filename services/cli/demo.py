"""``crx demo``: the whole pipeline on embedded defaults, with the sample feeds pushed through it (``make run``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from services.cli.common import settings_of
from services.kernel.logging import configure_logging


@click.command(name="demo")
@click.option("--once", is_flag=True, help="Exit after the samples are accounted for.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the accounting.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path("var/demo"), show_default=True)
@click.option("--bootstrap", default=None, help="Use this Kafka instead of starting the embedded broker.")
@click.option("--metrics-port", type=int, default=9401, show_default=True, help="First ops port (0: any free).")
@click.option("--intake-port", type=int, default=8088, show_default=True, help="HTTP intake port (0: any free).")
@click.option("--audit-port", type=int, default=8089, show_default=True, help="Audit proof API port (0: any free).")
@click.option("--lookup-port", type=int, default=8090, show_default=True, help="Lookup API port (0: any free).")
@click.pass_context
def demo(
    ctx: click.Context,
    once: bool,
    as_json: bool,
    data_dir: Path,
    bootstrap: str | None,
    metrics_port: int,
    intake_port: int,
    audit_port: int,
    lookup_port: int,
) -> None:
    """Run the whole pipeline on embedded defaults and push the sample feeds through it."""
    from services.devstack.demo import DEMO_PARTIES, run_demo
    from services.devstack.embedded_broker import EmbeddedBroker, EmbeddedBrokerMissing
    from services.devstack.pipeline import Pipeline, ensure_keys

    try:
        embedded = None if bootstrap or os.environ.get("CRX_KAFKA_BOOTSTRAP") else EmbeddedBroker()
    except EmbeddedBrokerMissing as exc:
        raise click.ClickException(str(exc)) from None
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "logs").mkdir(exist_ok=True)
    log_file = open(data_dir / "logs" / "crx.log", "a", encoding="utf-8")  # noqa: SIM115 - lives for the process
    configure_logging("INFO", log_file)
    overrides: dict[str, Any] = {"data_dir": data_dir, "audit_db": None}
    if embedded is not None:
        embedded.start()
        overrides["kafka_bootstrap"] = embedded.bootstrap
    elif bootstrap:
        overrides["kafka_bootstrap"] = bootstrap
    try:
        settings = settings_of(ctx, **overrides)
        if not as_json:
            click.echo(f"kafka: {settings.kafka_bootstrap}{' (embedded Tansu)' if embedded else ''}")
        keyring = ensure_keys(settings, (settings.broker_party, *DEMO_PARTIES), dt.datetime.now(dt.UTC))
        pipeline = Pipeline.build(
            settings,
            keyring,
            partners=DEMO_PARTIES,
            base_port=metrics_port,
            intake_port=intake_port,
            audit_api_port=audit_port,
            lookup_port=lookup_port,
        )
        code = asyncio.run(
            _with_signals(lambda stop: run_demo(settings, pipeline, once=once, as_json=as_json, stop=stop))
        )
    finally:
        if embedded is not None:
            embedded.stop()
    sys.exit(code)


async def _with_signals(body: Any) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    result: int = await body(stop)
    return result
