"""``cancel`` ends a background task even when the task swallows its first cancellation (as a client library
catching CancelledError around its I/O does), so a service's stop cannot hang for ever."""

from __future__ import annotations

import asyncio

import pytest

from services.kernel import lifecycle


async def test_a_task_that_swallows_its_cancellation_is_cancelled_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "CANCEL_AGAIN_SECONDS", 0.05)
    swallowed = 0

    async def periodic() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if swallowed == 0:  # the first one is lost, as inside a library that catches it
                    swallowed += 1
                    asyncio.current_task().uncancel()  # type: ignore[union-attr]
                    continue
                raise

    task = asyncio.create_task(periodic())
    await asyncio.sleep(0.02)
    await asyncio.wait_for(lifecycle.cancel(task), timeout=5)
    assert task.cancelled() and swallowed == 1


async def test_an_error_of_the_task_is_raised() -> None:
    async def failing() -> None:
        raise ValueError("broken")

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)
    with pytest.raises(ValueError):
        await lifecycle.cancel(task)
    await lifecycle.cancel(None)
