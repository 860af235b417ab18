"""``crx adapters list | parse``: the registered feed adapters, and parsing a feed offline."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

from services.kernel.errors import CrxError


@click.group(name="adapters")
def group() -> None:
    """The registered feed adapters."""


@group.command(name="list")
def adapters_list() -> None:
    """List the registered adapters."""
    from adapters.base import available

    for name in available():
        click.echo(name)


@group.command(name="parse")
@click.argument("adapter_name", metavar="ADAPTER")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--jurisdiction", help="The sending jurisdiction (default: the file name's 'XX-' prefix).")
@click.option("--json", "as_json", is_flag=True, help="Print the canonical records in full, one JSON per line.")
def adapters_parse(adapter_name: str, file: Path, jurisdiction: str | None, as_json: bool) -> None:
    """Parse FILE with ADAPTER and print the canonical records it yields (for testing a feed offline).

    Without --json prints one summary line per record (ids, type, counts and categories: no names). Exits 1
    with the adapter's typed error (reason code and message) when the file is refused.
    """
    from adapters.base import ParseContext, get_adapter
    from schemas import CANONICAL_RECORD
    from services.kernel.codec import typed_codec
    from services.normaliser.service import unmapped_codes

    sender = (jurisdiction or file.name.split("-", 1)[0]).upper()
    if len(sender) != 2 or not sender.isalpha():
        raise click.UsageError("give --jurisdiction (the file name does not start with 'XX-')")
    try:
        adapter = get_adapter(adapter_name)
        records = adapter.parse(file.read_bytes(), ParseContext(sender, dt.datetime.now(dt.UTC)))
        canonical = typed_codec(CANONICAL_RECORD)
        for record in records:
            canonical.encode(record)  # schema-valid, as the normaliser requires
    except CrxError as exc:
        click.echo(f"refused: {exc.reason_code}: {exc.detail}", err=True)
        sys.exit(1)
    for record in records:
        if as_json:
            click.echo(json.dumps(record, default=str, ensure_ascii=False, sort_keys=True))
            continue
        header = record["header"]
        click.echo(
            json.dumps(
                {
                    "message_id": header["message_id"],
                    "message_type": header["message_type"],
                    "source_record_id": header["source_record_id"],
                    "version": header["source_record_version"],
                    "nationalities": record["person"]["nationalities"],
                    "convictions": len(record["convictions"]),
                    "offence_categories": sorted({o["category"] for c in record["convictions"] for o in c["offences"]}),
                    "unmapped": dict(unmapped_codes(record)),
                }
            )
        )
    click.echo(f"{len(records)} record(s)", err=True)
