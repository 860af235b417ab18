"""``crx ledger rebuild | show``: the disclosure ledger rebuilt from the audit log, and what it holds.

Neither command prints personal data: records are named by their opaque key (``services.kernel.recordkey``).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from services.cli.common import settings_of

group = click.Group(name="ledger", help="The disclosure ledger: which version of which record went to whom.")

_TYPES = {"NOTIFICATION": "N", "UPDATE": "U", "DELETION": "D"}


@group.command(name="rebuild")
@click.option("--dry-run", is_flag=True, help="Say what would be added; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_context
def rebuild(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Add to the ledger every disclosure the audit log holds and the ledger lacks (after a lost or restored
    ledger database). The audit log is verified against its checkpoint key first; a log that does not verify
    is refused. Rows the ledger holds and the log does not are reported, never removed."""
    from services.audit.notekey import load_note_verifiers
    from services.audit.store import open_store
    from services.ledger.rebuild import plan
    from services.ledger.store import DisclosureLedger

    settings = settings_of(ctx)
    store = open_store(settings, create=False)
    ledger = DisclosureLedger.open(settings)
    try:
        verified = store.verify(load_note_verifiers(settings))
        if not verified.ok:
            raise click.ClickException(f"the audit log does not verify ({verified.problem}): nothing rebuilt")
        found = plan(ledger, store.leaves())
        if not dry_run:
            ledger.add(found.missing)
    finally:
        ledger.close()
        store.close()
    outcome = {
        "dry_run": dry_run,
        "logged": len(found.logged),
        "missing": len(found.missing),
        "added": 0 if dry_run else len(found.missing),
        "unlogged": len(found.unlogged),
    }
    if as_json:
        click.echo(json.dumps(outcome, sort_keys=True))
        return
    verb = "would add" if dry_run else "added"
    click.echo(f"audit log: {outcome['logged']} disclosure(s); ledger lacked {outcome['missing']}: {verb} them")
    if found.unlogged:
        click.echo(f"{len(found.unlogged)} ledger row(s) not in the audit log (kept; see services/ledger/README.md)")


@group.command(name="show")
@click.option("--key", "keys", multiple=True, help="Only this record key (hex; repeatable; a unique prefix will do).")
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@click.pass_context
def show(ctx: click.Context, keys: tuple[str, ...], as_json: bool) -> None:
    """Per record key, the versions each recipient was sent (N notification, U update, D deletion; a deletion
    after the content of its version) and what it holds as far as crx knows: the latest version and until when
    (``ended``: its retention end has come, the recipient must have erased it), or erased."""
    from services.ledger.store import DisclosureLedger

    today = dt.datetime.now(dt.UTC).date().isoformat()
    ledger = DisclosureLedger.open(settings_of(ctx))
    try:
        rows = [r for r in ledger.rows() if not keys or any(r.record_key.startswith(k.lower()) for k in keys)]
    finally:
        ledger.close()
    records: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in sorted(rows, key=lambda r: (r.record_key, r.recipient, r.version, r.message_type == "DELETION")):
        entry: dict[str, Any] = {"version": r.version, "message_type": r.message_type, "agreement": r.agreement,
                "retention_end": r.retention_end.isoformat() if r.retention_end else None}  # fmt: skip
        records.setdefault(r.record_key, {}).setdefault(r.recipient, []).append(entry)
    if as_json:
        listed = [{"record_key": key, "recipients": recipients} for key, recipients in records.items()]
        click.echo(json.dumps(listed, indent=2, sort_keys=True))
        return
    click.echo(f"{'record key':<34}{'recipient':<11}{'versions':<28}holds")
    for key, recipients in records.items():
        for recipient, sent in recipients.items():
            versions = " ".join(f"{s['version']}{_TYPES.get(s['message_type'], '?')}" for s in sent)
            click.echo(f"{key:<34}{recipient:<11}{versions:<28}{_holds(sent[-1], today)}")
    click.echo(f"{len(records)} record(s), {len(rows)} disclosure(s)")


def _holds(last: dict[str, Any], today: str) -> str:
    """What a recipient holds, as far as crx knows, given the last disclosure it was sent."""
    if last["message_type"] == "DELETION":
        return "erased"
    end = last["retention_end"]
    return f"v{last['version']} until {end}" + (" (ended)" if end is not None and end <= today else "")
