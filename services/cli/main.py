"""The ``crx`` command: a thin face over the services. Settings come from ``--config`` and ``CRX_*``."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from services.cli.common import keyring_of, settings_of
from services.kernel.config import Settings
from services.kernel.errors import CrxError
from services.kernel.logging import configure_logging


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    return settings_of(ctx, **overrides)


@click.group()
@click.option("--config", type=click.Path(path_type=Path, exists=True), help="TOML settings file.")
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """crx: exchange criminal-record information between jurisdictions."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config


@main.command()
@click.option("--port", type=int, default=9092, show_default=True)
def broker(port: int) -> None:
    """Start the embedded Kafka-protocol broker (Tansu) on 127.0.0.1:PORT until Ctrl-C."""
    from services.devstack.embedded_broker import EmbeddedBroker, EmbeddedBrokerMissing

    try:
        embedded = EmbeddedBroker(port)
    except EmbeddedBrokerMissing as exc:
        raise click.ClickException(str(exc)) from None
    with embedded as b:
        click.echo(f"embedded broker on {b.bootstrap} (memory storage); Ctrl-C stops it", err=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


@main.command()
@click.option("--once", is_flag=True, help="Exit after the samples are accounted for.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the accounting.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path("var/demo"), show_default=True)
@click.option("--bootstrap", default=None, help="Use this Kafka instead of starting the embedded broker.")
@click.option("--metrics-port", type=int, default=9401, show_default=True, help="First ops port (0: any free).")
@click.option("--intake-port", type=int, default=8088, show_default=True, help="HTTP intake port (0: any free).")
@click.option("--audit-port", type=int, default=8089, show_default=True, help="Audit proof API port (0: any free).")
@click.pass_context
def demo(
    ctx: click.Context,
    once: bool,
    as_json: bool,
    data_dir: Path,
    bootstrap: str | None,
    metrics_port: int,
    intake_port: int,
    audit_port: int,
) -> None:
    """Run the whole pipeline on embedded defaults and push the sample feeds through it."""
    from services.devstack.demo import DEMO_PARTIES, run_demo
    from services.devstack.embedded_broker import EmbeddedBroker, EmbeddedBrokerMissing
    from services.devstack.pipeline import Pipeline, ensure_keys

    try:
        embedded = None if bootstrap or os.environ.get("CRX_KAFKA_BOOTSTRAP") else EmbeddedBroker()
    except EmbeddedBrokerMissing as exc:
        raise click.ClickException(str(exc)) from None
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "logs").mkdir(exist_ok=True)
    log_file = open(data_dir / "logs" / "crx.log", "a", encoding="utf-8")  # noqa: SIM115 - lives for the process
    configure_logging("INFO", log_file)
    overrides: dict[str, Any] = {"data_dir": data_dir, "audit_db": None}
    if embedded is not None:
        embedded.start()
        overrides["kafka_bootstrap"] = embedded.bootstrap
    elif bootstrap:
        overrides["kafka_bootstrap"] = bootstrap
    try:
        settings = _settings(ctx, **overrides)
        if not as_json:
            click.echo(f"kafka: {settings.kafka_bootstrap}{' (embedded Tansu)' if embedded else ''}")
        keyring = ensure_keys(settings, (settings.broker_party, *DEMO_PARTIES), dt.datetime.now(dt.UTC))
        pipeline = Pipeline.build(
            settings,
            keyring,
            partners=DEMO_PARTIES,
            base_port=metrics_port,
            intake_port=intake_port,
            audit_api_port=audit_port,
        )
        code = asyncio.run(
            _with_signals(lambda stop: run_demo(settings, pipeline, once=once, as_json=as_json, stop=stop))
        )
    finally:
        if embedded is not None:
            embedded.stop()
    sys.exit(code)


async def _with_signals(body: Any) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    result: int = await body(stop)
    return result


def _service_command(name: str) -> click.Command:
    @click.command(name="run", help=f"Run the {name} until SIGTERM/SIGINT.")
    @click.option("--metrics-port", type=int, default=0, help="Port for /metrics, /healthz, /readyz.")
    @click.pass_context
    def run(ctx: click.Context, metrics_port: int) -> None:
        settings = _settings(ctx)
        configure_logging(settings.log_level)
        asyncio.run(_run_service(name, settings, metrics_port))

    return run


async def _run_service(name: str, settings: Settings, metrics_port: int) -> None:
    from prometheus_client import CollectorRegistry

    from services.audit import writer
    from services.audit.store import open_store
    from services.kernel.audit_events import load_audit_secret
    from services.kernel.lifecycle import run_until_stopped
    from services.normaliser import service as normaliser
    from services.router import service as router
    from services.router.policy import Policy

    keyring = keyring_of(settings)
    secret = load_audit_secret(settings.audit_secret.reveal() if settings.audit_secret else None, settings.data_dir)
    registry = CollectorRegistry()
    service: Any
    if name == "normaliser":
        service = normaliser.build(settings, keyring, secret, registry, metrics_port)
    elif name == "intake":
        from services.intake.service import IntakeService

        service = IntakeService(settings, keyring, secret, registry, metrics_port=metrics_port)
    elif name == "router":
        service = router.build(settings, keyring, secret, registry, Policy.load(settings.agreements_file), metrics_port)
    else:
        service, _ = writer.build(settings, keyring, open_store(settings), secret, registry, metrics_port)
    await run_until_stopped([service])


for _name in ("intake", "normaliser", "router", "audit"):
    _group = click.Group(name=_name, help=f"The {_name} service.")
    _group.add_command(_service_command(_name))
    main.add_command(_group)

_audit_group = main.commands["audit"]
_intake_group = main.commands["intake"]


@click.command(name="token")
@click.option("--jurisdiction", required=True, help="The jurisdiction the token submits as (ISO alpha-2).")
@click.pass_context
def intake_token(ctx: click.Context, jurisdiction: str) -> None:
    """Issue a new intake bearer token for JURISDICTION (replacing its old one) and print it once.

    Only the token's SHA-256 is stored; keep the printed token in the national system's secret store.
    """
    from services.intake.tokens import TokenBook

    settings = _settings(ctx)
    code = jurisdiction.upper()
    if code not in settings.jurisdictions:
        raise click.ClickException(f"{code} is not a configured jurisdiction ({', '.join(settings.jurisdictions)})")
    click.echo(TokenBook.open(settings.intake_tokens_path).issue(code))


assert isinstance(_intake_group, click.Group)
_intake_group.add_command(intake_token)


@click.command(name="verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Verify the audit store: recompute the Merkle tree, check every stored node and signed checkpoint.

    Checkpoint signatures are checked against the verifier keys in ``<keys_dir>/audit-note.vkey``. Prints
    JSON (ok, entries, signed, problem, bad_index); exits 1 when verification fails.
    """
    from services.audit.notekey import load_note_verifiers
    from services.audit.store import open_store

    settings = _settings(ctx)
    try:
        verifiers = load_note_verifiers(settings)
        store = open_store(settings, create=False)
    except CrxError as exc:
        raise click.ClickException(exc.detail) from None
    try:
        result = store.verify(verifiers)
    finally:
        store.close()
    click.echo(
        json.dumps(
            {
                "ok": result.ok,
                "entries": result.entries,
                "signed": result.signed,
                "problem": result.problem,
                "bad_index": result.bad_index,
            }
        )
    )
    sys.exit(0 if result.ok else 1)


assert isinstance(_audit_group, click.Group)
_audit_group.add_command(audit_verify)


def _add_audit_commands() -> None:
    from services.cli.audit import COMMANDS

    assert isinstance(_audit_group, click.Group)
    for command in COMMANDS:
        _audit_group.add_command(command)


_add_audit_commands()


@main.group()
def partner() -> None:
    """The partner side: receive records addressed to you."""


@partner.command()
@click.option("--as", "party", required=True, help="Your party id (e.g. FR).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Directory for JSON records.")
@click.option("--metrics-port", type=int, default=0)
@click.pass_context
def consume(ctx: click.Context, party: str, out_dir: Path, metrics_port: int) -> None:
    """Verify, decrypt and store records for PARTY; send signed receipts. Runs until SIGTERM/SIGINT.

    With CRX_AUDIT_API_URL set (and the log's verifier key in <keys_dir>/audit-note.vkey), also proves that
    every delivery and receipt is in the audit log and that the log's history never changes.
    """
    from prometheus_client import CollectorRegistry

    from services.audit.notekey import load_note_verifiers
    from services.kernel.lifecycle import run_until_stopped
    from services.partner.client import build
    from services.partner.logwatch import LogWatcher

    settings = _settings(ctx)
    configure_logging(settings.log_level)
    keyring = keyring_of(settings)
    registry = CollectorRegistry()
    me = party.upper()
    watcher = None
    if settings.audit_api_url:
        url = settings.audit_api_url.rstrip("/")
        state = settings.data_dir / "logwatch" / f"{me}.sqlite3"
        watcher = LogWatcher(me, lambda: url, load_note_verifiers(settings), settings.audit_log_origin, state, registry)
    service = build(settings, keyring, me, out_dir, registry, metrics_port, watcher)
    asyncio.run(run_until_stopped([service]))


@main.command()
@click.option("--jurisdiction", required=True, help="The submitting jurisdiction (ISO alpha-2).")
@click.option("--adapter", required=True, help="The feed format, e.g. json-v1.")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.pass_context
def push(ctx: click.Context, jurisdiction: str, adapter: str, files: tuple[Path, ...]) -> None:
    """Push national payload FILES to the jurisdiction's feed (sealed to the broker)."""
    from services.intake.publisher import FeedPublisher, Submission
    from services.kernel.audit_events import load_audit_secret
    from services.kernel.kafka import Producer

    settings = _settings(ctx)
    configure_logging(settings.log_level)
    keyring = keyring_of(settings)
    secret = load_audit_secret(settings.audit_secret.reveal() if settings.audit_secret else None, settings.data_dir)

    async def go() -> list[Any]:
        producer = Producer(settings)
        await producer.start()
        try:
            publisher = FeedPublisher(settings, keyring, producer, secret)
            subs = [Submission(jurisdiction.upper(), adapter, f.read_bytes()) for f in files]
            return await publisher.publish(subs, dt.datetime.now(dt.UTC))
        finally:
            await producer.stop()

    results = asyncio.run(go())
    for f, r in zip(files, results, strict=True):
        click.echo(
            json.dumps({"file": str(f), "submission_id": r.submission_id, "accepted": r.accepted, "reason": r.reason})
        )
    sys.exit(0 if all(r.accepted for r in results) else 1)


@main.group()
def adapters() -> None:
    """The registered feed adapters."""


@adapters.command(name="list")
def adapters_list() -> None:
    """List the registered adapters."""
    from adapters.base import available

    for name in available():
        click.echo(name)


@adapters.command(name="parse")
@click.argument("adapter_name", metavar="ADAPTER")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--jurisdiction", help="The sending jurisdiction (default: the file name's 'XX-' prefix).")
@click.option("--json", "as_json", is_flag=True, help="Print the canonical records in full, one JSON per line.")
def adapters_parse(adapter_name: str, file: Path, jurisdiction: str | None, as_json: bool) -> None:
    """Parse FILE with ADAPTER and print the canonical records it yields (for testing a feed offline).

    Without --json prints one summary line per record (ids, type, counts and categories: no names). Exits 1
    with the adapter's typed error (reason code and message) when the file is refused.
    """
    from adapters.base import ParseContext, get_adapter
    from services.kernel.codec import codec
    from services.normaliser.service import unmapped_codes

    sender = (jurisdiction or file.name.split("-", 1)[0]).upper()
    if len(sender) != 2 or not sender.isalpha():
        raise click.UsageError("give --jurisdiction (the file name does not start with 'XX-')")
    try:
        adapter = get_adapter(adapter_name)
        records = adapter.parse(file.read_bytes(), ParseContext(sender, dt.datetime.now(dt.UTC)))
        canonical = codec("canonical_record")
        for record in records:
            canonical.encode(record)  # schema-valid, as the normaliser requires
    except CrxError as exc:
        click.echo(f"refused: {exc.reason_code}: {exc.detail}", err=True)
        sys.exit(1)
    for record in records:
        if as_json:
            click.echo(json.dumps(record, default=str, ensure_ascii=False, sort_keys=True))
            continue
        header = record["header"]
        click.echo(
            json.dumps(
                {
                    "message_id": header["message_id"],
                    "message_type": header["message_type"],
                    "source_record_id": header["source_record_id"],
                    "version": header["source_record_version"],
                    "nationalities": record["person"]["nationalities"],
                    "convictions": len(record["convictions"]),
                    "offence_categories": sorted({o["category"] for c in record["convictions"] for o in c["offences"]}),
                    "unmapped": dict(unmapped_codes(record)),
                }
            )
        )
    click.echo(f"{len(records)} record(s)", err=True)


from services.cli.keys import keys as keys_group  # noqa: E402  # the `keys` group lives in its own module

main.add_command(keys_group)


def _add_envelope_commands() -> None:
    from services.cli.dlq import dlq
    from services.cli.envelope import envelope

    main.add_command(envelope)
    main.add_command(dlq)


_add_envelope_commands()


if __name__ == "__main__":
    main()
