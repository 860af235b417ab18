"""``crx dlq list | replay``: the dead-letter topic on the command line (see ``services/dlq/replay.py``)."""

from __future__ import annotations

import asyncio
import json
import sys

import click

from services.cli.common import keyring_of, settings_of
from services.kernel.errors import CrxError


@click.group()
def dlq() -> None:
    """Dead letters: list them, replay one once its cause is fixed."""


@dlq.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def dlq_list(ctx: click.Context, as_json: bool) -> None:
    """List every dead letter: id, stage, typed reason, source, whether its payload was kept (never the payload).

    Records on crx.dlq that no crx component authenticated are not listed: their count per reason is printed
    on stderr.
    """
    from services.dlq.replay import scan_dead_letters, summary

    settings = settings_of(ctx)
    scan = asyncio.run(scan_dead_letters(settings, keyring_of(settings).registry))
    letters = [summary(letter) for letter in scan.letters]
    for s in sorted(letters, key=lambda s: s["occurred_at"]):
        if as_json:
            click.echo(json.dumps(s, sort_keys=True))
        else:
            kept = "replayable" if s["replayable"] else "payload not kept"
            click.echo(f"{s['dead_letter_id']}  {s['stage']:<10} {s['reason']:<22} {s['source']}  {kept}")
    click.echo(f"{len(letters)} dead letter(s)", err=True)
    if scan.refused:
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(scan.refused_by_reason().items()))
        click.echo(f"{len(scan.refused)} record(s) refused, not authenticated by a crx component: {reasons}", err=True)


@dlq.command(name="replay")
@click.argument("dead_letter_id")
@click.option("--adapter", help="For a payload refused at the door: the adapter to submit it with.")
@click.pass_context
def dlq_replay(ctx: click.Context, dead_letter_id: str, adapter: str | None) -> None:
    """Send DEAD_LETTER_ID's original bytes again, audited; prints where they went.

    Signs what it produces as the dlq component (its key alone is loaded). A record claiming this id that no
    crx component authenticated is refused, and the refusal audited.
    """
    from services.dlq.replay import ReplayError, refuse_unauthenticated, replay, scan_dead_letters
    from services.kernel.kafka import Producer
    from services.kernel.runtime import Runtime

    settings = settings_of(ctx)
    runtime = Runtime.create(settings)

    async def go() -> dict[str, object]:
        scan = await scan_dead_letters(settings, runtime.keyring.registry)
        letter = next((x for x in scan.letters if x["dead_letter_id"] == dead_letter_id), None)
        forged = next((r for r in scan.refused if r.claimed_id == dead_letter_id), None)
        if letter is None and forged is None:
            raise ReplayError("no dead letter with this id")
        producer = Producer(settings, signer=runtime.signer("dlq"))
        await producer.start()
        try:
            if letter is None:
                assert forged is not None
                await refuse_unauthenticated(settings, producer, runtime.audit_secret, forged)
            done = await replay(settings, runtime.keyring, producer, runtime.audit_secret, letter, adapter)
        finally:
            await producer.stop()
        sub = done.submission
        return {"dead_letter_id": done.dead_letter_id, "topic": done.topic,
                "submission_id": sub.submission_id if sub else letter["submission_id"],
                "accepted": sub.accepted if sub else True, "reason": sub.reason if sub else None}  # fmt: skip

    try:
        click.echo(json.dumps(asyncio.run(go()), sort_keys=True))
    except CrxError as exc:
        click.echo(f"refused: {exc.reason_code}: {exc.detail}", err=True)
        sys.exit(1)
