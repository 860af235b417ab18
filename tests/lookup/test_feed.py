"""The lookup feed and the lookup core without a broker: what each record does to the index, a missing index key
waits (never a dead letter), an unaudited lookup is never answered, the request rules, the rate limit."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from adapters.base import ParseContext, get_adapter
from schemas import CANONICAL_RECORD
from schemas.records import CriminalRecord
from services.kernel.audit_events import AuditEmitter
from services.kernel.codec import typed_codec
from services.kernel.config import Settings
from services.kernel.envelope import SealContext, routing_headers
from services.kernel.errors import KeyUnavailable, TransientError, handling
from services.kernel.hop import is_hop
from services.kernel.internal import InternalSealer
from services.kernel.kafka import OutRecord
from services.kernel.metrics import ServiceMetrics
from services.kernel.runtime import Runtime
from services.keys.ring import KeyRing
from services.lookup.feed import LookupFeed
from services.lookup.keyadmin import key_store, open_index
from services.lookup.lookups import InvalidLookup, LookupRequest, Lookups, LookupUnavailable, parse_request
from services.lookup.ratelimit import RateLimiter
from services.lookup.service import LookupMetrics
from services.normaliser.service import RECORD_CONTENT_TYPE
from services.router.policy import Policy
from tests.fixtures.keys import consumed, signed

NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
QUERY = {"names": [{"given": "Jean-Testé", "family": "Musterkowski-Exemple"}], "birth_date": "1985-03-14"}
BODY = {"query": QUERY, "purpose": "CRIMINAL_PROCEEDINGS", "requesting_authority": "Parquet de Paris"}


def record(version: int, kind: str = "NOTIFICATION", **edit: Any) -> CriminalRecord:
    """DE's notification about an FR+PL national (json-v1 sample), as version ``version`` of type ``kind``."""
    doc = json.loads(dict(get_adapter("json-v1").samples())["DE-notification-fr-pl.json"])
    doc.update(version=version, type=kind, **edit)
    [parsed] = get_adapter("json-v1").parse(json.dumps(doc).encode(), ParseContext("DE", NOW))
    return parsed


class Sent:
    """Records what a lookup produced; fails on demand, as a broker that does not acknowledge."""

    def __init__(self) -> None:
        self.records: list[OutRecord] = []
        self.fail = False

    async def __call__(self, records: Sequence[OutRecord]) -> None:
        if self.fail:
            raise TransientError("broker away")
        self.records.extend(records)


@pytest.fixture
def parts(settings: Settings, keyring: KeyRing) -> Iterator[tuple[LookupFeed, Lookups, Sent, LookupMetrics]]:
    index = open_index(settings)
    registry = CollectorRegistry()
    metrics = LookupMetrics(registry)
    feed = LookupFeed(
        Runtime(settings, keyring, b"secret"), ServiceMetrics.create(registry), index=index,
        keys=key_store(settings), actions=metrics.actions,
    )  # fmt: skip
    sent = Sent()
    emitter = AuditEmitter("lookup", settings.topic("audit"), b"secret")
    lookups = Lookups(index, key_store(settings), emitter, sent, Policy.load(None), lambda: NOW)
    yield feed, lookups, sent, metrics
    index.close()


async def hits(lookups: Lookups, requester: str = "FR") -> list[tuple[str, str]]:
    answer = await lookups.lookup(requester, parse_request(BODY))
    return [(h.jurisdiction, h.match) for h in answer.hits]


async def test_versions_types_and_ended_convictions(parts: Any) -> None:
    """NOTIFICATION indexes; an older version is stale; a REQUEST is skipped; an UPDATE whose conviction a pardon
    ended leaves the index; a DELETION removes, and an older notification after it does not bring it back."""
    feed, lookups, _, _ = parts
    assert feed.apply(record(2), NOW) == "indexed"
    assert await hits(lookups) == [("DE", "exact")]
    assert feed.apply(record(1), NOW) == "stale"
    assert feed.apply(record(2), NOW) == "indexed"  # a repeat: the same rows again
    request = record(3)
    request["header"]["message_type"] = "REQUEST"
    assert feed.apply(request, NOW) == "skipped"
    pardoned = record(3, "UPDATE")
    pardoned["convictions"][0]["later_decisions"].append(
        {"kind": "PARDON", "decision_date": NOW.date(), "effective_from": NOW.date()}
    )
    assert feed.apply(pardoned, NOW) == "ended"
    assert await hits(lookups) == []
    assert feed.apply(record(4, "UPDATE"), NOW) == "indexed"
    assert feed.apply(record(5, "DELETION"), NOW) == "removed"
    assert feed.apply(record(5, "NOTIFICATION"), NOW) == "stale"
    assert await hits(lookups) == []


async def test_expiry_and_retention_passed(parts: Any, settings: Settings) -> None:
    """A record keeps its retention end as its expiry; one whose end has passed is never indexed."""
    feed, lookups, _, _ = parts
    assert feed.apply(record(1), NOW) == "indexed"
    later = NOW.replace(year=2039, month=3, day=5)
    assert feed.apply(record(2, "UPDATE"), later) == "ended"
    assert await hits(lookups) == []
    assert feed.apply(record(3, "UPDATE"), NOW) == "indexed"
    index = open_index(settings)
    assert (index.expire(dt.date(2039, 3, 4)), index.expire(dt.date(2039, 3, 5))) == (0, 1)
    index.close()
    assert await hits(lookups) == []


async def test_missing_index_key_waits(parts: Any, settings: Settings) -> None:
    """Without an index key the feed's batch is retried (never a dead letter) and a lookup is not answered."""
    feed, lookups, _, _ = parts
    keys = key_store(settings)
    for key_id in keys.key_ids():
        keys.destroy(key_id, NOW)
    with pytest.raises(KeyUnavailable) as caught:
        feed.apply(record(1), NOW)
    assert handling(caught.value) == "retry"
    with pytest.raises(KeyUnavailable):
        await hits(lookups)


async def test_audited_before_answered(parts: Any) -> None:
    """Each lookup produces one DISCLOSURE/LOOKUP event first; when it is not acknowledged nothing is answered.
    The requesting state's own records are never hits."""
    feed, lookups, sent, _ = parts
    feed.apply(record(1), NOW)
    assert await hits(lookups, "DE") == []
    assert len(sent.records) == 1
    sent.fail = True
    with pytest.raises(LookupUnavailable):
        await hits(lookups)
    assert len(sent.records) == 1


def test_request_rules() -> None:
    """Purpose and requesting authority are mandatory; the query is checked; the birth date on demand."""
    assert parse_request(BODY) == LookupRequest(parse_request(BODY).query, "CRIMINAL_PROCEEDINGS", "Parquet de Paris")
    for change, code in (
        ({"purpose": None}, "MISSING_PURPOSE"),
        ({"purpose": "criminal proceedings"}, "MISSING_PURPOSE"),
        ({"requesting_authority": ""}, "MISSING_AUTHORITY"),
        ({"query": {"names": "Jean"}}, "INVALID_QUERY"),
        ({"extra": 1}, "INVALID_QUERY"),
    ):
        body = {k: v for k, v in (BODY | change).items() if v is not None}
        with pytest.raises(InvalidLookup) as caught:
            parse_request(body)
        assert caught.value.reason_code == code
        assert "Jean" not in caught.value.detail
    undated = copy.deepcopy(BODY)
    del undated["query"]["birth_date"]  # type: ignore[attr-defined]
    assert parse_request(undated).query.birth_date is None
    with pytest.raises(InvalidLookup) as caught:
        parse_request(undated, require_birth_date=True)
    assert caught.value.reason_code == "BIRTH_DATE_REQUIRED"


def test_rate_limit_per_jurisdiction() -> None:
    """A burst, then one lookup per 1/rate; each jurisdiction has its own bucket; Retry-After in whole seconds."""
    now = [0.0]
    limiter = RateLimiter(rate_per_minute=6, burst=2, clock=lambda: now[0])
    assert [limiter.take("FR"), limiter.take("FR")] == [None, None]
    assert limiter.take("FR") == 10
    assert limiter.take("DE") is None
    now[0] = 9.0
    assert limiter.take("FR") == 1
    now[0] = 10.0
    assert limiter.take("FR") is None


@pytest.mark.parametrize("fmt", [1, 2])
async def test_the_feed_reads_either_internal_format(
    parts: Any, settings: Settings, keyring: KeyRing, fmt: int
) -> None:
    """A record on crx.records in either internal format (the normaliser's, under its batch signature) is
    opened and indexed; the same bytes under a batch signer not allowed on the topic (the router) are refused by
    the gate, never indexed."""
    feed, lookups, _, _ = parts
    config = settings.replace(internal_format=fmt)
    rec_codec = typed_codec(CANONICAL_RECORD)
    parsed = record(1)
    ctx = SealContext(channel="records", message_id=str(parsed["header"]["message_id"]), correlation_id="s-1",
                      sender="crx", recipient="crx", content_type=RECORD_CONTENT_TYPE,
                      schema_fingerprint=rec_codec.fingerprint)  # fmt: skip
    sealed_at = dt.datetime.now(dt.UTC)  # the keyring's keys are valid from when the fixture made them
    value = InternalSealer(config, keyring, "crx.normaliser", "crx").seal(rec_codec.encode(parsed), ctx, sealed_at)
    assert is_hop(value) == (fmt == 2)
    produced = [OutRecord(settings.topic("records"), value, headers=routing_headers(ctx))]
    assert await feed.handle(consumed(signed(settings, keyring, "router", produced))) != []  # its refusal event
    assert await hits(lookups) == []
    assert await feed.handle(consumed(signed(settings, keyring, "normaliser", produced))) == []
    assert await hits(lookups) == [("DE", "exact")]
