"""What every ``crx`` sub-command needs: its settings and this node's key ring."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from services.kernel.config import Settings, load_settings
from services.kernel.errors import CrxError
from services.keys.ring import KeyRing


def settings_of(ctx: click.Context, **overrides: Any) -> Settings:
    """Settings from ``--config`` (on the root command) and ``CRX_*``; a bad setting is a ClickException."""
    root = ctx.find_root()
    config: Path | None = root.obj.get("config") if root.obj else None
    try:
        return load_settings(config, os.environ, **overrides)
    except CrxError as exc:
        raise click.ClickException(exc.detail) from None


def passphrase_of(settings: Settings) -> bytes | None:
    """The private-key passphrase as bytes, or None when keys are stored unencrypted."""
    return settings.key_passphrase.reveal().encode() if settings.key_passphrase else None


def keyring_of(settings: Settings) -> KeyRing:
    """This node's key ring (registry + private key store) under the configured keys directory."""
    return KeyRing.open(settings.keys_dir, passphrase_of(settings))
