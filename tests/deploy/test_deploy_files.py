"""Static checks of deploy/: what can be verified without a Docker engine or a Kafka cluster.

Files parse; every metric named in the alert rules and the dashboard is one the services register; compose
and Kubernetes run commands that exist in the ``crx`` CLI; the Kafka scripts, run against fake Kafka tools,
create exactly the topics the code uses and grant each principal exactly what its service reads and writes.
The intake's HTTP API is published only where a TLS-terminating proxy can reach it. The router and the case
service share one case book, in PostgreSQL, whose role and database deploy/postgres/cases-db.sh makes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import shutil
import ssl
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import psycopg
import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from services.app.table import SERVICES
from services.cases import service as cases
from services.cases.store import Case, CaseStore
from services.cli import main
from services.devstack.pipeline import ensure_keys
from services.intake import service as intake
from services.intake.publisher import FeedPublisher, Submission
from services.kernel.config import Settings, load_settings
from services.kernel.kafka import OutRecord, Producer, client_options, standard_topics, transactional_id
from services.kernel.producers import ProducerRules, component_of
from services.kernel.runtime import Ports, Runtime
from services.kernel.service import StreamService
from services.kernel.sqlstore import is_postgres
from services.kernel.topics import topic_configs
from services.keys.ring import KeyRing
from services.partner import client as partner

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose" / "docker-compose.yml"
KAFKA_SCRIPTS = DEPLOY / "kafka"
SAMPLES = ROOT / "adapters" / "json_v1" / "samples"
IMAGE_SAMPLES = "/opt/crx/samples/"  # where deploy/Dockerfile copies them
AUDIT_SECRET = b"deploy-test"

# Metrics that deploy/ uses and crx does not register, with where they come from.
EXTERNAL_METRICS = {"up": "Prometheus itself", "kafka_consumergroup_lag": "danielqsj/kafka_exporter"}
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
INTAKE_PRINCIPAL = "intake"  # the SASL user of `crx intake run` (national systems need no Kafka rights)
CASES_PRINCIPAL = "cases"  # the SASL user of `crx cases run`
PRODUCE_ONLY = (intake.NAME, cases.NAME)  # table services without a consumer group, checked by what they send
CASES_DB_SCRIPT = DEPLOY / "postgres" / "cases-db.sh"
FAKE_TOOLS = ("kafka-topics.sh", "kafka-acls.sh", "kafka-configs.sh", "kafka-storage.sh", "kafka-server-start.sh")

Grant = tuple[str, str, str]  # (operation, resource type, resource name)


# --- what the code does -------------------------------------------------------------------------------------


class _CapturingProducer(Producer):
    """A producer that records the topics it is asked to write and sends nothing."""

    def __init__(self, settings: Settings, **options: Any) -> None:
        super().__init__(settings, **options)
        self.topics: set[str] = set()

    async def send_all(self, records: Sequence[OutRecord]) -> None:
        self.topics |= {r.topic for r in records}


class _StopAtTopicCheck(Exception):
    """Raised by the stand-in for ensure_topics: start() goes no further (nothing binds or connects)."""


def _intake_service(
    settings: Settings, keyring: KeyRing, registry: CollectorRegistry, sample: bytes
) -> tuple[set[str], set[str]]:
    """Build the intake as ``crx intake run`` does (services/cli.py ``_run_service``), with a producer that
    only records topics. Returns (topics it checks at start, topics it writes): submissions of every
    jurisdiction through its publisher (accepted, refused at the door, too large to read) and a dropped file.
    start() runs only up to its topic check, which records the topics and stops it there."""
    checked: set[str] = set()

    async def record_topic_check(_: Settings, topics: Sequence[str]) -> None:
        checked.update(topics)
        raise _StopAtTopicCheck

    async def submit(service: intake.IntakeService) -> None:
        now = dt.datetime.now(dt.UTC)
        for j in settings.jurisdictions:
            good, refused = Submission(j, "json-v1", sample, f"k-{j}"), Submission(j, "no-such-adapter", b"x")
            await service.publisher.publish([good, refused], now)
            await service.publisher.refuse_unread(j, None, 2**30, bytes(32), now)
        service.drop.prepare()
        (service.drop.folder(settings.jurisdictions[0], "json-v1") / "feed.json").write_bytes(sample)
        assert len(await service.drop.scan_once()) == 1

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(intake, "Producer", _CapturingProducer)
        patch.setattr(intake, "ensure_topics", record_topic_check)
        runtime = Runtime(settings, keyring, AUDIT_SECRET, new_registry=lambda: registry)
        service = intake.IntakeService(runtime, metrics_port=9400)
        try:
            with pytest.raises(_StopAtTopicCheck):
                asyncio.run(service.start())
            asyncio.run(submit(service))
        finally:
            service.idempotency.close()
    assert isinstance(service.producer, _CapturingProducer)
    return checked, service.producer.topics


def _due_case(requesting: str, requested: str, now: dt.datetime) -> Case:
    """A case from ``requesting`` to ``requested`` whose reminder time and deadline have both passed."""
    return Case(
        case_id=f"deploy-{requesting}-{requested}",
        request_message_id=f"request-{requesting}-{requested}",
        submission_id=f"submission-{requesting}-{requested}",
        requesting=requesting,
        requested=requested,
        requesting_authority=None,
        purpose="CRIMINAL_PROCEEDINGS",
        kind="criminal-proceedings",
        urgency="NORMAL",
        agreement=None,
        external_id=None,
        received_at=now - dt.timedelta(days=30),
        deadline=now - dt.timedelta(days=1),
        remind_at=now - dt.timedelta(days=3),
    )


def _case_service(settings: Settings, keyring: KeyRing, registry: CollectorRegistry) -> tuple[set[str], set[str]]:
    """Build the case service as ``crx cases run`` does, with a producer that only records topics. Returns
    (topics it checks at start, topics it writes): one pass over a case book holding, for every jurisdiction
    as requested state, a case whose reminder and deadline have both passed, so that it sends both kinds."""
    checked: set[str] = set()

    async def record_topic_check(_: Settings, topics: Sequence[str]) -> None:
        checked.update(topics)
        raise _StopAtTopicCheck

    now = dt.datetime.now(dt.UTC)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cases, "Producer", _CapturingProducer)
        patch.setattr(cases, "ensure_topics", record_topic_check)
        runtime = Runtime(settings, keyring, AUDIT_SECRET, new_registry=lambda: registry)
        service = SERVICES[cases.NAME](runtime, ports=Ports())
        assert isinstance(service, cases.CaseService)
        try:
            with pytest.raises(_StopAtTopicCheck):
                asyncio.run(service.start())
            states = settings.jurisdictions
            for requesting, requested in zip(states[-1:] + states[:-1], states, strict=True):
                service.store.add(_due_case(requesting, requested, now))
            assert asyncio.run(service.run_pass(now)) == 2 * len(states)  # a reminder and an overdue notice each
        finally:
            service.store.close()
    assert isinstance(service.producer, _CapturingProducer)
    return checked, service.producer.topics


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every service built as ``crx`` builds it (fresh registries, real keys), plus what the intake and the case
    service write."""
    tmp = tmp_path_factory.mktemp("deploy")
    settings = load_settings(None, {}, data_dir=tmp / "data", audit_secret=AUDIT_SECRET.decode())
    keyring = ensure_keys(settings, (settings.broker_party, *settings.jurisdictions), dt.datetime.now(dt.UTC))
    registries: list[CollectorRegistry] = []

    def registry() -> CollectorRegistry:
        registries.append(CollectorRegistry())
        return registries[-1]

    runtime = Runtime(settings, keyring, AUDIT_SECRET, new_registry=registry)
    built = [build(runtime, ports=Ports()) for name, build in SERVICES.items() if name not in PRODUCE_ONLY]
    services = [s for s in built if isinstance(s, StreamService)]
    assert len(services) == len(built)  # every table service but the intake and the case service consumes
    watched = replace(runtime, settings=settings.replace(audit_api_url="http://audit.invalid"))
    for j in settings.jurisdictions:  # as `crx partner consume` builds it with CRX_AUDIT_API_URL set
        services.append(partner.build(watched, ports=Ports(), party=j, sink=tmp / "out" / j))

    sample = next(SAMPLES.glob("*.json")).read_bytes()
    intake_checks, intake_service_writes = _intake_service(settings, keyring, registry(), sample)
    case_checks, case_writes = _case_service(settings, keyring, registry())

    intake_writes: dict[str, set[str]] = {}  # crx push, as principal intake-<J>
    for j in settings.jurisdictions:
        producer = _CapturingProducer(settings)
        publisher = FeedPublisher(settings, keyring, producer, AUDIT_SECRET)
        good, refused = Submission(j, "json-v1", sample), Submission(j, "no-such-adapter", b"x")
        asyncio.run(publisher.publish([good, refused], dt.datetime.now(dt.UTC)))
        intake_writes[j] = producer.topics

    metrics: set[str] = set()
    for reg in registries:
        for family in reg.collect():
            if family.type == "counter":
                metrics.add(f"{family.name}_total")
            elif family.type == "histogram":
                metrics |= {f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count"}
            else:
                metrics.add(family.name)
    return {
        "settings": settings,
        "services": services,
        "intake_writes": intake_writes,
        "intake_service": {"checks": intake_checks, "writes": intake_service_writes},
        "case_service": {"checks": case_checks, "writes": case_writes},
        "metrics": metrics,
    }


def _grants_needed(service: StreamService, settings: Settings) -> set[Grant]:
    """Read on the inputs and the group, Write on the outputs and on its transactional ids (which start with
    its group id); a stage that dead-letters also writes the DEAD_LETTER audit event
    (services/kernel/deadletter.py)."""
    needed: set[Grant] = {("Read", "topic", t) for t in service._topics}
    group = service.loop._group_id
    needed.add(("Read", "group", group))
    assert transactional_id(settings, group).startswith(f"{group}.")
    needed.add(("Write", "transactional-id-prefix", f"{group}."))  # the dot: crx.router never covers crx.router2
    outputs = set(service._output_topics)
    if settings.topic("dlq") in outputs:
        outputs.add(settings.topic("audit"))
    return needed | {("Write", "topic", t) for t in outputs}


# --- helpers ------------------------------------------------------------------------------------------------


def _yaml_files() -> list[Path]:
    return sorted([*DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")])


def _load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def _crx_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose["services"].items() if svc.get("image") == "crx:local"}


def _deployments() -> list[dict[str, Any]]:
    return [d for f in sorted((DEPLOY / "k8s").glob("*.yaml")) for d in _load_all(f) if d.get("kind") == "Deployment"]


def _k8s_settings(container: dict[str, Any]) -> Settings:
    """The Settings a k8s container gets from the crx-config ConfigMap and its literal env values."""
    (config,) = [d for d in _load_all(DEPLOY / "k8s" / "config.yaml") if d.get("kind") == "ConfigMap"]
    literal = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    return load_settings(None, config["data"] | literal)


def _resolve(args: Sequence[str]) -> tuple[list[str], click.Command, list[str]]:
    """Walk ``crx ARGS`` down the click groups: (command path, leaf command, remaining arguments)."""
    command: click.Command = main
    path: list[str] = []
    rest = list(args)
    while isinstance(command, click.Group):
        assert rest, f"crx {' '.join(path)} needs a subcommand"
        name = rest.pop(0)
        assert name in command.commands, f"crx {' '.join(path)} has no command {name!r}"
        command = command.commands[name]
        path.append(name)
    return path, command, rest


def _check_cli(args: Sequence[str]) -> list[str]:
    """Parse ``crx ARGS`` with the real CLI (options, required values, existing files); return the path."""
    path, command, rest = _resolve(args)
    rest = [str(SAMPLES / a.removeprefix(IMAGE_SAMPLES)) if a.startswith(IMAGE_SAMPLES) else a for a in rest]
    command.make_context(f"crx {' '.join(path)}", rest)  # raises click.UsageError / BadParameter
    return path


def _option(args: Sequence[str], name: str) -> str:
    return args[list(args).index(name) + 1]


def _principal_for(args: Sequence[str]) -> str:
    """The SASL user a ``crx`` command must run as (the principal acls.sh grants its topics to)."""
    path, _, rest = _resolve(args)
    if path == ["partner", "consume"]:
        return f"partner-{_option(rest, '--as').upper()}"
    if path == ["push"]:
        return f"intake-{_option(rest, '--jurisdiction').upper()}"
    assert path[1:] == ["run"], path
    return path[0]


def _password_var(user: str) -> str:
    """scram-users.sh's naming: KAFKA_PW_ + the user upper-cased with '-' as '_'."""
    return "KAFKA_PW_" + user.upper().replace("-", "_")


def _promql_metrics(expr: str) -> set[str]:
    """Metric names in a PromQL expression (strings, matchers, ranges and grouping clauses removed)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for match in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", expr):
        if match.group(2) is None and match.group(1) not in PROMQL_KEYWORDS:
            names.add(match.group(1))
    return names


def _alert_rules() -> list[dict[str, Any]]:
    data = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DEPLOY / "grafana" / "dashboards" / "crx.json").read_text(encoding="utf-8"))
    return data


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _run_kafka_script(script: str, tmp_path: Path, env: dict[str, str]) -> list[list[str]]:
    """Run a deploy/kafka script with fake Kafka tools that log their arguments; return the calls."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    for tool in FAKE_TOOLS:
        path = fake / tool
        path.write_text(
            '#!/usr/bin/env bash\n{ printf "%s" "${0##*/}"; for a in "$@"; do printf "\\t%s" "$a"; done; echo; }'
            ' >> "$CALLS"\n',
            encoding="utf-8",
        )
        path.chmod(0o755)
    calls = tmp_path / f"{script}.calls"
    calls.write_text("", encoding="utf-8")
    base = {"PATH": os.environ["PATH"], "KAFKA_BIN": str(fake), "CALLS": str(calls), "COMMAND_CONFIG": "/dev/null"}
    subprocess.run(["bash", str(KAFKA_SCRIPTS / script)], env=base | env, check=True, capture_output=True, timeout=20)
    return [line.split("\t") for line in calls.read_text(encoding="utf-8").splitlines()]


def _acl_grants(calls: list[list[str]]) -> dict[str, set[Grant]]:
    grants: dict[str, set[Grant]] = {}
    for call in calls:
        assert call[0] == "kafka-acls.sh" and "--add" in call, call
        principal = _option(call, "--allow-principal").removeprefix("User:")
        ops = [call[i + 1] for i, a in enumerate(call) if a == "--operation"]
        resources = [(a[2:], call[i + 1]) for i, a in enumerate(call) if a in ("--topic", "--group")]
        resources += [("cluster", "kafka-cluster")] if "--cluster" in call else []
        if "--transactional-id" in call:  # only as a prefix: the ids end with the topic prefix and instance
            assert _option(call, "--resource-pattern-type") == "prefixed", call
            resources.append(("transactional-id-prefix", _option(call, "--transactional-id")))
        grants.setdefault(principal, set()).update((op, kind, name) for op in ops for kind, name in resources)
    return grants


# --- files parse --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_parses(path: Path) -> None:
    """Every YAML file under deploy/ parses and is not empty."""
    assert _load_all(path)


@pytest.mark.parametrize("path", sorted(DEPLOY.rglob("*.sh")), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_shell_scripts_pass_bash_n(path: Path) -> None:
    """Every shell script under deploy/ is valid bash (bash -n), strict, and executable."""
    subprocess.run(["bash", "-n", str(path)], check=True, capture_output=True, timeout=10)
    text = path.read_text(encoding="utf-8")
    assert path.name == "common.sh" or ("set -euo pipefail" in text and os.access(path, os.X_OK))


# --- metrics ------------------------------------------------------------------------------------------------


def test_promql_metric_parser() -> None:
    """The metric-name extraction the checks below rely on ignores functions, labels, ranges and grouping."""
    expr = 'histogram_quantile(0.99, sum by (service, le) (rate(a_bucket{x=~"y|z"}[5m]))) > 1 unless on () max(b)'
    assert _promql_metrics(expr) == {"a_bucket", "b"}


def test_alert_rules_are_complete() -> None:
    """Every alert has an expression, a severity label, a summary, a description and a runbook hint."""
    rules = _alert_rules()
    assert len(rules) >= 11
    for rule in rules:
        assert rule["alert"].startswith("Crx") and rule["expr"].strip(), rule
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, rule["alert"]
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), rule["alert"]


def test_every_alert_has_a_runbook_entry() -> None:
    """Every alert's runbook annotation points to the runbook of deploy/README.md, which has an entry for it."""
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    runbook = readme.split("\n### Runbook\n", 1)[1].split("\n## ", 1)[0]
    entries = set(re.findall(r"\*\*(Crx\w+)(?::\*\*|\*\*)", runbook))
    for rule in _alert_rules():
        assert rule["annotations"]["runbook"].startswith("deploy/README.md#runbook"), rule["alert"]
    assert {rule["alert"] for rule in _alert_rules()} <= entries


def test_alert_metrics_exist_in_code(code: dict[str, Any]) -> None:
    """Every metric an alert uses is registered by a crx service (or is Prometheus' / the exporter's)."""
    known = code["metrics"] | set(EXTERNAL_METRICS)
    for rule in _alert_rules():
        names = _promql_metrics(rule["expr"])
        assert names, rule["alert"]
        assert names <= known, f"{rule['alert']}: unknown metrics {sorted(names - known)}"


def test_dashboard_metrics_exist_in_code(code: dict[str, Any]) -> None:
    """Every metric the dashboard queries (panels and variables) is registered by a crx service."""
    known = code["metrics"] | set(EXTERNAL_METRICS)
    dashboard = _dashboard()
    used: set[str] = set()
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            used |= _promql_metrics(target["expr"])
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            used |= set(re.findall(r"label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)", var["definition"]))
    assert used <= known, f"unknown metrics {sorted(used - known)}"
    crx_metrics = {m for m in code["metrics"] if not m.endswith(("_sum", "_count"))}
    assert crx_metrics <= used | {f"{m}_bucket" for m in used}, f"not on the dashboard: {sorted(crx_metrics - used)}"


def test_dashboard_layout() -> None:
    """Panel ids are unique, and every top-level panel (the rows are expanded, so every panel is one) lies
    inside the 24-column grid without overlapping another."""
    dashboard = _dashboard()
    ids = [panel["id"] for panel in _panels(dashboard)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    taken: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        assert not panel.get("collapsed") and not panel.get("panels"), panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["y"] >= 0 and grid["w"] > 0 and grid["h"] > 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in taken, f"{panel['title']!r} overlaps {taken[(x, y)]!r}"
                taken[(x, y)] = panel["title"]


def test_dashboard_uses_datasource_variable() -> None:
    """Every panel and query uses the ${datasource} variable, which is a Prometheus data-source variable."""
    dashboard = _dashboard()
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for panel in _panels(dashboard):
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"]), panel["title"]


def test_grafana_provisioning_matches_compose() -> None:
    """The dashboard provider reads the directory compose mounts deploy/grafana/dashboards on."""
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/crx.yml").read_text(encoding="utf-8"))
    mounts = _compose()["services"]["grafana"]["volumes"]
    assert f"../grafana/dashboards:{provider['providers'][0]['options']['path']}:ro" in mounts


def test_promtool_accepts_rules_and_config() -> None:
    """promtool accepts the rules and the Prometheus configuration (when promtool is installed)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed: rules checked by the YAML and metric-name tests only")
    subprocess.run([promtool, "check", "rules", str(DEPLOY / "prometheus/alerts.yml")], check=True, timeout=30)
    subprocess.run([promtool, "check", "config", str(DEPLOY / "prometheus/prometheus.yml")], check=True, timeout=30)


# --- compose, Dockerfile, Kubernetes ------------------------------------------------------------------------


def test_compose_commands_exist_in_cli() -> None:
    """Every crx container runs a command the crx CLI has, with options it accepts, as the matching user."""
    services = _crx_services(_compose())
    assert {"intake", "normaliser", "router", "cases", "audit", "partner-de", "partner-fr", "partner-pl"} <= set(
        services
    )
    for name, svc in services.items():
        if "entrypoint" in svc:  # a shell job: check the crx commands it calls
            invocations = re.findall(r"\bcrx\s+([a-z][\w-]*)\s+([a-z][\w-]*)\s+(--[\w-]+)", " ".join(svc["command"]))
            assert invocations, name
            for group, command, option in invocations:
                _, leaf, _ = _resolve([group, command])
                assert any(option in p.opts for p in leaf.params), f"{name}: crx {group} {command} {option}"
            continue
        _check_cli(svc["command"])
        env = svc["environment"]
        user = _principal_for(svc["command"])
        assert env["CRX_KAFKA_SASL_USERNAME"] == user, name
        assert env["CRX_KAFKA_SASL_PASSWORD"].startswith("${" + _password_var(user) + ":"), name


def test_compose_services_are_locked_down() -> None:
    """Long-running crx containers have a read-only root, mount the keys read-only and listen on 0.0.0.0."""
    for name, svc in _crx_services(_compose()).items():
        if "entrypoint" in svc:
            continue
        assert svc["read_only"] is True, name
        assert "crx-keys:/var/lib/crx/keys:ro" in svc["volumes"], name
        host = svc["environment"]["CRX_METRICS_HOST"]
        assert host == "0.0.0.0", name  # noqa: S104 - checks a setting's value, binds nothing


def test_prometheus_scrapes_every_service_ops_port() -> None:
    """The crx scrape job lists exactly the compose services with an ops port, on that port."""
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text(encoding="utf-8"))
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "crx")
    targets = {t for sc in job["static_configs"] for t in sc["targets"]}
    expected = {
        f"{name}:{_option(svc['command'], '--metrics-port')}"
        for name, svc in _crx_services(_compose()).items()
        if "--metrics-port" in svc.get("command", [])
    }
    assert targets == expected
    assert config["rule_files"] == ["alerts.yml"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """deploy/compose/gen-secrets.sh run once into a temporary directory: (directory, its .env)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: gen-secrets.sh and gen-certs.sh not exercised")
    out = tmp_path_factory.mktemp("compose")
    subprocess.run(["bash", str(DEPLOY / "compose/gen-secrets.sh"), str(out)], check=True, capture_output=True)
    env = dict(line.split("=", 1) for line in (out / ".env").read_text(encoding="utf-8").splitlines())
    return out, env


def test_compose_variables_come_from_gen_secrets(generated: tuple[Path, dict[str, str]]) -> None:
    """gen-secrets.sh writes a non-empty value for every variable the compose file interpolates."""
    _, env = generated
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE.read_text(encoding="utf-8")))
    assert used <= set(env), sorted(used - set(env))
    assert all(env.values())


def test_gen_certs_makes_a_ca_signed_broker_keystore(generated: tuple[Path, dict[str, str]]) -> None:
    """The broker certificate verifies against the CA, the keystore opens with its password, the private key
    is not left beside it, and the subject is the controller-listener super user of start-broker.sh."""
    out, env = generated
    secrets = out / "secrets"
    assert not (secrets / "broker.key").exists()
    subprocess.run(
        ["openssl", "verify", "-CAfile", str(secrets / "ca.crt"), str(secrets / "broker.crt")],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["openssl", "pkcs12", "-in", str(secrets / "broker.p12"), "-noout", "-passin", "env:PW"],
        env={"PATH": os.environ["PATH"], "PW": env["KAFKA_KEYSTORE_PASSWORD"]},
        check=True,
        capture_output=True,
    )
    subject = subprocess.run(
        ["openssl", "x509", "-in", str(secrets / "broker.crt"), "-noout", "-subject", "-nameopt", "RFC2253"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert subject.strip() == "subject=CN=kafka,O=crx"


def test_compose_settings_make_valid_kafka_clients(generated: tuple[Path, dict[str, str]]) -> None:
    """Each crx container's environment loads as Settings and gives aiokafka a SASL_SSL/SCRAM client with a
    TLS context from the generated CA (client construction validates the options; nothing connects)."""
    out, env = generated

    def interpolate(value: str) -> str:
        return re.sub(r"\$\{([A-Za-z0-9_]+)[^}]*\}", lambda m: env[m.group(1)], str(value))

    async def make_client(options: dict[str, Any]) -> None:
        AIOKafkaAdminClient(**options)

    for name, svc in _crx_services(_compose()).items():
        if "CRX_KAFKA_SASL_USERNAME" not in svc.get("environment", {}):
            continue
        environ = {k: interpolate(v) for k, v in svc["environment"].items()}
        environ["CRX_KAFKA_SSL_CAFILE"] = str(out / "secrets" / "ca.crt")
        options = client_options(load_settings(None, environ))
        assert options["security_protocol"] == "SASL_SSL" and options["sasl_mechanism"] == "SCRAM-SHA-512", name
        assert options["sasl_plain_password"] == env[_password_var(environ["CRX_KAFKA_SASL_USERNAME"])], name
        assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED, name
        asyncio.run(make_client(options))


def test_dockerfile() -> None:
    """The image is python:3.11-slim, runs as a non-root user, has `crx` as entrypoint, copies existing paths,
    and installs exactly the runtime lock with hashes (so no embedded broker and no dev tools)."""
    lines = [ln.strip() for ln in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines()]
    assert "FROM python:3.11-slim" in lines
    installs = [ln for ln in lines if "pip install" in ln]
    assert installs[0].endswith("--no-deps --require-hashes -r requirements/build.txt -r requirements/runtime.txt")
    assert all("--no-deps" in ln for ln in installs) and not any("[" in ln for ln in installs)
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    assert {"!requirements/runtime.txt", "!requirements/build.txt"} <= set(ignore)
    assert 'ENTRYPOINT ["crx"]' in lines
    users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    for line in lines:
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source


def test_k8s_deployments() -> None:
    """Deployments run CLI commands as the matching user, probe /healthz and /readyz on the ops port, and
    run non-root with a read-only root filesystem and resource limits."""
    deployments = _deployments()
    names = {d["metadata"]["name"] for d in deployments}
    assert names >= {"crx-intake", "crx-normaliser", "crx-router", "crx-cases", "crx-lookup", "crx-audit"}
    for deployment in deployments:
        pod = deployment["spec"]["template"]
        spec = pod["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        for container in spec.get("initContainers", []) + spec["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
        (container,) = spec["containers"]
        _check_cli(container["args"])
        port = int(_option(container["args"], "--metrics-port"))
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        command = " ".join(_resolve(container["args"])[0])
        api = {
            "intake run": {"api": _k8s_settings(container).intake_port},
            "audit run": {"api": _k8s_settings(container).audit_api_port},  # proofs, settlement
            "lookup run": {"api": _k8s_settings(container).lookup_port},  # POST /v1/lookups
        }.get(command, {})
        assert ports == {"ops": port} | api
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "ops"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "ops"}
        assert container["resources"]["limits"] and container["resources"]["requests"]
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
        env = {e["name"]: e for e in container["env"]}
        assert env["CRX_KAFKA_SASL_USERNAME"]["value"] == _principal_for(container["args"])
        assert "secretKeyRef" in env["CRX_KAFKA_SASL_PASSWORD"]["valueFrom"]
    settings = {
        d["metadata"]["name"]: _k8s_settings(d["spec"]["template"]["spec"]["containers"][0]) for d in deployments
    }
    assert settings["crx-audit"].audit_api_host == "0.0.0.0"  # noqa: S104 - checks a setting
    assert settings["crx-intake"].audit_api_url == f"http://crx-audit-api:{settings['crx-audit'].audit_api_port}"
    assert settings["crx-lookup"].lookup_host == "0.0.0.0"  # noqa: S104 - checks a setting
    # one sequencer; one SQLite idempotency store and token file; one SQLite index (and one rate limit)
    for name in ("crx-audit", "crx-intake", "crx-lookup"):
        single = next(d for d in deployments if d["metadata"]["name"] == name)
        assert single["spec"]["replicas"] == 1 and single["spec"]["strategy"]["type"] == "Recreate", name


def test_compose_intake_api_is_loopback_only_and_keeps_state() -> None:
    """The intake listens on 0.0.0.0 inside its container, its plain-HTTP API is published on 127.0.0.1 only
    (for a TLS-terminating proxy), and its token file, idempotency store and drop directory are on writable
    volumes. No crx container publishes a port beyond 127.0.0.1."""
    compose = _compose()
    svc = compose["services"]["intake"]
    settings = load_settings(None, {k: str(v) for k, v in svc["environment"].items()})
    assert settings.intake_host == "0.0.0.0"  # noqa: S104 - checks a setting's value, binds nothing
    assert svc["ports"] == [f"127.0.0.1:{settings.intake_port}:{settings.intake_port}"]
    for name, crx in _crx_services(compose).items():
        assert all(str(p).startswith("127.0.0.1:") for p in crx.get("ports", [])), name
    writable = {
        Path(target): source for source, target, *mode in (str(v).split(":") for v in svc["volumes"]) if mode != ["ro"]
    }
    assert writable.get(settings.data_dir) in compose["volumes"]  # named volume: starts out owned by crx
    kept = ("intake-idempotency.sqlite3", "intake-outbox.sqlite3")
    for path in (settings.intake_tokens_path, settings.drop_dir, *(settings.data_dir / name for name in kept)):
        assert any(path.is_relative_to(mount) for mount in writable), path
    audit = load_settings(None, {k: str(v) for k, v in compose["services"]["audit"]["environment"].items()})
    assert audit.audit_api_host == "0.0.0.0" and "ports" not in compose["services"]["audit"]  # noqa: S104
    assert settings.audit_api_url == f"http://audit:{audit.audit_api_port}"  # the reconciler's view of the log
    # A fresh named volume starts as a copy of the image's directory: the Dockerfile makes each one, owned by crx.
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    made = set(re.findall(r"mkdir -p ([^\\&]+)", dockerfile)[0].split()) | {str(settings.data_dir)}  # home dir
    assert f"chown -R crx:crx {settings.data_dir}" in dockerfile
    assert {str(m) for m, source in writable.items() if source in compose["volumes"]} <= made


def test_k8s_intake_api_service_and_state() -> None:
    """The intake Deployment listens on 0.0.0.0, a ClusterIP Service (not NodePort or LoadBalancer: the HTTP is
    plain) targets its api port and another its ops port, and CRX_DATA_DIR is a PersistentVolumeClaim."""
    docs = _load_all(DEPLOY / "k8s" / "intake.yaml")
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    settings = _k8s_settings(container)
    assert settings.intake_host == "0.0.0.0"  # noqa: S104 - checks a setting's value, binds nothing
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    services = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "Service"}
    assert services["crx-intake"].get("type", "ClusterIP") == "ClusterIP"
    for name, port in (("crx-intake", "api"), ("crx-intake-metrics", "ops")):
        assert services[name]["selector"].items() <= labels.items(), name
        assert [p["targetPort"] for p in services[name]["ports"]] == [port], name
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    data = mounts[str(settings.data_dir)]
    assert not data.get("readOnly", False)
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    claim = volumes[data["name"]]["persistentVolumeClaim"]["claimName"]
    assert claim in {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text(encoding="utf-8"))
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in (DEPLOY / "k8s").glob("*.yaml") if p.name != "kustomization.yaml"
    )


def _mounted(svc: dict[str, Any], path: str) -> Path:
    """The file under deploy/compose that ``path`` inside a compose container is, through its bind mounts."""
    for source, target, *_ in (str(v).split(":") for v in svc.get("volumes", [])):
        if source.startswith(".") and path.startswith(target.rstrip("/") + "/"):
            return (COMPOSE.parent / source / path[len(target.rstrip("/")) + 1 :]).resolve()
    raise AssertionError(f"{path} is not bind-mounted")


def test_compose_router_and_case_service_share_the_case_store() -> None:
    """In compose the router and the case service open the same case book: one PostgreSQL URI and schema (two
    containers with read-only roots cannot share a SQLite file), the password from one variable in PGPASSWORD,
    never in the URI. Both start after postgres-init, which runs deploy/postgres/cases-db.sh for that URI's role
    and database on the server it names, a compose service that is always started (no profile)."""
    services = _compose()["services"]
    stores = {}
    for name in ("router", "cases"):
        svc = services[name]
        env = {k: str(v) for k, v in svc["environment"].items()}
        settings = load_settings(None, env)
        assert settings.cases_db is not None and is_postgres(settings.cases_db), name
        assert "password" not in conninfo_to_dict(settings.cases_db), name
        stores[name] = (settings.cases_db, settings.cases_pg_schema, env["PGPASSWORD"])
        depends = svc["depends_on"]
        assert depends["postgres-init"] == {"condition": "service_completed_successfully"}, name
        assert {"kafka-init", "keys-init"} <= set(depends), name
    assert stores["router"] == stores["cases"]
    uri, _, password = stores["router"]
    info = conninfo_to_dict(uri)
    init = services["postgres-init"]
    assert init["entrypoint"][0] == "/bin/bash" and _mounted(init, init["entrypoint"][1]) == CASES_DB_SCRIPT
    env = init["environment"]
    assert (env["PGHOST"], env["CASES_ROLE"], env["CASES_DATABASE"]) == (info["host"], info["user"], info["dbname"])
    assert env["CASES_PASSWORD"] == password
    assert init["depends_on"] == {info["host"]: {"condition": "service_healthy"}}
    server = services[info["host"]]
    assert "profiles" not in server
    # Healthy only once it listens on TCP: on a fresh volume the image first runs a set-up server on the Unix
    # socket alone, which a pg_isready without a host would already call ready.
    probe = server["healthcheck"]["test"]
    assert probe[:2] == ["CMD", "pg_isready"] and _option(probe, "-h") == "127.0.0.1"


def test_k8s_router_and_case_service_share_the_case_store() -> None:
    """In Kubernetes the router and the case service open the same case book: one PostgreSQL URI and schema, the
    password in PGPASSWORD from one Secret key, never in the URI (the ConfigMap is not secret)."""
    deployments = {d["metadata"]["name"]: d for d in _deployments()}
    stores = {}
    for name in ("crx-router", "crx-cases"):
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        settings = _k8s_settings(container)
        assert settings.cases_db is not None and is_postgres(settings.cases_db), name
        assert "password" not in conninfo_to_dict(settings.cases_db), name
        env = {e["name"]: e for e in container["env"]}
        stores[name] = (settings.cases_db, settings.cases_pg_schema, env["PGPASSWORD"]["valueFrom"]["secretKeyRef"])
    assert stores["crx-router"] == stores["crx-cases"]


def test_cases_db_script_makes_the_case_store_role(postgres_dsn: str) -> None:
    """cases-db.sh, run as a superuser and run again with another password (idempotent), makes a LOGIN role that
    is neither superuser nor may create roles or databases, and a database it owns that PUBLIC may not connect
    to; connecting as that role, the case store creates its schema and table and keeps a case."""
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed: deploy/postgres/cases-db.sh not run")
    suffix = uuid.uuid4().hex[:12]
    role = database = f"crx_t_cases_{suffix}"
    env = {"PATH": os.environ["PATH"], "CASES_ROLE": role, "CASES_DATABASE": database}
    info = conninfo_to_dict(postgres_dsn)
    try:
        for password in ("first", "second"):
            run = [str(CASES_DB_SCRIPT), postgres_dsn]
            subprocess.run(run, env=env | {"CASES_PASSWORD": password}, check=True, capture_output=True, timeout=60)
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            query = "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = %s"
            assert conn.execute(query, (role,)).fetchone() == (True, False, False, False)
            query = "SELECT pg_get_userbyid(datdba), has_database_privilege('public', datname, 'CONNECT')"
            assert conn.execute(query + " FROM pg_database WHERE datname = %s", (database,)).fetchone() == (role, False)
        host, port = info.get("host", "127.0.0.1"), info.get("port", "5432")
        store = CaseStore(f"postgresql://{role}:second@{host}:{port}/{database}", "crx_cases")
        try:
            case = store.add(_due_case("DE", "FR", dt.datetime.now(dt.UTC)))
            assert store.get(case.case_id) == case
        finally:
            store.close()
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_readme_commands_exist() -> None:
    """The `docker compose run` and `kubectl exec ... -- crx` commands in deploy/README.md (issuing intake tokens,
    verifying the audit log) name an existing compose service or Deployment and parse with the crx CLI."""
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    services = _compose()["services"]
    runs = re.findall(r"docker compose run --rm (?:--no-deps )?([\w-]+)([^\n#`]*)", readme)
    assert ("intake", " intake token --jurisdiction DE") in [(n, a.rstrip()) for n, a in runs]
    for name, args in runs:
        assert name in services, name
        if args.split():
            assert services[name].get("image") == "crx:local", name
            _check_cli(args.split())
    deployments = {d["metadata"]["name"] for d in _deployments()}
    execs = re.findall(r"kubectl -n crx exec deploy/([\w-]+) -- crx ([^\n#`]*)", readme)
    assert any(name == "crx-intake" and args.split()[:2] == ["intake", "token"] for name, args in execs)
    for name, args in execs:
        assert name in deployments, name
        _check_cli(args.split())


def test_crx_variables_are_real_settings() -> None:
    """Every CRX_ variable deploy/ sets or documents is a Settings field (nothing invented)."""
    fields = set(Settings.__dataclass_fields__)
    texts = [p.read_text(encoding="utf-8") for p in [*_yaml_files(), DEPLOY / "README.md", DEPLOY / "Dockerfile"]]
    names = {m for text in texts for m in re.findall(r"\bCRX_([A-Z][A-Z0-9_]*)", text)}
    assert names and {n.lower() for n in names} <= fields, sorted(n for n in names if n.lower() not in fields)


# --- Kafka: broker, topics, users, ACLs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"CRX_TOPIC_PREFIX": "t1", "CRX_JURISDICTIONS": " de, IT ,PL", "CRX_TOPIC_REPLICATION": "3"},
        {"CRX_TOPIC_RETENTION_DAYS": "1.5", "CRX_DLQ_RETENTION_DAYS": "60", "CRX_AUDIT_TOPIC_RETENTION_DAYS": "0.25"},
    ],
    ids=["defaults", "custom", "retention"],
)
def test_create_topics_matches_standard_topics(tmp_path: Path, env: dict[str, str]) -> None:
    """create-topics.sh creates exactly standard_topics() for the same CRX_ settings, idempotently, with
    min.insync.replicas, the configured replication factor, and each topic's retention.ms as the services
    create it (services/kernel/topics.py): its defaults are the Settings defaults."""
    settings = load_settings(None, env)
    calls = _run_kafka_script("create-topics.sh", tmp_path, env)
    assert all(c[0] == "kafka-topics.sh" and "--if-not-exists" in c for c in calls)
    assert sorted(_option(c, "--topic") for c in calls) == sorted(standard_topics(settings))
    assert {_option(c, "--replication-factor") for c in calls} == {str(settings.topic_replication)}
    assert {_option(c, "--partitions") for c in calls} == {str(settings.topic_partitions)}
    assert all("min.insync.replicas=1" in c for c in calls)
    retention = {_option(c, "--topic"): [a for a in c if a.startswith("retention.ms=")] for c in calls}
    expected = {t: [f"retention.ms={topic_configs(settings, t)['retention.ms']}"] for t in standard_topics(settings)}
    assert retention == expected


def test_acls_grant_each_service_exactly_what_it_uses(tmp_path: Path, code: dict[str, Any]) -> None:
    """acls.sh grants each service principal Read on its inputs and group and Write on its outputs, the
    intake service and the case service Write on what they produce and Describe on the other topics their start
    checks, each intake-<J> principal Write on what `crx push` produces for its jurisdiction, and nothing more.
    Only partner J reads crx.out.<J>, and only the principals of the components that its consumers accept there
    (services/kernel/producers.py: the router, the case service) write it."""
    settings: Settings = code["settings"]
    grants = _acl_grants(_run_kafka_script("acls.sh", tmp_path, {}))
    expected = {svc.name: _grants_needed(svc, settings) for svc in code["services"]}
    expected |= {f"intake-{j}": {("Write", "topic", t) for t in topics} for j, topics in code["intake_writes"].items()}
    checks, writes = code["intake_service"]["checks"], code["intake_service"]["writes"]
    feeds = {settings.topic(f"feed.{j}") for j in settings.jurisdictions}
    assert writes == feeds | {settings.topic("audit"), settings.topic("dlq")}
    described = checks - writes  # Write implies Describe
    expected[INTAKE_PRINCIPAL] = {("Write", "topic", t) for t in writes} | {("Describe", "topic", t) for t in described}
    checks, writes = code["case_service"]["checks"], code["case_service"]["writes"]
    assert writes == {settings.topic(f"out.{j}") for j in settings.jurisdictions} | {settings.topic("audit")}
    expected[CASES_PRINCIPAL] = {("Write", "topic", t) for t in writes} | {
        ("Describe", "topic", t) for t in checks - writes
    }
    for principal, needed in expected.items():
        assert grants.get(principal) == needed, principal
    assert set(grants) == set(expected) | {"exporter"}
    assert {op for op, _, _ in grants["exporter"]} == {"Describe"}
    rules = ProducerRules(settings)
    for j in settings.jurisdictions:  # crx.out.<J>: written by the components accepted there, read by partner J
        out = settings.topic(f"out.{j}")
        writers = {component_of(party) for party in rules.allowed(out, None)}
        assert writers == {"router", CASES_PRINCIPAL}
        assert {p for p, g in grants.items() if ("Read", "topic", out) in g} == {f"partner-{j}"}
        assert {p for p, g in grants.items() if ("Write", "topic", out) in g} == writers


def test_scram_users_match_acl_principals(tmp_path: Path) -> None:
    """scram-users.sh creates a SCRAM-SHA-512 credential for exactly the principals acls.sh grants to, and
    refuses to run when a password is missing."""
    principals = set(_acl_grants(_run_kafka_script("acls.sh", tmp_path, {})))
    passwords = {_password_var(p): f"pw-{p}" for p in principals}
    calls = _run_kafka_script("scram-users.sh", tmp_path, passwords)
    assert {_option(c, "--entity-name") for c in calls} == principals
    for call in calls:
        user = _option(call, "--entity-name")
        assert _option(call, "--add-config") == f"SCRAM-SHA-512=[password=pw-{user}]"
    passwords.pop(_password_var("router"))
    with pytest.raises(subprocess.CalledProcessError):
        _run_kafka_script("scram-users.sh", tmp_path, passwords)


def test_broker_config_denies_by_default(tmp_path: Path) -> None:
    """start-broker.sh configures KRaft with SASL_SSL/SCRAM-SHA-512 and TLS only, StandardAuthorizer denying
    by default, formats storage with the admin SCRAM credential, then starts Kafka."""
    config = tmp_path / "server.properties"
    env = {"CLUSTER_ID": "x", "KEYSTORE_PASSWORD": "k", "ADMIN_PASSWORD": "a", "CONFIG": str(config)}
    calls = _run_kafka_script("start-broker.sh", tmp_path, env)
    props = dict(
        line.split("=", 1) for line in config.read_text(encoding="utf-8").splitlines() if line and line[0] != "#"
    )
    assert props["process.roles"] == "broker,controller"
    assert props["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin;User:CN=kafka,O=crx"
    protocols = {entry.split(":")[1] for entry in props["listener.security.protocol.map"].split(",")}
    assert protocols == {"SASL_SSL", "SSL"}
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["listener.name.controller.ssl.client.auth"] == "required"
    assert props["auto.create.topics.enable"] == "false"
    assert [c[0] for c in calls] == ["kafka-storage.sh", "kafka-server-start.sh"]
    assert "SCRAM-SHA-512=[name=admin,password=a]" in calls[0]
