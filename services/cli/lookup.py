"""``crx lookup --as FR --json PERSON.json --purpose P --authority A``: which states hold convictions for a
person; ``crx lookup run``: the lookup service.

Where it asks:

- a national system (``CRX_LOOKUP_URL`` and ``CRX_INTAKE_TOKEN`` set: the running lookup service and this
  jurisdiction's bearer token, as ``crx intake token`` printed it) asks ``POST /v1/lookups``; the token decides
  the requesting state; ``--as``, when given, is sent as ``Crx-Jurisdiction`` and the service refuses a token of
  another state (a lookup is never answered for another state than the one the user meant);
- otherwise (the broker's operator) the local index in the data directory, with the same audit: the LOOKUP
  event goes to ``crx.audit`` on the configured broker, and without a broker nothing is looked up.

PERSON.json is ``{"names": [{"given": "...", "family": "..."}], "birth_date": "YYYY-MM-DD", "nationalities":
[...]}`` (birth date and nationalities optional). Prints the answer, ``{"lookup_id", "hits"}``, as JSON.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click

from services.cli.common import run_command, settings_of
from services.kernel.config import Settings

TIMEOUT_SECONDS = 30.0


async def _remote(settings: Settings, body: dict[str, Any], requester: str | None) -> dict[str, Any]:
    """The service's answer. Raises ClickException for any refusal (its problem ``error`` and ``detail``)."""
    import aiohttp

    from services.lookup.api import JURISDICTION_HEADER

    assert settings.lookup_url is not None and settings.intake_token is not None
    url = f"{settings.lookup_url.rstrip('/')}/v1/lookups"
    headers = {"Authorization": f"Bearer {settings.intake_token.reveal()}"}
    if requester is not None:
        headers[JURISDICTION_HEADER] = requester.upper()
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)) as http,
            http.post(url, json=body, headers=headers) as response,
        ):
            text = await response.text()
            if response.status != 200:
                try:
                    problem = json.loads(text)
                    why = f"{problem['error']}: {problem['detail']}"
                except (ValueError, KeyError, TypeError):
                    why = f"status {response.status}"
                raise click.ClickException(f"the lookup service refused ({why})")
            answer: dict[str, Any] = json.loads(text)
            return answer
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise click.ClickException(
            f"the lookup service at {settings.lookup_url} is not reachable ({type(exc).__name__})"
        ) from None


def _person(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise click.ClickException(f"{path.name} is not a readable JSON file") from None


@click.group(name="lookup", invoke_without_command=True)
@click.option("--as", "requester", help="The requesting jurisdiction (local lookups; remote: the token's).")
@click.option("--json", "person", type=click.Path(path_type=Path, dir_okay=False), help="PERSON.json: the query.")
@click.option("--purpose", help="The purpose code, e.g. CRIMINAL_PROCEEDINGS (mandatory).")
@click.option("--authority", help="The requesting authority: the institution asking (mandatory).")
@click.pass_context
def lookup(
    ctx: click.Context, requester: str | None, person: Path | None, purpose: str | None, authority: str | None
) -> None:
    """Which states hold convictions for a person (hit/no-hit): crx lookup --as FR --json PERSON.json
    --purpose CRIMINAL_PROCEEDINGS --authority "Tribunal judiciaire de Lyon"."""
    if ctx.invoked_subcommand is not None:
        return
    if person is None:
        click.echo(ctx.get_help())
        ctx.exit(2)
    if not purpose or not authority:
        raise click.UsageError("--purpose and --authority are mandatory")
    settings = settings_of(ctx)
    body = {"query": _person(person), "purpose": purpose, "requesting_authority": authority}
    if settings.lookup_url:
        if settings.intake_token is None:
            raise click.ClickException("CRX_LOOKUP_URL is set without CRX_INTAKE_TOKEN (the jurisdiction's token)")
        answer = asyncio.run(_remote(settings, body, requester))
    else:
        if not requester:
            raise click.UsageError("--as is mandatory for a lookup in the local index")
        from services.lookup.local import local_lookup

        answer = asyncio.run(local_lookup(settings, requester.upper(), body))  # crx errors: one line (root group)
    click.echo(json.dumps(answer, indent=2))


lookup.add_command(run_command("lookup"))
