"""``crx lookup keys list | generate | rotate | destroy`` and ``crx lookup reindex``: the lookup index keys.

The operations are in ``services.lookup.keyadmin`` and ``services.lookup.reindex``; these commands only
parse, call them and print JSON (key ids, statuses, counts: never key material). See the rotation procedure
in ``services/lookup/README.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import click

from services.cli.common import settings_of
from services.lookup.index import LookupIndex
from services.lookup.indexkey import IndexKeyStore


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=None, sort_keys=True))


@contextlib.contextmanager
def _opened(ctx: click.Context) -> Iterator[tuple[IndexKeyStore, LookupIndex]]:
    """The index keys and the index of the configured node; the index is closed after the command."""
    from services.lookup.keyadmin import key_store, open_index

    settings = settings_of(ctx)
    index = open_index(settings)
    try:
        yield key_store(settings), index
    finally:
        index.close()


@click.group(name="keys")
def keys() -> None:
    """Index keys: list, generate (the first), rotate (a new one beside the old), destroy (an old one)."""


@keys.command(name="list")
@click.pass_context
def keys_list(ctx: click.Context) -> None:
    """Every index key: id, status (active, retiring, destroyed), rows, records not yet indexed under it."""
    from services.lookup.keyadmin import describe

    with _opened(ctx) as (store, index):
        click.echo(json.dumps(describe(store, index), indent=2))


@keys.command(name="generate")
@click.pass_context
def keys_generate(ctx: click.Context) -> None:
    """Make the first index key (refused when one exists: rotate instead)."""
    from services.lookup.keyadmin import generate, key_store

    key = generate(key_store(settings_of(ctx)), _now())
    _echo_json({"key_id": key.key_id, "status": "active"})


@keys.command(name="rotate")
@click.pass_context
def keys_rotate(ctx: click.Context) -> None:
    """Make a new active index key; the old ones keep answering (retiring) until destroyed. Then run
    `crx lookup reindex`, and destroy the old key once `records_missing` of the new one is 0."""
    from services.lookup.keyadmin import key_store, rotate

    key, retiring = rotate(key_store(settings_of(ctx)), _now())
    _echo_json({"key_id": key.key_id, "status": "active", "retiring": retiring})


@keys.command(name="destroy")
@click.argument("key_id")
@click.option("--force", is_flag=True, help="Even while records are indexed under this key alone: they stop hitting.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def keys_destroy(ctx: click.Context, key_id: str, force: bool, yes: bool) -> None:
    """Destroy retiring index key KEY_ID for good: its file is overwritten and deleted, its rows dropped.
    Refused for the newest key, and while records are indexed under it alone (unless --force)."""
    from services.lookup.keyadmin import check_destroyable, destroy

    with _opened(ctx) as (store, index):
        lost = check_destroyable(store, index, key_id, force=force)
        if not yes:
            warning = f"; {len(lost)} records stop hitting until indexed again" if lost else ""
            click.confirm(f"Destroy index key {key_id}{warning}?", abort=True, err=True)
        try:
            done = destroy(store, index, key_id, _now(), force=force)
        except OSError as exc:
            raise click.ClickException(f"key store: {exc.strerror or exc} ({exc.filename})") from None
    if done.records_stranded:
        click.echo(f"warning: {done.records_stranded} records no longer hit until they are indexed again", err=True)
    _echo_json(done.as_dict())


@click.command(name="reindex")
@click.option("--idle-ms", type=int, default=1000, show_default=True, help="Stop after this long without records.")
@click.pass_context
def reindex(ctx: click.Context, idle_ms: int) -> None:
    """Index every record of crx.records still current in the index under every live index key (after a
    rotation). Records older than the topic's retention cannot be re-keyed: `records_missing` counts them."""
    from services.cli.common import keyring_of
    from services.lookup.reindex import reindex as run

    settings = settings_of(ctx)
    with _opened(ctx) as (store, index):
        report = asyncio.run(run(settings, keyring_of(settings), index, store.live(), idle_ms=idle_ms))
    _echo_json(report.as_dict())
