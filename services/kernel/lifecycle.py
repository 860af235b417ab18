"""Process lifecycle: components with idempotent ``start``/``stop``, closed in reverse order on SIGTERM.

One ``AsyncExitStack`` per process. SIGTERM or SIGINT sets the stop event; each component then drains
(the batch loop finishes its batch, commits and leaves the group) before the next one is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Sequence
from typing import Any, Protocol


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


async def bounded(step: Awaitable[Any], *, seconds: float, what: str, log: Any) -> bool:
    """Await one shutdown ``step`` for at most ``seconds``; True when it finished.

    Never raises for the step's own failures: a timeout, an exception, or a CancelledError that a client
    library lets escape while it closes (aiokafka's fetcher does, when the broker is gone) are logged as one
    line naming ``what`` and the process goes on shutting down. A cancellation of the caller itself is
    re-raised.
    """
    try:
        async with asyncio.timeout(seconds):
            await step
        return True
    except TimeoutError:
        log.warning("shutdown step timed out", step=what, seconds=seconds)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.warning("shutdown step cancelled inside its client", step=what)
    except Exception as exc:  # a client failing while it closes must not stop the others from closing
        log.warning("shutdown step failed", step=what, error_class=type(exc).__name__)
    return False


CANCEL_AGAIN_SECONDS = 1.0


async def cancel(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background ``task`` (a timer, a periodic check) and wait until it has ended. None is a no-op.

    A cancellation swallowed inside the task (a client library catching CancelledError around its I/O, after
    which the task sleeps again) would leave the caller waiting for ever: the task is cancelled again every
    ``CANCEL_AGAIN_SECONDS`` until it ends. Raises what the task raised, other than CancelledError.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_AGAIN_SECONDS)
    with contextlib.suppress(asyncio.CancelledError):
        await task
