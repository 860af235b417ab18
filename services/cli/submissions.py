"""``crx submissions show ID [--json] [--as JURISDICTION]``: what became of a submission, with its evidence.

Where it asks:

- a national system (``CRX_INTAKE_URL`` and ``CRX_INTAKE_TOKEN`` set: the broker's intake and this
  jurisdiction's bearer token, as ``crx intake token`` printed it) asks the running intake's
  ``GET /v1/submissions/{id}``, which answers only its own submissions;
- otherwise (an operator of the broker) it reads the audit log as the intake does: its database (``audit_db``,
  by default in the data directory; never created), or the audit API at ``CRX_AUDIT_API_URL`` when set;
  ``--as`` then shows the submission only if that jurisdiction submitted it, as the intake answers it.

The answer is the JSON of ``services.intake.status`` (``--json``) or a summary of it. Exits 1 when the
submission is unknown (or not the jurisdiction's), or when the intake or the log cannot be read.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

import click

from services.cli.common import settings_of
from services.kernel.config import Settings

group = click.Group(name="submissions", help="Submissions to the intake: their status and evidence.")

TIMEOUT_SECONDS = 30.0


async def _remote(settings: Settings, submission_id: str) -> dict[str, Any] | None:
    """The intake's answer (None: 404). Raises ClickException for any other failure."""
    import aiohttp

    assert settings.intake_url is not None and settings.intake_token is not None
    url = f"{settings.intake_url.rstrip('/')}/v1/submissions/{quote(submission_id, safe='')}"
    headers = {"Authorization": f"Bearer {settings.intake_token.reveal()}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)) as http,
            http.get(url, headers=headers) as response,
        ):
            if response.status == 404:
                return None
            if response.status != 200:
                raise click.ClickException(f"the intake at {settings.intake_url} answered {response.status}")
            answer: dict[str, Any] = await response.json()
            return answer
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise click.ClickException(
            f"the intake at {settings.intake_url} is not reachable ({type(exc).__name__})"
        ) from None


async def _local(settings: Settings, submission_id: str, reader: str | None) -> dict[str, Any] | None:
    """The answer from the audit log (its database ``audit_db``, or its API at ``audit_api_url`` when set)
    and the case store."""
    from services.cases.status import StoreCases
    from services.cases.store import CaseStore
    from services.intake.evidence import evidence_source
    from services.intake.status import SubmissionStatus

    cases = CaseStore.open(settings)
    status = SubmissionStatus(evidence_source(settings), cases=StoreCases(cases))
    try:
        return await status.answer(submission_id, reader)
    finally:
        await status.close()
        cases.close()


def _proved(item: dict[str, Any]) -> str:
    evidence = item.get("evidence")
    if evidence is None:
        return "awaiting the next checkpoint" if item.get("pending_checkpoint") else "not logged"
    return f"leaf {evidence['leaf_index']} of {evidence['tree_size']}"


def summary(answer: dict[str, Any]) -> str:
    """A readable account of a status answer: state, records, disclosures with receipts, refusals, dead
    letters, and the checkpoint every proof leads to."""
    lines = [
        f"submission {answer['submission_id']} from {answer['jurisdiction'] or '?'}: {answer['state']}",
        f"  accepted at {answer['accepted_at'] or '(not logged yet)'}",
    ]
    for record in answer["records"]:
        lines.append(f"  record {record['message_id']} ({record['message_type'] or '?'})")
        for d in record["disclosures"]:
            receipt = d["receipt"]
            got = "no receipt yet" if receipt is None else f"receipt {receipt['outcome']} at {receipt['received_at']}"
            lines.append(f"    disclosed to {d['recipient']} under {d['rule']} at {d['disclosed_at']} [{_proved(d)}]")
            lines.append(f"      {got}" + ("" if receipt is None else f" [{_proved(receipt)}]"))
        for r in record["refusals"]:
            rule = f" (rule {r['rule']})" if r["rule"] else ""
            lines.append(f"    refused for {r['recipient'] or 'every recipient'}: {r['reason']}{rule}")
    for letter in answer["dead_letters"]:
        lines.append(f"  dead-lettered by {letter['stage']}: {letter['reason']} [{_proved(letter)}]")
    for case in answer["cases"]:
        late = " (late)" if case.get("late") else ""
        lines.append(
            f"  case {case['case_id']}: {case['requesting']} asked {case['requested']} ({case['purpose']}),"
            f" {case['status']}{late}, deadline {case['deadline']}"
            + (f", {case['outcome']}" if case["outcome"] else "")
        )
    log = answer.get("log")
    if answer.get("checkpoint") and log:
        lines.append(f"  proofs lead to the checkpoint of {log['origin']} at size {log['tree_size']}")
        lines.append(f"  verifier key: {log['verifier_key'] or '(not known here: get it from the operator)'}")
    else:
        lines.append("  no signed checkpoint covers it yet")
    return "\n".join(lines)


@group.command(name="show")
@click.argument("submission_id")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON (with the proofs).")
@click.option("--as", "reader", help="Show it only if this jurisdiction submitted it (as the intake answers it).")
@click.pass_context
def show(ctx: click.Context, submission_id: str, as_json: bool, reader: str | None) -> None:
    """Show what became of SUBMISSION_ID: its state, each delivery with the partner's receipt, refusals and
    dead letters, with inclusion proofs to a signed checkpoint."""
    settings = settings_of(ctx)
    reader = reader.upper() if reader else None
    remote = bool(settings.intake_url)
    if remote and settings.intake_token is None:
        raise click.ClickException("CRX_INTAKE_URL is set without CRX_INTAKE_TOKEN (the jurisdiction's intake token)")
    # a crx error (the log unreadable, say) is one line, by the root group
    answer = asyncio.run(_remote(settings, submission_id) if remote else _local(settings, submission_id, reader))
    if answer is None:
        whose = reader or ("this token" if remote else None)
        raise click.ClickException(f"no submission {submission_id}" + (f" of {whose}" if whose else ""))
    if reader is not None and answer["jurisdiction"] != reader:
        raise click.ClickException(f"submission {submission_id} is {answer['jurisdiction']}'s, not {reader}'s")
    click.echo(json.dumps(answer, indent=2) if as_json else summary(answer))
