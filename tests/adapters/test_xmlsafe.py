"""The hostile-XML guard every XML adapter parses through."""

from __future__ import annotations

import time
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import FORBIDDEN_CONSTRUCT, LIMIT_EXCEEDED, MALFORMED, PAYLOAD_TOO_LARGE, AdapterError
from adapters.kit.xmlsafe import XmlLimits, local_name, parse_xml
from tests.adapters.wallclock import wallclock_limit


def billion_laughs(levels: int = 10) -> bytes:
    """The classic entity-expansion bomb: 10^levels copies of 'lol' if expanded."""
    entities = ['<!ENTITY lol0 "lol">']
    entities += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)]
    return f'<?xml version="1.0"?><!DOCTYPE lolz [{"".join(entities)}]><lolz>&lol{levels - 1};</lolz>'.encode()


HOSTILE = {
    "billion-laughs": billion_laughs(),
    "external-entity": b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
    "external-dtd": b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><r/>',
    "parameter-entity": b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p"> %p;]><r/>',
    "doctype-in-utf16": '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>'.encode(
        "utf-16"
    ),
    "quadratic-blowup": b'<!DOCTYPE r [<!ENTITY a "' + b"x" * 50_000 + b'">]><r>' + b"&a;" * 50_000 + b"</r>",
    "laughs-in-utf16be": billion_laughs().replace(b'"1.0"', b'"1.0" encoding="UTF-16"').decode().encode("utf-16-be"),
    "laughs-in-utf32": billion_laughs().replace(b'"1.0"', b'"1.0" encoding="UTF-32"').decode().encode("utf-32"),
    "laughs-in-ebcdic": billion_laughs().replace(b'"1.0"', b'"1.0" encoding="IBM037"').decode().encode("cp037"),
    "laughs-behind-a-long-comment": b"<!--" + b"-x" * 100_000 + b"-->" + billion_laughs(),
}


@pytest.mark.wallclock
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_doctypes_and_entities_are_refused_before_expansion(name: str) -> None:
    """Any DOCTYPE is FORBIDDEN_CONSTRUCT, quickly, with no entity expanded and no network or file access."""
    limit = wallclock_limit(2.0)
    started = time.perf_counter()
    with pytest.raises(AdapterError) as refused:
        parse_xml(HOSTILE[name])
    assert refused.value.reason_code == FORBIDDEN_CONSTRUCT
    assert time.perf_counter() - started < limit
    assert "passwd" not in str(refused.value) and "lol" not in str(refused.value)


@pytest.mark.wallclock
def test_a_100_mb_document_is_refused_at_once_with_bounded_memory() -> None:
    """A document over the byte limit is refused before parsing: no allocation proportional to its size."""
    limit = wallclock_limit(2.0)
    huge = b"<r>" + b"<a>x</a>" * (100 * 1024 * 1024 // 8) + b"</r>"
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(AdapterError) as refused:
            parse_xml(huge)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.reason_code == PAYLOAD_TOO_LARGE
    assert time.perf_counter() - started < limit
    assert peak < 1024 * 1024


@pytest.mark.parametrize(
    "payload",
    [
        b"<a>" * 10_000 + b"</a>" * 10_000,
        b"<a>" * 300,
        b"<r>" + b" " * 253 + b"<a>" * 300,
        b"<abcdefgh>" * 300,
        b"<a\n>" * 1_000,
        b"\xff\xfe" + ("<a>" * 300).encode("utf-16-le"),
    ],
    ids=["10k", "300-unclosed", "offset", "long-names", "newlines", "utf16"],
)
def test_our_depth_limit_trips_before_libxml2s_own(payload: bytes) -> None:
    """However the nesting is laid out, the refusal is our LIMIT_EXCEEDED at depth 48, never libxml2's
    error at 256 (which lxml 6.2 reports before the events of the same chunk)."""
    with pytest.raises(AdapterError) as deep:
        parse_xml(payload)
    assert deep.value.reason_code == LIMIT_EXCEEDED
    assert str(deep.value) == "XML nesting deeper than 48"


def test_a_depth_limit_libxml2_could_overtake_is_refused() -> None:
    """XmlLimits refuses a depth limit so high that libxml2's own would trip first."""
    with pytest.raises(ValueError, match="max_depth"):
        XmlLimits(max_depth=250)
    assert XmlLimits(max_depth=100).max_depth == 100


def test_libxml2_resource_limits_are_limit_exceeded() -> None:
    """A limit of libxml2's own (a name over 50,000 characters) is LIMIT_EXCEEDED, not MALFORMED."""
    with pytest.raises(AdapterError) as refused:
        parse_xml(b"<" + b"a" * 60_000 + b"/>")
    assert refused.value.reason_code == LIMIT_EXCEEDED


def test_depth_and_element_count_are_bounded_while_parsing() -> None:
    """Deep nesting and element floods stop at the limit, not at the end of the document."""
    with pytest.raises(AdapterError) as deep:
        parse_xml(b"<a>" * 10_000 + b"</a>" * 10_000)
    assert deep.value.reason_code == LIMIT_EXCEEDED
    flood = b"<r>" + b"<a/>" * 1_000 + b"</r>"
    with pytest.raises(AdapterError) as many:
        parse_xml(flood, XmlLimits(max_elements=500))
    assert many.value.reason_code == LIMIT_EXCEEDED
    assert parse_xml(flood, XmlLimits(max_elements=1_001)).tag == "r"


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x00\x01\x02", b"<a><b></a>", b"<a>\xc3\x28</a>", b"<a>", b"<a/><b/>", b"\xff\xfe<\x00a\x00",
     b'<?xml version="1.0" encoding="x-no-such-enc"?><a/>'],
)  # fmt: skip
def test_broken_documents_are_malformed(payload: bytes) -> None:
    """Empty, binary, unbalanced, invalid UTF-8, truncated, unknown encodings, two roots: MALFORMED."""
    with pytest.raises(AdapterError) as refused:
        parse_xml(payload)
    assert refused.value.reason_code == MALFORMED


def test_valid_namespaced_document_parses_without_comments_or_pis() -> None:
    """A clean document comes back as its root; comments and processing instructions are dropped."""
    root = parse_xml(b'<?xml version="1.0"?><m:r xmlns:m="urn:x"><!-- c --><?pi x?><m:a>1</m:a></m:r>')
    assert local_name(root) == "r" and root.nsmap == {"m": "urn:x"}
    assert [local_name(child) for child in root] == ["a"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_give_a_root_or_an_adapter_error(data: bytes) -> None:
    """Whatever the bytes, the guard returns an element or raises AdapterError, nothing else."""
    try:
        parse_xml(b"<r>" + data + b"</r>")
        parse_xml(data)
    except AdapterError:
        pass
