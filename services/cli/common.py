"""What every ``crx`` sub-command needs: its settings, this node's key ring, and a ``run`` for a table service."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import click

from services.kernel.config import Settings, load_settings
from services.kernel.errors import CrxError
from services.kernel.runtime import passphrase_of
from services.keys.ring import KeyRing

__all__ = ["keyring_of", "passphrase_of", "quiet_kafka_client", "run_command", "settings_of"]


def settings_of(ctx: click.Context, **overrides: Any) -> Settings:
    """Settings from ``--config`` (on the root command) and ``CRX_*``; a bad setting is a ClickException."""
    root = ctx.find_root()
    config: Path | None = root.obj.get("config") if root.obj else None
    try:
        return load_settings(config, os.environ, **overrides)
    except CrxError as exc:
        raise click.ClickException(exc.detail) from None


def quiet_kafka_client() -> None:
    """Mute aiokafka's own log lines (its retry chatter) for a one-shot command: an unreachable Kafka is
    reported in one line by the root group instead. Services keep them (``configure_logging`` resets it)."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def keyring_of(settings: Settings) -> KeyRing:
    """This node's key ring (registry + private key store) under the configured keys directory."""
    return KeyRing.open(settings.keys_dir, passphrase_of(settings))


def run_command(name: str) -> click.Command:
    """``crx NAME run``: service NAME of the table (``services.app.table``) as its own process."""

    @click.command(name="run", help=f"Run the {name} service until SIGTERM/SIGINT (it drains before it exits).")
    @click.option("--metrics-port", type=int, default=0, help="Port for /metrics, /healthz, /readyz (0: any free).")
    @click.pass_context
    def run(ctx: click.Context, metrics_port: int) -> None:
        from services.app.process import run_service
        from services.kernel.logging import configure_logging
        from services.kernel.runtime import Ports

        settings = settings_of(ctx)
        configure_logging(settings.log_level)
        try:
            run_service(name, settings, Ports(metrics=metrics_port))
        except CrxError as exc:
            raise click.ClickException(f"{exc.reason_code}: {exc.detail}") from None

    return run
