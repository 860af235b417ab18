"""The shared adapter conformance suite: every adapter registered under ``crx.adapters`` must pass it.

Parametrised over ``adapters.base.available()``, so a new adapter is covered as soon as its entry point is
installed. Sample file names start with the sending jurisdiction (``DE-...``); that is the feed the sample
is parsed as.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import Adapter, AdapterError, ParseContext, available, get_adapter
from adapters.kit.countries import check_country
from schemas import CANONICAL_RECORD
from schemas.records import CriminalRecord
from services.kernel.codec import typed_codec
from services.kernel.errors import AdapterNotFound
from tests.adapters.harness import RECEIVED

ADAPTERS = available()
# Byte strings that matter to most text formats; mutations splice them in besides random bytes.
TOKENS = [b'"', b"{", b"}", b"[", b"]", b",", b":", b"<", b">", b"&", b"\\", b"\\ud800", b"null", b"NaN", b"1e999",
          b"-1", b"99999999999999999999", b"\x00", b"\xff", b"\xc3", b"\n"]  # fmt: skip
MODEST = settings(max_examples=200, deadline=None)


def context_for(sample_name: str) -> ParseContext:
    """The feed a sample belongs to: the jurisdiction its file name starts with."""
    return ParseContext(jurisdiction=sample_name.split("-", 1)[0], received_at=RECEIVED)


def assert_valid(records: list[CriminalRecord]) -> None:
    """Every record encodes with the canonical codec and decodes back to the same message id, and keeps the
    rules of the case fields (``assert_case_fields``)."""
    canonical = typed_codec(CANONICAL_RECORD)
    for record in records:
        decoded = canonical.decode(canonical.encode(record))
        assert str(decoded["header"]["message_id"]) == record["header"]["message_id"]
        assert_case_fields(record)


def assert_case_fields(record: CriminalRecord) -> None:
    """The case fields fit the message type: every RESPONSE has an outcome (except one asking for more
    information, which has none and no conviction), and no other type has one; CONVICTIONS_FOUND comes with
    convictions and NO_RECORD without; only a REQUEST names a requesting authority; a cancellation or more
    information is a REQUEST and a request for more information a RESPONSE, each replying to a request."""
    head = record["header"]
    message_type, case, outcome = head["message_type"], head["case_message"], head["outcome"]
    asks_more = case == "MORE_INFORMATION_REQUEST"
    assert (outcome is not None) == (message_type == "RESPONSE" and not asks_more), head
    if outcome == "CONVICTIONS_FOUND":
        assert record["convictions"], head
    if outcome == "NO_RECORD" or asks_more:
        assert not record["convictions"], head
    assert head["requesting_authority"] is None or message_type == "REQUEST", head
    if case is not None:
        assert message_type == ("RESPONSE" if asks_more else "REQUEST"), head
        assert head["reply_to"] is not None, head


def _sample_params() -> list[Any]:
    params: list[Any] = []
    for name in ADAPTERS:
        samples = get_adapter(name).samples()
        if not samples:  # a parameter that fails, so an adapter without samples cannot pass by having none
            params.append(pytest.param(name, None, id=f"{name}:NO-SAMPLES"))
        params.extend(pytest.param(name, sample, id=f"{name}:{sample}") for sample, _ in samples)
    return params


def _sample(adapter: Adapter, sample_name: str) -> bytes:
    return dict(adapter.samples())[sample_name]


def test_registry_is_not_empty() -> None:
    """At least the json-v1 adapter is registered, so the parametrised tests below really run."""
    assert "json-v1" in ADAPTERS
    assert sorted(ADAPTERS) == ADAPTERS


def test_unknown_adapter_lists_the_registered_names() -> None:
    """Asking for an unregistered adapter raises AdapterNotFound naming every valid adapter."""
    with pytest.raises(AdapterNotFound) as info:
        get_adapter("nope")
    for name in ADAPTERS:
        assert name in str(info.value)


@pytest.mark.parametrize("adapter_name", ADAPTERS)
def test_adapter_satisfies_the_protocol(adapter_name: str) -> None:
    """The registered object is an Adapter whose name is its registry name, loaded once."""
    adapter = get_adapter(adapter_name)
    assert isinstance(adapter, Adapter)
    assert adapter.name == adapter_name
    assert get_adapter(adapter_name) is adapter


@pytest.mark.parametrize("adapter_name", ADAPTERS)
def test_adapter_ships_named_samples(adapter_name: str) -> None:
    """Every adapter ships samples, sorted by name, each named after an assigned jurisdiction code."""
    samples = get_adapter(adapter_name).samples()
    assert samples, f"{adapter_name} ships no samples"
    names = [name for name, _ in samples]
    assert names == sorted(names)
    for name in names:
        check_country(name.split("-", 1)[0], name)


@pytest.mark.parametrize(("adapter_name", "sample_name"), _sample_params())
def test_sample_parses_into_schema_valid_records(adapter_name: str, sample_name: str | None) -> None:
    """Each sample parses into at least one record of its feed's jurisdiction that the canonical codec
    encodes and decodes; parsing it twice gives the same message ids."""
    if sample_name is None:
        pytest.fail(f"adapter {adapter_name} ships no samples")
    adapter = get_adapter(adapter_name)
    payload = _sample(adapter, sample_name)
    ctx = context_for(sample_name)
    records = adapter.parse(payload, ctx)
    assert records
    assert_valid(records)
    assert {r["header"]["source_jurisdiction"] for r in records} == {ctx.jurisdiction}
    again = adapter.parse(payload, ParseContext(ctx.jurisdiction, RECEIVED + dt.timedelta(hours=1)))
    assert [r["header"]["message_id"] for r in again] == [r["header"]["message_id"] for r in records]


def test_samples_show_an_answered_an_unanswered_request_and_an_orphan_response() -> None:
    """Across every adapter's samples (what ``crx demo`` pushes): a request that a response answers, a request
    that none answers, and an orphan response, whose reply_to names no request of the samples; every response
    has an outcome and some request names its requesting authority."""
    records = [
        record
        for name in ADAPTERS
        for sample, payload in get_adapter(name).samples()
        for record in get_adapter(name).parse(payload, context_for(sample))
    ]
    requests = {r["header"]["message_id"]: r for r in records if r["header"]["message_type"] == "REQUEST"}
    responses = [r["header"] for r in records if r["header"]["message_type"] == "RESPONSE"]
    answered = {head["reply_to"] for head in responses}
    assert answered & set(requests), "no sample request is answered"
    assert set(requests) - answered, "every sample request is answered"
    assert answered - set(requests), "no sample response is an orphan"
    assert all(head["outcome"] is not None for head in responses)
    assert any(r["header"]["requesting_authority"] for r in requests.values())


@pytest.mark.parametrize("adapter_name", ADAPTERS)
@MODEST
@given(payload=st.binary(max_size=4096))
def test_arbitrary_bytes_raise_only_adapter_error(adapter_name: str, payload: bytes) -> None:
    """Arbitrary bytes give valid records or AdapterError, never any other exception."""
    try:
        records = get_adapter(adapter_name).parse(payload, ParseContext("DE", RECEIVED))
    except AdapterError:
        return
    assert_valid(records)


@st.composite
def mutated(draw: st.DrawFn, sample: bytes) -> bytes:
    """``sample`` after one to eight random byte flips, truncations, deletions or insertions."""
    data = bytearray(sample)
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "truncate", "delete", "insert", "token"]))
        pos = draw(st.integers(0, len(data)))
        if op == "flip" and pos < len(data):
            data[pos] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del data[pos:]
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 32))]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "token":
            data[pos:pos] = draw(st.sampled_from(TOKENS))
    return bytes(data)


@pytest.mark.parametrize("adapter_name", ADAPTERS)
@MODEST
@given(data=st.data())
def test_mutated_samples_raise_only_adapter_error(adapter_name: str, data: st.DataObject) -> None:
    """Real samples with random byte damage give valid records or AdapterError, never anything else."""
    adapter = get_adapter(adapter_name)
    samples = adapter.samples()
    assert samples, f"{adapter_name} ships no samples"
    sample_name, sample = data.draw(st.sampled_from(samples), label="sample")
    payload = data.draw(mutated(sample), label="payload")
    try:
        records = adapter.parse(payload, context_for(sample_name))
    except AdapterError:
        return
    assert_valid(records)
