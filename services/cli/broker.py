"""``crx broker``: the embedded Kafka-protocol broker (Tansu), for development and the demo only."""

from __future__ import annotations

import contextlib
import signal
import sys

import click


@click.command(name="broker")
@click.option("--port", type=int, default=9092, show_default=True)
def broker(port: int) -> None:
    """Start the embedded Kafka-protocol broker (Tansu) on 127.0.0.1:PORT until Ctrl-C."""
    from services.devstack.embedded_broker import EmbeddedBroker, EmbeddedBrokerMissing

    try:
        embedded = EmbeddedBroker(port)
    except EmbeddedBrokerMissing as exc:
        raise click.ClickException(str(exc)) from None
    with embedded as b:
        click.echo(f"embedded broker on {b.bootstrap} (memory storage); Ctrl-C stops it", err=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
