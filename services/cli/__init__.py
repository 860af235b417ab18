"""The ``crx`` command: one module per command group, registered in ``services.cli.main``."""

from services.cli.main import main

__all__ = ["main"]
