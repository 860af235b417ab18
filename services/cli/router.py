"""``crx router run``."""

from __future__ import annotations

import click

from services.cli.common import run_command

group = click.Group(name="router", help="The router: decides, minimises and seals per recipient.")
group.add_command(run_command("router"))
