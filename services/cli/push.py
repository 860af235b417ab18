"""``crx push``: national payload files onto a jurisdiction's feed, as the intake would publish them."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click

from services.cli.common import quiet_kafka_client, settings_of
from services.kernel.logging import configure_logging


@click.command(name="push")
@click.option("--jurisdiction", required=True, help="The submitting jurisdiction (ISO alpha-2).")
@click.option("--adapter", required=True, help="The feed format, e.g. json-v1.")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.pass_context
def push(ctx: click.Context, jurisdiction: str, adapter: str, files: tuple[Path, ...]) -> None:
    """Push national payload FILES to the jurisdiction's feed (sealed to the broker).

    What it produces is signed as the broker's intake where this key store holds the intake's key (the
    operator pushing for a jurisdiction), else as the jurisdiction itself where it holds the jurisdiction's
    signing key (a national system pushing with its own store); with neither, nothing is sent.
    """
    from services.intake.publisher import FeedPublisher, Submission
    from services.kernel.batchauth import BatchSigner
    from services.kernel.kafka import Producer
    from services.kernel.runtime import Runtime

    settings = settings_of(ctx)
    configure_logging(settings.log_level)
    quiet_kafka_client()
    runtime = Runtime.create(settings)
    signer = runtime.signer("intake")
    if not runtime.keyring.holds_private_signing_key(signer.party, dt.datetime.now(dt.UTC)):
        signer = BatchSigner(jurisdiction.upper(), runtime.keyring)  # Producer.start says so if not held either

    async def go() -> list[Any]:
        producer = Producer(settings, signer=signer)
        await producer.start()
        try:
            publisher = FeedPublisher(settings, runtime.keyring, producer, runtime.audit_secret)
            subs = [Submission(jurisdiction.upper(), adapter, f.read_bytes()) for f in files]
            return await publisher.publish(subs, dt.datetime.now(dt.UTC))
        finally:
            await producer.stop()

    results = asyncio.run(go())
    for f, r in zip(files, results, strict=True):
        click.echo(
            json.dumps({"file": str(f), "submission_id": r.submission_id, "accepted": r.accepted, "reason": r.reason})
        )
    sys.exit(0 if all(r.accepted for r in results) else 1)
