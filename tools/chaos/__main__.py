"""``python -m tools.chaos``: every fault on every chosen broker, one table row each (``make chaos``).

python -m tools.chaos [--faults kill-router,broker-crash] [--broker embedded,apache] [--records 1000]
                      [--seed N] [--rate 50] [--settle-timeout 180] [--partner-offline-seconds 60]
                      [--out var/chaos] [--env CRX_NAME=VALUE ...]

Prints the table at the end (and each row as it finishes), writes it to ``<out>/results.json`` and exits 1
when any row is not exact (a skipped row, e.g. no PostgreSQL here, says why and fails nothing); 2 when the
harness itself cannot start (the parties' keys could not be made). Each row's
processes log to ``<out>/<broker>/<fault>/logs/``; its data stays there for inspection until the next run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from tools.chaos.brokers import KINDS, backend
from tools.chaos.faults import DEFAULT_FAULTS, FAULTS, FaultOptions
from tools.chaos.parties import ChaosError, Parties
from tools.chaos.postgres import PostgresServer
from tools.chaos.run import RowOptions, run_row
from tools.chaos.table import ERROR, SKIPPED, Row, render, write_json


def _names(text: str, valid: tuple[str, ...] | list[str], what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in valid]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown) or '(none)'}: use {', '.join(valid)}")
    return names


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m tools.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=lambda t: _names(t, list(FAULTS), "fault"), default=list(DEFAULT_FAULTS),
                        help=f"comma-separated, from: {', '.join(FAULTS)} (default: all but none)")  # fmt: skip
    parser.add_argument("--broker", type=lambda t: _names(t, KINDS, "broker"), default=["embedded"],
                        help="embedded, apache, or both comma-separated (rows on each, in that order)")  # fmt: skip
    parser.add_argument("--records", type=int, default=1000, help="submissions per row (DE and FR alternating)")
    parser.add_argument("--seed", type=int, default=None, help="seeds the plan and fault points (default: the time)")
    parser.add_argument("--rate", type=float, default=50.0, help="submissions per second")
    parser.add_argument("--settle-timeout", type=float, default=180.0, help="seconds allowed to settle")
    parser.add_argument("--pause-seconds", type=float, default=10.0, help="broker-pause: how long")
    parser.add_argument("--partner-offline-seconds", type=float, default=60.0, help="partner-offline: how long")
    parser.add_argument("--out", type=Path, default=Path("var/chaos"), help="rows' data and logs, results.json")
    parser.add_argument("--env", action="append", default=[], metavar="CRX_NAME=VALUE",
                        help="a setting for every crx process of every row (repeatable), e.g. "
                             "CRX_RECONCILE_AFTER_SECONDS=0 to see a row without the intake's reconciler")  # fmt: skip
    args = parser.parse_args(argv)
    if args.records < 1:
        parser.error("--records must be at least 1")
    if any("=" not in item or not item.startswith("CRX_") for item in args.env):
        parser.error("--env takes CRX_NAME=VALUE")
    return args


async def run_all(args: argparse.Namespace) -> list[Row]:
    """Every (broker, fault) row, printing each as it finishes."""
    options = RowOptions(
        records=args.records, rate=args.rate, seed=args.seed, settle_timeout=args.settle_timeout,
        faults=FaultOptions(pause_seconds=args.pause_seconds, partner_offline_seconds=args.partner_offline_seconds),
        extra_environ=dict(item.split("=", 1) for item in args.env),
    )  # fmt: skip
    out: Path = args.out.resolve()
    template = await asyncio.to_thread(Parties.create, out / "template")
    postgres, pg_failed = None, None
    if any(FAULTS[name].needs_postgres for name in args.faults) and PostgresServer.unavailable() is None:
        postgres = PostgresServer()
        try:
            await asyncio.to_thread(postgres.start)
        except RuntimeError as exc:  # binaries there, but no server: its rows are errors, saying why
            pg_failed, postgres = str(exc), None
    rows: list[Row] = []
    meta = {"seed": args.seed, "records": args.records, "rate": args.rate, "settle_timeout": args.settle_timeout,
            "env": args.env}  # fmt: skip
    try:
        for kind in args.broker:
            where = backend(kind, out)
            why, failed = await asyncio.to_thread(where.unavailable), None
            try:
                if why is None:
                    try:
                        await asyncio.to_thread(where.open)
                    except Exception as exc:  # the broker did not start: every row of it is an error, saying why
                        failed = f"{kind} broker did not start: {type(exc).__name__}: {exc}"
                for name in args.faults:
                    if why is not None or failed is not None:
                        result, reason = (SKIPPED, why) if why is not None else (ERROR, failed)
                        row = Row(name, kind, result=result, reasons=[str(reason)])
                    else:
                        started = time.monotonic()
                        row = await run_row(FAULTS[name], where, template, options, out, postgres)
                        row.details["row_seconds"] = round(time.monotonic() - started, 1)
                        if pg_failed is not None and FAULTS[name].needs_postgres:
                            row.result, row.reasons = ERROR, [pg_failed]
                    rows.append(row)
                    print(render([row]) + "\n", flush=True)
                    write_json(rows, out / "results.json", meta)
            finally:
                await asyncio.to_thread(where.close)
    finally:
        if postgres is not None:
            await asyncio.to_thread(postgres.stop)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the chosen rows; print the table; 1 when any row is not exact."""
    args = parse(argv)
    if args.seed is None:
        args.seed = int(time.time()) % 100_000
    print(f"chaos: seed {args.seed}, {args.records} records per row at {args.rate:.0f}/s, "
          f"faults {','.join(args.faults)} on {','.join(args.broker)}", flush=True)  # fmt: skip
    started = time.monotonic()
    try:
        rows = asyncio.run(run_all(args))
    except ChaosError as exc:
        print(f"chaos: {exc}", file=sys.stderr)
        return 2
    print(f"\nchaos table (seed {args.seed}, {time.monotonic() - started:.0f} s; also {args.out / 'results.json'}):\n")
    print(render(rows))
    return 1 if any(row.failed for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
