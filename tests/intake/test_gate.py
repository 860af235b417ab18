"""The bearer-token door shared by the intake's feeds and status and the lookup API (``services.intake.gate``):
every answer is counted by requester and outcome, a broken token file fails closed, and refusals are problems."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from prometheus_client import CollectorRegistry

from services.intake.gate import TokenGate
from services.intake.tokens import TokenBook


@dataclass
class Door:
    """A gate over a token file holding one DE token, with what it counted and was told of."""

    path: Path
    token: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    refused: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.gate = TokenGate(
            TokenBook.open(self.path),
            "crx_test_requests",
            "Test requests by jurisdiction and outcome",
            self.registry,
            unreadable="tokens unreadable",
            unauthorized="token required",
            on_refusal=lambda who, code: self.refused.append((who, code)),
        )

    def counted(self, who: str, outcome: str) -> float:
        labels = {"jurisdiction": who, "outcome": outcome}
        return self.registry.get_sample_value("crx_test_requests_total", labels) or 0.0


@pytest.fixture
def door(tmp_path: Path) -> Door:
    path = tmp_path / "intake-tokens.json"
    return Door(path, TokenBook.open(path).issue("DE"))


def _request(token: str | None) -> web.Request:
    return make_mocked_request("GET", "/", headers={"Authorization": f"Bearer {token}"} if token else {})


def _problem(answer: str | web.Response) -> tuple[int, str, str]:
    assert isinstance(answer, web.Response) and answer.text is not None
    assert answer.content_type == "application/problem+json"
    body = json.loads(answer.text)
    return answer.status, body["error"], body["detail"]


def test_a_valid_token_names_its_jurisdiction_and_is_not_counted_yet(door: Door) -> None:
    assert door.gate.requester(_request(door.token)) == "DE"
    assert door.counted("DE", "ok") == 0.0
    door.gate.count("DE", "ok")
    assert (door.counted("DE", "ok"), door.refused) == (1.0, [])


def test_no_token_or_a_wrong_one_is_401_with_the_challenge(door: Door) -> None:
    for token in (None, "not-a-token"):
        answer = door.gate.requester(_request(token))
        assert _problem(answer) == (401, "UNAUTHORIZED", "token required")
        assert isinstance(answer, web.Response) and answer.headers["WWW-Authenticate"] == 'Bearer realm="crx"'
    assert (door.counted("-", "unauthorized"), door.refused) == (2.0, [("-", "UNAUTHORIZED")] * 2)


def test_a_broken_token_file_fails_closed_with_503(door: Door) -> None:
    door.path.write_text("{broken")
    assert _problem(door.gate.requester(_request(door.token))) == (503, "TOKENS_UNAVAILABLE", "tokens unreadable")
    assert (door.counted("-", "unavailable"), door.refused) == (1.0, [("-", "TOKENS_UNAVAILABLE")])


def test_unavailable_is_a_counted_503_with_retry_after(door: Door) -> None:
    answer = door.gate.unavailable("DE", "AUDIT_UNAVAILABLE", "later", 5)
    assert _problem(answer) == (503, "AUDIT_UNAVAILABLE", "later") and answer.headers["Retry-After"] == "5"
    assert (door.counted("DE", "unavailable"), door.refused) == (1.0, [("DE", "AUDIT_UNAVAILABLE")])
