"""``crx normaliser run``."""

from __future__ import annotations

import click

from services.cli.common import run_command

group = click.Group(name="normaliser", help="The normaliser: feeds in, sealed canonical records out.")
group.add_command(run_command("normaliser"))
