"""``Periodic``: a pass at once (or after a first pause), then one every ``seconds``; the expected errors go to
``on_error`` and the loop goes on, any other ends the task and ``stop`` raises it; ``stop`` cancels the pass
under way, or with ``drain`` lets it finish."""

from __future__ import annotations

import asyncio

import pytest

from services.kernel.periodic import Periodic
from tests.integration.helpers import wait_for

LONG = 3600.0  # a pause no test waits out


class Passes:
    """A step that counts its passes; ``fail`` lists what the next passes raise (None: succeed)."""

    def __init__(self, *fail: BaseException | None) -> None:
        self.count = 0
        self.fail = list(fail)

    async def __call__(self) -> None:
        self.count += 1
        if self.fail and (exc := self.fail.pop(0)) is not None:
            raise exc


async def test_the_first_pass_comes_at_once_and_no_second_before_seconds() -> None:
    step = Passes()
    periodic: Periodic[Exception] = Periodic("t", step, LONG)
    periodic.start()
    await wait_for(lambda: step.count == 1, 5)
    await asyncio.sleep(0.1)
    assert step.count == 1 and periodic.running
    await asyncio.wait_for(periodic.stop(), 5)  # the pause is cut short
    assert not periodic.running


async def test_passes_repeat_until_stopped() -> None:
    step = Passes()
    periodic: Periodic[Exception] = Periodic("t", step, 0.01)
    periodic.start()
    await wait_for(lambda: step.count >= 3, 5)
    await periodic.stop()
    after = step.count
    await asyncio.sleep(0.05)
    assert step.count == after


async def test_wait_first_pauses_before_the_first_pass() -> None:
    step = Passes()
    waiting: Periodic[Exception] = Periodic("t", step, LONG, wait_first=True)
    waiting.start()
    await asyncio.sleep(0.1)
    assert step.count == 0
    await asyncio.wait_for(waiting.stop(), 5)
    soon: Periodic[Exception] = Periodic("t", step, 0.05, wait_first=True)
    soon.start()
    await wait_for(lambda: step.count >= 1, 5)
    await soon.stop()


async def test_an_expected_error_is_handed_over_and_the_next_pass_comes() -> None:
    broken = ValueError("store away")
    step = Passes(broken)
    seen: list[ValueError] = []
    periodic = Periodic("t", step, 0.01, errors=(ValueError,), on_error=seen.append)
    periodic.start()
    await wait_for(lambda: step.count >= 2, 5)
    assert periodic.running
    await periodic.stop()
    assert seen == [broken]


async def test_another_error_ends_the_task_and_stop_raises_it() -> None:
    step = Passes(None, KeyError("bug"))
    seen: list[ValueError] = []
    periodic = Periodic("t", step, 0.01, errors=(ValueError,), on_error=seen.append)
    periodic.start()
    await wait_for(lambda: not periodic.running, 5)
    assert step.count == 2 and seen == []
    with pytest.raises(KeyError):
        await periodic.stop()
    await periodic.stop()  # stopped already: nothing left to raise


async def test_no_seconds_means_one_pass() -> None:
    step = Passes()
    periodic: Periodic[Exception] = Periodic("t", step, None)
    periodic.start()
    await wait_for(lambda: not periodic.running, 5)
    await asyncio.sleep(0.05)
    assert step.count == 1
    await periodic.stop()


async def test_stop_cancels_the_pass_under_way_and_the_cancellation_is_not_an_error() -> None:
    entered, cancelled = asyncio.Event(), []
    seen: list[Exception] = []

    async def stuck() -> None:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    periodic = Periodic("t", stuck, LONG, errors=(Exception,), on_error=seen.append)
    periodic.start()
    await asyncio.wait_for(entered.wait(), 5)
    await asyncio.wait_for(periodic.stop(), 5)
    assert cancelled == [True] and seen == []


async def test_drain_lets_the_pass_under_way_finish_and_starts_no_other() -> None:
    entered, finished = asyncio.Event(), []

    async def slow() -> None:
        entered.set()
        await asyncio.sleep(0.1)
        finished.append(True)

    periodic: Periodic[Exception] = Periodic("t", slow, 0, drain=True)
    periodic.start()
    await asyncio.wait_for(entered.wait(), 5)
    await asyncio.wait_for(periodic.stop(), 5)
    assert finished == [True]
    await asyncio.sleep(0.15)
    assert finished == [True]


async def test_start_is_idempotent_and_a_stopped_periodic_starts_again() -> None:
    step = Passes()
    periodic: Periodic[Exception] = Periodic("t", step, LONG)
    periodic.start()
    periodic.start()
    await wait_for(lambda: step.count == 1, 5)
    await asyncio.sleep(0.05)
    assert step.count == 1
    await periodic.stop()
    await periodic.stop()
    periodic.start()
    await wait_for(lambda: step.count == 2, 5)
    await periodic.stop()


def test_a_periodic_starts_again_under_another_event_loop() -> None:
    step = Passes()
    periodic: Periodic[Exception] = Periodic("t", step, LONG)

    async def one_run() -> None:
        periodic.start()
        await wait_for(lambda: step.count > 0, 5)
        await periodic.stop()

    asyncio.run(one_run())
    step.count = 0
    asyncio.run(one_run())  # a stop event bound to the first loop would raise here
