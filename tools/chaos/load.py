"""The record stream of a chaos row: DE and FR submitting over the intake's HTTP API and its drop directory.

``plan`` makes the submissions from the json-v1 samples, each with its own record id, and says what must
become of each: most are deliverable (DE's to FR and PL, FR's to DE), about 2 % are refused by policy (the
person is a national of the sender only: ECRIS has no one to notify) and about 1 % are dead-lettered (a
truncated document). ``Stream`` pushes them at a steady rate the way a national system would: HTTP with the
jurisdiction's bearer token and an idempotency key, retrying with the same key on 503 (after Retry-After),
on 409 and on a refused or dropped connection, until 202 or ``give_up`` seconds; batch files written as
``NAME.part`` and renamed into ``drop/<J>/json-v1/``. A drop file is accepted once the intake moved it to
``done/`` (which it does only after the broker acknowledged it).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp

from adapters.base import get_adapter
from services.intake.publisher import stable_submission_id

Route = Literal["http", "drop"]
Expect = Literal["delivered", "refused", "dead_lettered"]
ADAPTER = "json-v1"
# (sender, expectation) -> (sample, nationalities or None to keep the sample's, recipients)
TEMPLATES: dict[tuple[str, Expect], tuple[str, list[str] | None, frozenset[str]]] = {
    ("DE", "delivered"): ("DE-notification-fr-pl.json", None, frozenset({"FR", "PL"})),
    ("DE", "refused"): ("DE-notification-de.json", None, frozenset()),
    ("FR", "delivered"): ("FR-notification-de.json", None, frozenset({"DE"})),
    ("FR", "refused"): ("FR-notification-de.json", ["FR"], frozenset()),
}
RETRIED = frozenset({409, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Item:
    """One submission and what must become of it."""

    index: int
    jurisdiction: str
    route: Route
    expect: Expect
    payload: bytes
    record_id: str
    recipients: frozenset[str]
    tag: str

    @property
    def idempotency_key(self) -> str:
        """The key its HTTP retries carry."""
        return f"chaos-{self.tag}-{self.index}"

    @property
    def file_name(self) -> str:
        """Its name in the drop directory."""
        return f"chaos-{self.tag}-{self.index:05d}.json"

    @property
    def submission_id(self) -> str:
        """The id the intake gives it (from the idempotency key over HTTP, from the content when dropped)."""
        key = self.idempotency_key if self.route == "http" else None
        return stable_submission_id(self.jurisdiction, key, hashlib.sha256(self.payload).digest())


@functools.cache
def _samples() -> dict[str, bytes]:
    return dict(get_adapter(ADAPTER).samples())


def _document(sample: str, record_id: str, nationalities: list[str] | None) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(_samples()[sample])
    document["record_id"] = record_id
    if nationalities is not None:
        document["person"]["nationalities"] = nationalities
    return document


def plan(records: int, rng: random.Random, tag: str, *, drop_share: float = 0.2) -> list[Item]:
    """``records`` submissions alternating DE and FR, a ``drop_share`` of them as drop files, 2 % refused by
    policy and 1 % dead-lettered (at least one of each from 100 records), in a seeded order."""
    refused = set(rng.sample(range(records), max(1, records // 50) if records >= 100 else 0))
    rest = [i for i in range(records) if i not in refused]
    dead = set(rng.sample(rest, max(1, records // 100) if records >= 100 else 0))
    items = []
    for i in range(records):
        jurisdiction = ("DE", "FR")[i % 2]
        expect: Expect = "refused" if i in refused else "dead_lettered" if i in dead else "delivered"
        sample, nationalities, recipients = TEMPLATES[
            (jurisdiction, "delivered" if expect == "dead_lettered" else expect)
        ]
        record_id = f"{jurisdiction}-CHAOS-{tag}-{i:05d}"
        payload = json.dumps(_document(sample, record_id, nationalities), ensure_ascii=False).encode()
        if expect == "dead_lettered":
            payload, recipients = payload[: len(payload) // 2], frozenset()
        route: Route = "drop" if rng.random() < drop_share else "http"
        items.append(Item(i, jurisdiction, route, expect, payload, record_id, recipients, tag))
    return items


@dataclass
class Push:
    """What happened to one item's submission."""

    item: Item
    accepted: bool = False
    status: int | None = None
    attempts: int = 0
    error: str | None = None


@dataclass
class Stream:
    """Pushes ``items`` at ``rate`` per second: HTTP to ``intake_url`` with ``tokens``, files into ``drop_root``."""

    items: list[Item]
    intake_url: str
    tokens: dict[str, str]
    drop_root: Path
    rate: float = 50.0
    concurrency: int = 16
    give_up: float = 240.0
    pushes: list[Push] = field(default_factory=list)
    started: int = 0
    finished_at: float | None = None
    _mark: int = 0
    _marked: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        """Push every item on schedule; returns once every HTTP push got its answer (or was given up)."""
        self.pushes = [Push(item) for item in self.items]
        gate = asyncio.Semaphore(self.concurrency)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            tasks = []
            t0 = time.monotonic()
            for i, push in enumerate(self.pushes):
                await asyncio.sleep(max(0.0, t0 + i / self.rate - time.monotonic()))
                self.started = i + 1
                if self.started >= self._mark:
                    self._marked.set()
                if push.item.route == "drop":
                    await asyncio.to_thread(self._drop, push)
                else:
                    tasks.append(asyncio.create_task(self._post(session, gate, push)))
            self._marked.set()
            await asyncio.gather(*tasks)
        self.finished_at = time.monotonic()

    async def reached(self, count: int) -> None:
        """Until ``count`` items were handed out (or all were). One waiter at a time."""
        self._mark = count
        if self.started < count:
            self._marked.clear()
            await self._marked.wait()

    def _drop(self, push: Push) -> None:
        folder = self.drop_root / push.item.jurisdiction / ADAPTER
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f"{push.item.file_name}.part"
        partial.write_bytes(push.item.payload)
        partial.rename(folder / push.item.file_name)
        push.attempts = 1

    async def _post(self, session: aiohttp.ClientSession, gate: asyncio.Semaphore, push: Push) -> None:
        item = push.item
        url = f"{self.intake_url}/v1/feeds/{item.jurisdiction}"
        headers = {
            "Authorization": f"Bearer {self.tokens[item.jurisdiction]}",
            "Crx-Adapter": ADAPTER,
            "Idempotency-Key": item.idempotency_key,
        }
        deadline = time.monotonic() + self.give_up
        async with gate:
            while True:
                push.attempts += 1
                wait = 1.0
                try:
                    async with session.post(url, data=item.payload, headers=headers) as response:
                        push.status = response.status
                        if response.status == 202:
                            answer = await response.json()
                            push.accepted = answer.get("submission_id") == item.submission_id
                            push.error = None if push.accepted else "202 with another submission id"
                            return
                        if response.status not in RETRIED:
                            push.error = f"HTTP {response.status}"
                            return
                        wait = float(response.headers.get("Retry-After", "1"))
                        push.error = f"HTTP {response.status}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    push.error = type(exc).__name__
                if time.monotonic() + wait > deadline:
                    push.error = f"given up after {push.attempts} attempts ({push.error})"
                    return
                await asyncio.sleep(wait)

    def drop_backlog(self) -> int:
        """Drop files not yet published (still incoming or claimed)."""
        waiting = 0
        for push in self.pushes:
            if push.item.route == "drop" and push.attempts:
                j = push.item.jurisdiction
                done = self.drop_root / "done" / j / ADAPTER / f"{push.item.file_name}.{push.item.submission_id}"
                failed = self.drop_root / "failed" / j / ADAPTER / push.item.file_name
                if done.exists():
                    push.accepted = True
                elif failed.exists():
                    push.error = "quarantined in failed/"
                else:
                    waiting += 1
        return waiting

    @property
    def accepted(self) -> list[Push]:
        """Pushes accepted so far (HTTP 202, or a drop file published)."""
        return [p for p in self.pushes if p.accepted]
