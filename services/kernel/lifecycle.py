"""Process lifecycle: components with idempotent ``start``/``stop``, closed in reverse order on SIGTERM.

One ``AsyncExitStack`` per process. SIGTERM or SIGINT sets the stop event; each component then drains
(the batch loop finishes its batch, commits and leaves the group) before the next one is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Sequence
from typing import Protocol


class Component(Protocol):
    """Anything with idempotent async start and stop."""

    async def start(self) -> None:
        """Start; calling twice is harmless."""

    async def stop(self) -> None:
        """Stop and release resources; calling twice is harmless."""


async def run_until_stopped(components: Sequence[Component], stop: asyncio.Event | None = None) -> None:
    """Start ``components`` in order, wait for SIGTERM/SIGINT (or ``stop``), then stop them in reverse."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        async with contextlib.AsyncExitStack() as stack:
            for component in components:
                await component.start()
                stack.push_async_callback(component.stop)
            await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
