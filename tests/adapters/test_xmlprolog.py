"""Reading a document type declaration from an XML prolog's bytes, before any parser runs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.kit.xmlprolog import declares_doctype, detect_encoding

DOCTYPE_DOC = '<?xml version="1.0" encoding="{enc}"?>\n<!-- c --><?pi x?>\n<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>'
CLEAN_DOC = '<?xml version="1.0" encoding="{enc}"?>\n<!-- <!DOCTYPE r> --><?pi <!DOCTYPE?>\n<r><!DOCTYPE/></r>'


@pytest.mark.parametrize(
    ("codec", "bom", "expected"),
    [
        ("utf-8", b"", "latin-1"),
        ("utf-8", b"\xef\xbb\xbf", "utf-8"),
        ("utf-16-le", b"\xff\xfe", "utf-16-le"),
        ("utf-16-be", b"\xfe\xff", "utf-16-be"),
        ("utf-16-le", b"", "utf-16-le"),
        ("utf-16-be", b"", "utf-16-be"),
        ("utf-32-le", b"\xff\xfe\x00\x00", "utf-32-le"),
        ("utf-32-be", b"\x00\x00\xfe\xff", "utf-32-be"),
        ("utf-32-le", b"", "utf-32-le"),
        ("utf-32-be", b"", "utf-32-be"),
        ("cp500", b"", "cp500"),
        ("cp037", b"", "cp037"),
        ("iso-8859-1", b"", "latin-1"),
        ("shift_jis", b"", "latin-1"),
    ],
)
def test_a_doctype_is_found_in_every_encoding_xml_allows(codec: str, bom: bytes, expected: str) -> None:
    """Appendix F detection: with or without a byte order mark, a DOCTYPE after the XML declaration, a comment
    and a processing instruction is found; the same markup inside comments, PIs and the root element is not."""
    assert expected in detect_encoding(bom + DOCTYPE_DOC.format(enc=codec).encode(codec))[0]
    assert declares_doctype(bom + DOCTYPE_DOC.format(enc=codec).encode(codec))
    assert not declares_doctype(bom + CLEAN_DOC.format(enc=codec).encode(codec))


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"<!DOCTYPE r><r/>", True),
        (b"  \r\n\t<!doctype r><r/>", True),  # any case: libxml2 would call it malformed, it is refused either way
        (b"<!DOCTYPE", True),
        (b"<r/><!DOCTYPE r>", False),  # after the root it is not a prolog: the parser calls it malformed
        (b"<!-- never closed <!DOCTYPE r>", False),
        (b"<?pi never closed <!DOCTYPE r>", False),
        (b"<!DOC", False),
        (b"", False),
        (b"garbage <!DOCTYPE r>", False),
        (b"<!ELEMENT r ANY><r/>", False),
    ],
)
def test_only_the_prolog_is_read(payload: bytes, expected: bool) -> None:
    """Whitespace, comments and PIs are skipped; the first other thing decides; a cut-off prolog is no DOCTYPE."""
    assert declares_doctype(payload) is expected


@pytest.mark.parametrize("pad", [4080, 4085, 4090, 4093, 4096, 16_370, 16_380, 65_530, 1_000_000])
def test_a_doctype_behind_a_huge_comment_is_found_across_windows(pad: int) -> None:
    """The prolog is read in growing windows: a comment of any length, ending anywhere near a window's edge,
    does not hide the DOCTYPE behind it, in UTF-8 or UTF-16."""
    text = "<!--" + "x" * pad + "-->\n<!DOCTYPE r [<!ENTITY a 'b'>]><r/>"
    assert declares_doctype(text.encode())
    assert declares_doctype(b"\xff\xfe" + text.encode("utf-16-le"))
    assert not declares_doctype(text.replace("<!DOCTYPE r [<!ENTITY a 'b'>]>", "").encode())


_misc = st.one_of(
    st.sampled_from([" ", "\n", "\t", "\r\n"]),
    st.text(alphabet="ab-<!>? \u00e9\u4e2d", max_size=30)
    .filter(lambda s: "--" not in s and not s.endswith("-"))
    .map(lambda s: f"<!--{s}-->"),
    st.text(alphabet="ab<!-> \u00e9", max_size=30).filter(lambda s: "?>" not in s).map(lambda s: f"<?pi {s}?>"),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_misc, max_size=8),
    st.booleans(),
    st.sampled_from(["utf-8", "utf-16", "utf-32", "latin-1"]),
)
def test_any_well_formed_prolog_is_read_right(misc: list[str], doctype: bool, codec: str) -> None:
    """Any mix of whitespace, comments and PIs, with or without a DOCTYPE, in any of the encodings: the
    verdict is whether a DOCTYPE is there."""
    if codec == "latin-1":
        misc = [m for m in misc if m.isascii() or all(ord(c) < 256 for c in m)]
    text = f'<?xml version="1.0" encoding="{codec}"?>' + "".join(misc)
    text += ("<!DOCTYPE r>" if doctype else "") + "".join(misc) + "<r/>"
    assert declares_doctype(text.encode(codec)) is doctype


def test_an_ebcdic_prolog_with_nel_line_ends_is_read() -> None:
    """IBM1047-style documents end lines with NEL (0x15): the DOCTYPE behind them is still found."""
    nel = DOCTYPE_DOC.format(enc="IBM1047").encode("cp037").replace(b"\x25", b"\x15")
    assert declares_doctype(nel)
    assert not declares_doctype(CLEAN_DOC.format(enc="IBM1047").encode("cp037").replace(b"\x25", b"\x15"))
