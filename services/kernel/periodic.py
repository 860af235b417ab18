"""A background task that runs one pass, pauses, and runs the next, until it is stopped: the shape of the
reconciler, the retention and expiry passes, the erasure and topic watches and the drop-directory scan.

The owner keeps one ``Periodic`` and decides when to ``start`` it (a setting of 0 usually means never);
``Periodic`` guarantees the rest: one task at a time, a failure the owner expects does not end the loop, a
``stop`` that returns only once the task has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Generic, TypeVar

from services.kernel.lifecycle import cancel

E = TypeVar("E", bound=Exception)


def _ignore(exc: Exception) -> None:
    """The default ``on_error``: nothing to say."""


@dataclass(eq=False)
class Periodic(Generic[E]):
    """Runs ``step`` in a task named ``name``: at once (or after a first pause with ``wait_first``), then again
    ``seconds`` after each pass ends; ``seconds`` None: one pass only, then the task ends.

    An exception of a type in ``errors`` is handed to ``on_error`` and the next pass comes as usual; any other
    exception (``on_error``'s own included) ends the task, and ``stop`` raises it. A ``CancelledError`` is
    never caught. ``stop`` cancels the pass under way, or with ``drain`` lets it finish (only the pause is cut
    short). ``start`` and ``stop`` are idempotent, and a stopped ``Periodic`` can be started again.
    """

    name: str
    step: Callable[[], Awaitable[object]]
    seconds: float | None
    _: KW_ONLY
    wait_first: bool = False
    errors: tuple[type[E], ...] = ()
    on_error: Callable[[E], object] = _ignore
    drain: bool = False
    _task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    @property
    def running(self) -> bool:
        """True from ``start`` until the task has ended (stopped, its one pass done, or failed)."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the task (in the running event loop) unless it is started already."""
        if self._task is None:
            self._stopping = asyncio.Event()  # of this loop: a Periodic may be started again under another one
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """End the task and wait until it has ended; a no-op when it is not started. Raises what ended the task
        early (an exception not in ``errors``), other than a cancellation."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        if self.drain:
            await task
        else:
            await cancel(task)

    async def _run(self) -> None:
        if self.wait_first:
            await self._pause()
        while not self._stopping.is_set():
            try:
                await self.step()
            except self.errors as exc:
                self.on_error(exc)
            if self.seconds is None:
                return
            await self._pause()

    async def _pause(self) -> None:
        """Wait ``seconds`` (None: not at all), or less when ``stop`` is called meanwhile."""
        if self.seconds is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self.seconds)
