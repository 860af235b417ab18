"""``crx cases run | list | show``: the case service, and the cases as the case store holds them."""

from __future__ import annotations

import datetime as dt
import json

import click

from services.cli.common import run_command, settings_of

group = click.Group(name="cases", help="Cases: one per request and requested state, with its deadline.")
group.add_command(run_command("cases"))

_COLUMNS = {"case_id": 14, "requesting": 11, "requested": 10, "purpose": 22, "status": 23, "deadline": 17, "outcome": 0}


@group.command(name="list")
@click.option("--overdue", is_flag=True, help="Only cases past their deadline without an answer.")
@click.option("--status", "statuses", multiple=True, help="Only cases in this status (repeatable).")
@click.option("--limit", type=int, default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@click.pass_context
def list_cases(ctx: click.Context, overdue: bool, statuses: tuple[str, ...], limit: int, as_json: bool) -> None:
    """The cases in the store, the nearest deadline first."""
    from services.cases.store import OPEN, OVERDUE, STATUSES, CaseStore

    unknown = set(statuses) - set(STATUSES)
    if unknown:
        raise click.BadParameter(f"unknown status {sorted(unknown)}; one of {', '.join(STATUSES)}")
    store = CaseStore.open(settings_of(ctx))
    try:
        now = dt.datetime.now(dt.UTC)
        wanted = (OPEN, OVERDUE) if overdue else (statuses or STATUSES)
        cases = [c for c in store.listed(wanted, limit) if not overdue or c.late(now)]
    finally:
        store.close()
    rows = [{**c.as_dict(), "late": c.late(now)} for c in cases]
    if as_json:
        click.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    click.echo("  ".join(f"{name:<{width}}" for name, width in _COLUMNS.items()).rstrip())
    for row in rows:
        status = "overdue" if row["late"] and row["status"] != "answered" else row["status"]
        values = {**row, "status": status, "deadline": row["deadline"][:16], "case_id": row["case_id"][:13]}
        click.echo("  ".join(f"{values[name] or '-'!s:<{width}}" for name, width in _COLUMNS.items()).rstrip())
    click.echo(f"{len(rows)} case(s)")


@group.command(name="show")
@click.argument("case_id")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@click.pass_context
def show(ctx: click.Context, case_id: str, as_json: bool) -> None:
    """One case (by its id, or a unique prefix of it)."""
    from services.cases.store import CaseStore

    store = CaseStore.open(settings_of(ctx))
    try:
        case = store.get(case_id)
        if case is None and len(case_id) >= 6:
            matches = [c for c in store.listed() if c.case_id.startswith(case_id)]
            case = matches[0] if len(matches) == 1 else None
    finally:
        store.close()
    if case is None:
        raise click.ClickException(f"no case {case_id}")
    row = {**case.as_dict(), "late": case.late(dt.datetime.now(dt.UTC))}
    if as_json:
        click.echo(json.dumps(row, indent=2, sort_keys=True))
        return
    for name, value in row.items():
        click.echo(f"{name:<24} {value if value is not None else '-'}")
