"""``crx demo``: the whole pipeline on embedded defaults, the bundled samples and some bad input pushed.

Starts the embedded broker (unless a bootstrap is given), generates demo keys for the broker and the
partners, starts every service, pushes each adapter's samples to the feed of the jurisdiction named by the
sample's file-name prefix, plus deliberately bad submissions, then accounts for every one of them from the
audit log. Then one record's life (``services.devstack.lifecycle``): its versions step by step, each once the
one before is accounted for, and a purge pass of every partner client; ``lifecycle`` in the summary is what
the audit log says became of it.

Submissions take the paths national systems use: batch files (``fixed-width``) are dropped into the watched
drop directory, everything else is POSTed to the HTTP intake with the jurisdiction's bearer token and an
idempotency key; a submission for a jurisdiction that is not configured (no token can exist for it) goes
the way of ``crx push``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from adapters.base import ParseContext, available, get_adapter
from services.audit.accounting import Accounting, account
from services.cases.book import NO_OPEN_REQUEST
from services.cases.store import ACTIVE, ANSWERED, CaseStore
from services.devstack.lifecycle import erasures_of, lifecycle_counts, lifecycle_steps
from services.devstack.pipeline import Pipeline
from services.intake.publisher import PushResult, Submission, submission_id_of
from services.kernel.config import Settings
from services.kernel.errors import CrxError

DEMO_PARTIES = ("DE", "FR", "PL", "US")
DROPPED_ADAPTERS = frozenset({"fixed-width"})  # batch formats arrive as files
TOKENS_FILE = "demo-intake-tokens.json"
MAX_SAMPLE_BYTES = 1_000_000  # the deliberately huge bad submission is not a sample, nor parsed to classify


def is_response(sub: Submission) -> bool:
    """True when ``sub`` (a packaged sample) is a RESPONSE: it answers a request, so it is sent only once the
    requests before it were delivered, as a requested state would."""
    if len(sub.payload) > MAX_SAMPLE_BYTES:
        return False
    ctx = ParseContext(sub.jurisdiction, dt.datetime.now(dt.UTC))
    try:
        records = get_adapter(sub.adapter).parse(sub.payload, ctx)
    except CrxError:
        return False
    return any(r["header"]["message_type"] == "RESPONSE" for r in records)


def sample_submissions(jurisdictions: Sequence[str]) -> list[Submission]:
    """Every registered adapter's samples, each to the feed its file-name prefix names."""
    subs = []
    for name in available():
        for file_name, payload in get_adapter(name).samples():
            jurisdiction = file_name.split("-", 1)[0].upper()
            if jurisdiction in jurisdictions:
                subs.append(Submission(jurisdiction, name, payload, idempotency_key=f"sample:{name}:{file_name}"))
    return subs


def bad_submissions(good_json: bytes) -> list[Submission]:
    """Deliberately bad input: each must end in the dead-letter topic with a typed reason."""
    record = json.loads(good_json)
    missing = json.loads(good_json)
    del missing["person"]["names"]
    unknown_nat = json.loads(good_json)
    unknown_nat["record_id"] = "bad-nationality"
    unknown_nat["person"]["nationalities"] = ["ZZ"]
    return [
        Submission("DE", "json-v1", good_json[: len(good_json) // 2], idempotency_key="bad:truncated-json"),
        Submission("DE", "json-v1", json.dumps(missing).encode(), idempotency_key="bad:missing-names"),
        Submission("DE", "json-v1", json.dumps(unknown_nat).encode(), idempotency_key="bad:unknown-nationality"),
        Submission("XX", "json-v1", json.dumps(record).encode(), idempotency_key="bad:unknown-jurisdiction"),
        Submission("DE", "json-v1", b"{" + b" " * (50 * 1024 * 1024) + b"}", idempotency_key="bad:50MB"),
        Submission("DE", "no-such-adapter", good_json, idempotency_key="bad:unknown-adapter"),
    ]


@dataclass
class DemoRun:
    """The outcome of pushing the demo submissions through a running pipeline."""

    results: list[PushResult]
    accounting: Accounting
    seconds: float


def issue_demo_tokens(pipeline: Pipeline) -> dict[str, str]:
    """Issue an intake token per jurisdiction and keep them in clear in the data dir (demo only, mode 0600)."""
    tokens = {j: pipeline.intake.tokens.issue(j) for j in pipeline.settings.jurisdictions}
    path = pipeline.settings.data_dir / TOKENS_FILE
    path.write_text(json.dumps(tokens, indent=2, sort_keys=True), encoding="utf-8")
    os.chmod(path, 0o600)
    return tokens


async def _post(session: aiohttp.ClientSession, url: str, token: str, sub: Submission) -> PushResult:
    headers = {"Authorization": f"Bearer {token}", "Crx-Adapter": sub.adapter}
    if sub.idempotency_key:
        headers["Idempotency-Key"] = sub.idempotency_key
    async with session.post(f"{url}/v1/feeds/{sub.jurisdiction}", data=sub.payload, headers=headers) as response:
        answer = await response.json()
        if "submission_id" not in answer:
            raise RuntimeError(f"intake refused a demo submission: HTTP {response.status} {answer.get('error')}")
        return PushResult(answer["submission_id"], sub.jurisdiction, answer["status"] == "accepted", answer["reason"])


def _drop(pipeline: Pipeline, sub: Submission, name: str) -> PushResult:
    """Write ``sub`` into the drop directory the way a batch system should: ``.part``, then rename."""
    folder: Path = pipeline.intake.drop.folder(sub.jurisdiction, sub.adapter)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{name}.part"
    partial.write_bytes(sub.payload)
    partial.rename(folder / name)
    return PushResult(submission_id_of(Submission(sub.jurisdiction, sub.adapter, sub.payload)), sub.jurisdiction, True)


async def submit(pipeline: Pipeline, submissions: list[Submission]) -> list[PushResult]:
    """Send each submission the way a national system would (drop directory, HTTP, or ``crx push``)."""
    tokens = issue_demo_tokens(pipeline)
    results: list[PushResult] = []
    async with aiohttp.ClientSession() as session:
        for i, sub in enumerate(submissions):
            if sub.adapter in DROPPED_ADAPTERS and sub.jurisdiction in tokens:
                results.append(await asyncio.to_thread(_drop, pipeline, sub, f"demo-{i:03d}.dat"))
            elif sub.jurisdiction in tokens:
                results.append(await _post(session, pipeline.intake.http.url, tokens[sub.jurisdiction], sub))
            else:
                results.extend(await pipeline.publisher.publish([sub], dt.datetime.now(dt.UTC)))
    return results


async def push_and_account(pipeline: Pipeline, submissions: list[Submission], wait_seconds: float = 60.0) -> DemoRun:
    """Submit ``submissions``, then poll the audit log until every one is accounted for (or ``wait_seconds``).

    Responses go in a second round, once the first is accounted for: a requested state answers a request it
    has received (a response sent before its request was delivered answers no open case and is refused)."""
    started = time.monotonic()
    results: list[PushResult] = []
    acc = Accounting()
    answers = [is_response(s) for s in submissions]
    rounds = [[s for s, a in zip(submissions, answers, strict=True) if a is later] for later in (False, True)]
    for batch in rounds:
        results += await submit(pipeline, batch)
        ids = list(dict.fromkeys(r.submission_id for r in results))
        acc = account(pipeline.store, ids)
        while not acc.complete and time.monotonic() - started < wait_seconds:
            await asyncio.sleep(0.2)
            acc = account(pipeline.store, ids)
    return DemoRun(results, acc, time.monotonic() - started)


async def run_lifecycle(pipeline: Pipeline, run: DemoRun, wait_seconds: float = 60.0) -> DemoRun:
    """After ``run``, submit the lifecycle steps (``lifecycle_steps``) in order, each once the one before is
    accounted for (or ``wait_seconds`` passed: the summary then shows it pending), then run a purge pass of every
    partner client (``purge_partners``). Returns ``run`` with the lifecycle's submissions added."""
    started = time.monotonic() - run.seconds
    results = list(run.results)
    for step in lifecycle_steps():
        results += (await push_and_account(pipeline, step, wait_seconds)).results
    ids = list(dict.fromkeys(r.submission_id for r in results))
    await purge_partners(pipeline, ids, wait_seconds)
    return DemoRun(results, account(pipeline.store, ids), time.monotonic() - started)


async def purge_partners(pipeline: Pipeline, submission_ids: list[str], wait_seconds: float = 60.0) -> int:
    """One purge pass of every partner client now (each also runs one at start and every hour): records whose
    retention ended are erased and their erasure receipts sent. Waits (at most ``wait_seconds``) until the
    audit log holds an ERASURE for each; returns how many receipts were sent. Raises what a purge raises."""
    before = len(erasures_of(pipeline.store, submission_ids))
    sent = sum([await partner.purge_once() for partner in pipeline.partners])
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if len(erasures_of(pipeline.store, submission_ids)) - before >= sent:
            break
        await asyncio.sleep(0.2)
    return sent


def crx_retention_purged(pipeline: Pipeline) -> int:
    """How many of crx's own copies (drop directory ``done/`` and ``failed/`` files, intake store rows) the
    intake's retention task purged while the demo ran (at start and every ``retention_check_seconds``), for
    ``lifecycle.retention_purged``. On a fresh data directory nothing is old enough: 0 is the honest count
    (``crx retention run --now ...`` shows a purge with an injected clock)."""
    return pipeline.intake.retention.total_purged


def case_summary(run: DemoRun, pipeline: Pipeline) -> dict[str, int]:
    """What became of the requests among the demo's submissions, from the case store and the audit log."""
    store = CaseStore.open(pipeline.settings)
    try:
        ids = dict.fromkeys(r.submission_id for r in run.results)
        cases = {c.case_id: c for sid in ids for c in store.for_submission(sid)}.values()
    finally:
        store.close()
    now = dt.datetime.now(dt.UTC)
    return {
        "opened": len(cases),
        "answered": sum(c.status == ANSWERED for c in cases),
        "open": sum(c.status in ACTIVE for c in cases),
        "overdue": sum(c.late(now) and c.status != ANSWERED for c in cases),
        "orphan_responses_refused": run.accounting.refusal_reasons[NO_OPEN_REQUEST],
    }


def summary(run: DemoRun, pipeline: Pipeline) -> dict[str, Any]:
    """The JSON object ``crx demo --once --json`` prints."""
    verified = pipeline.verify_audit()
    return {
        **run.accounting.as_dict(),
        "cases": case_summary(run, pipeline),
        "lifecycle": lifecycle_counts(
            pipeline.store, (r.submission_id for r in run.results), crx_purged=crx_retention_purged(pipeline)
        ),
        "audit_entries": pipeline.store.size,
        "audit_verified": verified.ok,
        "audit_problem": verified.problem,
        "seconds": round(run.seconds, 2),
        "output_dir": str(pipeline.out_dir),
    }


async def run_demo(settings: Settings, pipeline: Pipeline, *, once: bool, as_json: bool, stop: asyncio.Event) -> int:
    """Push samples and bad input, print the accounting; unless ``once``, keep serving until ``stop``."""
    await pipeline.start()
    try:
        good = next(s.payload for s in sample_submissions(settings.jurisdictions) if s.adapter == "json-v1")
        run = await push_and_account(pipeline, sample_submissions(settings.jurisdictions) + bad_submissions(good))
        run = await run_lifecycle(pipeline, run)
        result = summary(run, pipeline)
        if as_json:
            print(json.dumps(result, sort_keys=True))
        else:
            _print_human(result, pipeline)
        if not once:
            print("\ncrx is running; Ctrl-C stops everything.", flush=True)
            await stop.wait()
        ok = result["balanced"] and result["audit_verified"] and not result["pending"]
        return 0 if ok else 1
    finally:
        with contextlib.suppress(Exception):
            await pipeline.stop()


def _print_human(result: dict[str, Any], pipeline: Pipeline) -> None:
    print("crx demo: sample feeds, then one record's life, pushed through the pipeline\n")
    print(f"  pushed         {result['pushed']}")
    print(f"  delivered      {result['delivered_records']} records -> {result['delivered']}")
    print(f"  refused        {result['refused']} (by policy)")
    print(f"  dead-lettered  {result['dead_lettered']} {result['dead_letter_reasons']}")
    records = result["records"]
    print(
        f"  records        {records['normalised']} canonical records: {records['delivered']} delivered, "
        f"{records['refused']} refused, {records['pending']} pending"
    )
    print(f"  receipts       {result['receipts']}")
    cases = result["cases"]
    print(
        f"  cases          {cases['opened']} opened: {cases['answered']} answered, {cases['open']} open"
        f" ({cases['overdue']} overdue); {cases['orphan_responses_refused']} orphan response(s) refused"
    )
    life = result["lifecycle"]
    print(
        f"  record life    {life['updates']} update(s) and {life['deletions']} deletion(s) disclosed, "
        f"{life['erasure_receipts']} erasure receipt(s), {life['stale_refused']} stale version(s) refused, "
        f"{life['retention_purged']} purged at retention end"
    )
    print(f"  audit log      {result['audit_entries']} entries, verified: {result['audit_verified']}")
    print(f"  balanced       {result['balanced']}")
    print(f"\n  partner output {result['output_dir']}/<party>/<record key>.json (requests: <message id>.json)")
    print(f"  audit store    {pipeline.settings.audit_db_path}")
    print(
        f"  HTTP intake    {pipeline.intake.http.url}/v1/feeds/<jurisdiction>  (tokens: {TOKENS_FILE} in the data dir)"
    )
    print(f"  drop directory {pipeline.settings.drop_dir}/<jurisdiction>/<adapter>/")
    print(
        f"  lookups        {pipeline.lookup_api_url}/v1/lookups"
        "  (the intake's tokens; crx lookup --as FR --json PERSON.json --purpose ... --authority ...)"
    )
    audit_api = pipeline.audit_api_url
    print(f"  audit proofs   {audit_api}/v1/checkpoint  {audit_api}/v1/proof/<event id>  (crx audit prove ...)")
    for name, url in pipeline.ops_urls().items():
        print(f"  {name:<14} {url}/metrics  {url}/healthz  {url}/readyz")
    print(flush=True)
