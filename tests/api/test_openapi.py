"""The intake and the audit API against their OpenAPI documents (``services/*/openapi.yaml``).

schemathesis sends requests built from each document (its examples, the boundaries of its schemas, random
and deliberately invalid data) over HTTP on loopback to the running services, and checks every answer: no
server error; a documented status, content type, headers and body; invalid data refused; the intake's
bearer token enforced. Every operation of a document runs, and one documented but not routed fails.
Then a fixed request for each documented answer that random data rarely meets (the intake's 202 and 413, the
audit API's 409 ...), and the documents' own examples against their schemas.

The services run in an event loop of their own thread (``LoopThread``): schemathesis calls synchronously.
The intake publishes to the session's broker, in this module's own topics (its settings' topic prefix), so
what the generated submissions publish and dead-letter goes nowhere else. Examples are bounded and
derandomised (``SETTINGS``): the same requests on every run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import threading
import urllib.request
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import hypothesis
import pytest
import requests
import schemathesis
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from schemathesis import Case, Response
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from schemas import AUDIT_EVENT
from services.app.table import SERVICES
from services.audit.api import AuditApi, AuditHttpServer
from services.audit.sqlite_store import SqliteAuditStore
from services.intake.service import IntakeService
from services.intake.tokens import TokenBook
from services.kernel import openapi
from services.kernel.codec import codec
from services.kernel.lifecycle import Component
from services.kernel.problem import PROBLEM_JSON
from services.kernel.runtime import Ports, Runtime
from services.lookup import service as lookups
from services.lookup.service import LookupService
from services.translog.notes import NoteSigner
from tests.fixtures.broker import make_settings
from tests.fixtures.keys import make_keyring
from tests.integration.helpers import sample

T = TypeVar("T")
ApiCase = Case[Any]
JURISDICTION = "DE"
MAX_BODY = 1024  # the intake's payload limit here: a small one, so the 413 request below is small too
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
SETTINGS = hypothesis.settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
)


def _schema(package: str) -> OpenApiSchema:
    """The document shipped in ``package``, with schemathesis' defaults (no schemathesis.toml is read)."""
    return schemathesis.openapi.from_dict(openapi.document(package), config=SchemathesisConfig())


# schemathesis 4.32 draws from the random module inside its strategies; hypothesis warns about it (theirs to fix)
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")

INTAKE = _schema("services.intake")
AUDIT = _schema("services.audit")
LOOKUP = _schema("services.lookup")
BROKERED = ("services.intake", "services.lookup")  # APIs whose fixture needs the session's broker


class LoopThread:
    """An asyncio event loop running in a thread of its own; ``run`` runs a coroutine there and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="api-under-test", daemon=True)

    def __enter__(self) -> LoopThread:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        self.loop.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run ``coro`` in the loop's thread and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


async def routed(app: web.Application, document: dict[str, Any]) -> frozenset[tuple[str, str]]:
    """The operations of ``document`` (method, path template) that ``app``'s router has a handler for: the
    router itself is asked, so sub-applications and any way of adding routes count."""
    found = set()
    for path, item in document["paths"].items():
        for method in item:
            concrete = re.sub(r"\{[^}/]+\}", "x", path)
            match = await app.router.resolve(make_mocked_request(method.upper(), concrete))
            if match.http_exception is None:
                found.add((method.upper(), path))
    return frozenset(found)


@dataclass(frozen=True)
class Served:
    """A running API: its base URL, the operations of its document it routes, the headers every request
    carries, and ids of things it holds (``known``)."""

    url: str
    routed: frozenset[tuple[str, str]]
    headers: dict[str, str]
    known: dict[str, str] = field(default_factory=dict)

    def require_routed(self, method: str, path: str) -> None:
        """Fail, naming the operation, where the document describes an operation this build does not route."""
        if (method.upper(), path) not in self.routed:
            pytest.fail(f"{method.upper()} {path} is documented, but this build does not route it")


@pytest.fixture(scope="module")
def intake(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The intake service on a free port, publishing to the session's broker; a token for DE, and the id of
    one accepted submission (``known["submission_id"]``)."""
    settings = make_settings(kafka_bootstrap, tmp_path_factory.mktemp("intake") / "data")
    settings = settings.replace(max_payload_bytes=MAX_BODY)
    keyring = make_keyring(settings)

    async def start() -> tuple[IntakeService, Component]:
        runtime = Runtime.create(settings, keyring)
        log = SERVICES["audit"](runtime, ports=Ports())  # the status route answers from the audit log
        await log.start()
        service = IntakeService(runtime, http_port=0)
        await service.start()
        return service, log

    with LoopThread() as loop:
        service, log = loop.run(start())
        try:
            auth = {"Authorization": f"Bearer {service.tokens.issue(JURISDICTION)}"}
            url = f"{service.http.url}/v1/feeds/{JURISDICTION}"
            submit = urllib.request.Request(url, data=b"{}", headers={**auth, "Crx-Adapter": "json-v1"})  # noqa: S310
            with urllib.request.urlopen(submit, timeout=30) as submitted:  # noqa: S310 - loopback
                known = {"submission_id": json.loads(submitted.read())["submission_id"]}
            operations = loop.run(routed(service.api.app(), openapi.document("services.intake")))
            yield Served(service.http.url, operations, auth, known)
        finally:
            loop.run(service.stop())
            loop.run(log.stop())


def _event(event_type: str, event_id: str | None = None) -> bytes:
    return codec(AUDIT_EVENT).encode(
        {
            "event_id": event_id or str(uuid.uuid4()),
            "event_type": event_type,
            "occurred_at": dt.datetime.now(dt.UTC),
            "component": "router",
            "actor": "crx",
            "recipients": ["FR"],
            "purpose": "CRIMINAL_PROCEEDINGS",
            "outcome": "ok",
        }
    )


def _proof_examples() -> dict[str, str]:
    """The event ids the audit document gives as examples, by name (``signed``, ``notYetSigned``)."""
    [parameter] = openapi.document("services.audit")["paths"]["/v1/proof/{event_id}"]["get"]["parameters"]
    return {name: example["value"] for name, example in parameter["examples"].items()}


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The audit API over a log of 25 events, signed at sizes 10 and 20: the document's example ``signed``
    event is the sixth, its ``notYetSigned`` one the 23rd (after the latest checkpoint)."""
    ids = _proof_examples()
    signer = NoteSigner("crx/audit", Ed25519PrivateKey.generate())
    store = SqliteAuditStore(str(tmp_path_factory.mktemp("audit") / "audit.sqlite3"), origin="crx/audit")
    store.append([_event("DISCLOSURE", ids["signed"] if i == 5 else None) for i in range(10)], signers=[signer])
    store.append([_event("REFUSAL") for _ in range(10)], signers=[signer])
    store.append([_event("DISCLOSURE", ids["notYetSigned"] if i == 2 else None) for i in range(5)])
    api = AuditApi(store)
    server = AuditHttpServer(api, "127.0.0.1", 0)
    with LoopThread() as loop:
        loop.run(server.start())
        try:
            operations = loop.run(routed(api.app(), openapi.document("services.audit")))
            yield Served(server.url, operations, {}, ids)
        finally:
            loop.run(server.stop())
            store.close()


@pytest.fixture(scope="module")
def lookup(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The lookup service on a free port, its audit events to the session's broker; a token for DE (a large
    burst: the generated requests are not rate-limited)."""
    settings = make_settings(kafka_bootstrap, tmp_path_factory.mktemp("lookup") / "data")
    settings = settings.replace(lookup_burst=100_000)
    keyring = make_keyring(settings)

    async def start() -> LookupService:
        service = lookups.build(Runtime.create(settings, keyring), ports=Ports(api=0))
        await service.start()
        return service

    with LoopThread() as loop:
        service = loop.run(start())
        try:
            auth = {"Authorization": f"Bearer {TokenBook.open(settings.intake_tokens_path).issue(JURISDICTION)}"}
            operations = loop.run(routed(service.api.handler.app(), openapi.document("services.lookup")))
            yield Served(service.api.url, operations, auth)
        finally:
            loop.run(service.stop())


def _generated(case: ApiCase, served: Served, *checks: Callable[..., Any]) -> None:
    served.require_routed(case.operation.method, case.operation.path)
    case.call_and_validate(base_url=served.url, headers=served.headers, checks=[*CONFORMANCE, *checks])


@INTAKE.parametrize()
@SETTINGS
def test_intake_answers_generated_requests_as_documented(case: ApiCase, intake: Served) -> None:
    """Every intake operation, with DE's token: documented answers only, invalid data refused, the token
    enforced (ignored_auth sends each accepted request again without a token and with a wrong one)."""
    _generated(case, intake, negative_data_rejection, ignored_auth)


@AUDIT.parametrize()
@SETTINGS
def test_audit_api_answers_generated_requests_as_documented(case: ApiCase, audit: Served) -> None:
    """Every audit API operation: documented answers only, invalid data refused."""
    _generated(case, audit, negative_data_rejection)


@LOOKUP.parametrize()
@SETTINGS
def test_lookup_api_answers_generated_requests_as_documented(case: ApiCase, lookup: Served) -> None:
    """Every lookup API operation, with DE's token: documented answers only, invalid data refused, the token
    enforced."""
    _generated(case, lookup, negative_data_rejection, ignored_auth)


def test_every_answer_of_the_lookup_api_is_as_documented(lookup: Served) -> None:
    """One request for each documented answer of a lookup: 200 (no hit in an empty index), 400 (no purpose, no
    authority), 401, 403 (a purpose DE may not make requests for), 413."""
    ask = LOOKUP["/v1/lookups"]["POST"]
    body = {"query": {"names": [{"given": "Erika", "family": "Beispielfrau"}]}, "purpose": "CRIMINAL_PROCEEDINGS",
            "requesting_authority": "Staatsanwaltschaft Musterstadt"}  # fmt: skip

    def post(payload: Any, status: int, *, token: bool = True) -> Response:
        case = ask.Case(headers=dict(lookup.headers) if token else {}, body=payload, media_type="application/json")
        return _answers(lookup, case, status)

    assert post(body, 200).json()["hits"] == []
    codes = [
        post({**body, "purpose": "x"}, 400),
        post({k: v for k, v in body.items() if k != "requesting_authority"}, 400),
        post(body, 401, token=False),
        post({**body, "purpose": "NO_SUCH_PURPOSE"}, 403),
        post({**body, "requesting_authority": "x" * 70_000}, 413),
    ]
    assert [c.json()["error"] for c in codes] == [
        "MISSING_PURPOSE", "MISSING_AUTHORITY", "UNAUTHORIZED", "PURPOSE_NOT_AGREED", "PAYLOAD_TOO_LARGE",
    ]  # fmt: skip


def _answers(served: Served, case: ApiCase, status: int) -> Response:
    """Send ``case`` as it is (no headers added) and check the answer has ``status`` and is as documented."""
    response = case.call(base_url=served.url)
    assert response.status_code == status, response.text
    case.validate_response(response, checks=CONFORMANCE)
    return response


def _header(response: Response, name: str) -> str:
    [value] = response.headers[name.lower()]
    return value


def test_every_answer_of_the_intake_is_as_documented(intake: Served) -> None:
    """One request for each documented answer of a submission, each checked against the document: 202 (and
    its replay), 400 (no adapter, two different adapters, a bad key), 401, 403, 413 (and its replay), 422 (an
    unknown adapter; a key reused with another body). Errors are problem details whose type names the code."""
    submit = INTAKE["/v1/feeds/{jurisdiction}"]["POST"]
    body, big = sample("DE-notification-fr.json"), b"x" * (MAX_BODY + 1)
    key = f"k-{uuid.uuid4()}"

    def post(payload: bytes, status: int, jurisdiction: str = JURISDICTION, *, token: bool = True,
             adapter: str | None = "json-v1", idempotency_key: str | None = None,
             query: dict[str, str] | None = None) -> Response:  # fmt: skip
        headers = dict(intake.headers) if token else {}
        headers |= {"Crx-Adapter": adapter} if adapter is not None else {}
        headers |= {"Idempotency-Key": idempotency_key} if idempotency_key is not None else {}
        case = submit.Case(path_parameters={"jurisdiction": jurisdiction}, headers=headers, query=query,
                           body=payload, media_type="application/json")  # fmt: skip
        return _answers(intake, case, status)

    first = post(body, 202, idempotency_key=key)
    again = post(body, 202, idempotency_key=key)
    assert again.json() == first.json() and _header(again, "Idempotent-Replayed") == "true"
    problems = [
        post(body, 400, adapter=None),
        post(body, 400, query={"adapter": "ecris-xml"}),
        post(body, 400, idempotency_key="a b"),
        post(body, 401, token=False),
        post(body, 403, "FR"),
        post(big, 413, idempotency_key=f"{key}-big"),
        post(big, 413, idempotency_key=f"{key}-big"),
        post(body, 422, adapter="no-such-adapter"),
        post(body + b" ", 422, idempotency_key=key),
    ]
    codes = [p.json()["error"] for p in problems]
    assert codes == ["MISSING_ADAPTER", "MISSING_ADAPTER", "INVALID_IDEMPOTENCY_KEY", "UNAUTHORIZED",
                     "FORBIDDEN_JURISDICTION", "PAYLOAD_TOO_LARGE", "PAYLOAD_TOO_LARGE", "UNKNOWN_ADAPTER",
                     "IDEMPOTENCY_KEY_REUSED"]  # fmt: skip
    assert all(_header(p, "Content-Type").startswith(PROBLEM_JSON) for p in problems)
    assert all(p.json()["type"] == "urn:crx:problem:" + p.json()["error"].lower().replace("_", "-") for p in problems)
    assert _header(problems[6], "Idempotent-Replayed") == "true" and problems[6].json() == problems[5].json()
    assert problems[5].json()["submission_id"] and problems[7].json()["reason"] == "UNKNOWN_ADAPTER"


def test_a_known_submission_is_answered_as_documented(intake: Served) -> None:
    """GET /v1/submissions/{id}: 200 for a submission of the token's jurisdiction, 404 for an unknown one, 401
    without a token: each as documented."""
    intake.require_routed("GET", "/v1/submissions/{submission_id}")
    status = INTAKE["/v1/submissions/{submission_id}"]["GET"]
    known = intake.known["submission_id"]
    answer = _answers(intake, status.Case(path_parameters={"submission_id": known}, headers=intake.headers), 200)
    assert answer.json()["submission_id"] == known
    _answers(intake, status.Case(path_parameters={"submission_id": str(uuid.uuid4())}, headers=intake.headers), 404)
    _answers(intake, status.Case(path_parameters={"submission_id": known}), 401)


def test_every_answer_of_the_audit_api_is_as_documented(audit: Served) -> None:
    """One request for each documented answer that generated requests may miss, each checked against the
    document: a proof (200), one not yet signed (409 with Retry-After), a body too large for settlement (413)."""
    proof = AUDIT["/v1/proof/{event_id}"]["GET"]
    _answers(audit, proof.Case(path_parameters={"event_id": audit.known["signed"]}), 200)
    later = _answers(audit, proof.Case(path_parameters={"event_id": audit.known["notYetSigned"]}), 409)
    assert int(_header(later, "Retry-After")) > 0
    settle = AUDIT["/v1/settlement"]["POST"]
    huge: list[Any] = ["x" * 1024] * 1100  # over aiohttp's default client_max_size (1 MiB)
    too_large = _answers(audit, settle.Case(body={"submission_ids": huge}, media_type="application/json"), 413)
    assert too_large.json()["error"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize(
    "package", [*(pytest.param(p, marks=pytest.mark.integration) for p in BROKERED), "services.audit"]
)
def test_each_service_serves_the_document_it_ships(package: str, request: pytest.FixtureRequest) -> None:
    """GET /openapi.json is the document shipped in the package (JSON), and a valid OpenAPI 3.1 document."""
    served: Served = request.getfixturevalue(package.rsplit(".", 1)[1])
    with urllib.request.urlopen(f"{served.url}/openapi.json", timeout=10) as response:  # noqa: S310 - loopback
        assert response.headers["Content-Type"].startswith("application/json")
        assert json.loads(response.read()) == openapi.document(package)
    loaded = schemathesis.openapi.from_url(f"{served.url}/openapi.json", config=SchemathesisConfig())
    loaded.validate()
    assert loaded.raw_schema["openapi"].startswith("3.1.")


@pytest.mark.parametrize(
    "package", [*(pytest.param(p, marks=pytest.mark.integration) for p in BROKERED), "services.audit"]
)
def test_every_documented_operation_is_routed(package: str, request: pytest.FixtureRequest) -> None:
    """Every documented operation is routed, so no operation's tests are skipped unnoticed."""
    served: Served = request.getfixturevalue(package.rsplit(".", 1)[1])
    document = openapi.document(package)
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert documented <= served.routed


def _examples(document: dict[str, Any], content: dict[str, Any]) -> list[Any]:
    """The examples of a media type object: its own, and its schema component's."""
    found = [content["example"]] if "example" in content else []
    found += [example["value"] for example in content.get("examples", {}).values()]
    ref = content.get("schema", {}).get("$ref", "")
    component = document["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {}) if ref else {}
    return found + ([component["example"]] if "example" in component else [])


@pytest.mark.parametrize("package", ["services.intake", "services.audit", "services.lookup"])
def test_the_documents_examples_are_answers_they_describe(package: str) -> None:
    """Every example answer in a document is valid for its operation, status and media type (what a reader
    copies from the document is what the API answers)."""
    document, schema = openapi.document(package), _schema(package)
    checked = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            parameters = {p["name"]: "x" for p in operation.get("parameters", []) if p.get("in") == "path"}
            case = schema[path][method.upper()].Case(path_parameters=parameters)
            for status, answer in operation["responses"].items():
                if "$ref" in answer:
                    answer = document["components"]["responses"][answer["$ref"].rsplit("/", 1)[-1]]
                for media, content in answer.get("content", {}).items():
                    for example in _examples(document, content):
                        body = example.encode() if isinstance(example, str) else json.dumps(example).encode()
                        sent = requests.Request(method.upper(), f"http://127.0.0.1{path}").prepare()
                        response = Response(int(status), {"content-type": [media]}, body, sent, 0.0, True)
                        case.validate_response(response, checks=[content_type_conformance, response_schema_conformance])
                        checked += 1
    assert checked >= 5
