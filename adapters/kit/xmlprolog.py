"""Reading an XML document's prolog from its bytes alone: does it declare a document type?

``adapters.kit.xmlsafe`` refuses every document type declaration. Asking libxml2 is not enough to tell *why* a
document failed: depending on the libxml2 and lxml versions, a DOCTYPE whose entities would blow up is
reported as a syntax or resource error before the parser reports the DOCTYPE itself. This module decides
from the document, before any parser runs, so the reason is the same on every machine.

XML 1.0 section 2.8: ``prolog ::= XMLDecl? Misc* (doctypedecl Misc*)?`` and ``Misc ::= Comment | PI | S``.
So a DOCTYPE, if there is one, follows only whitespace, comments and processing instructions (the XML
declaration among them). The encoding is detected as XML 1.0 Appendix F says (byte order marks, then the
first four bytes of ``<?xm``); everything else is read as an ASCII-compatible encoding, in which the
markup characters that matter here (``<``, ``!``, ``?``, ``-``, ``>``) are single bytes that no multi-byte
character of UTF-8, the ISO-8859 family or the East Asian double-byte encodings contains. EBCDIC pages
disagree on ``!`` (0x5A in IBM037/1047, 0x4F in IBM500) and on the line end, so an EBCDIC prolog is read
with both and NEL counts as whitespace: when in doubt, a DOCTYPE is seen, and the document refused.
"""

from __future__ import annotations

_BYTE_ORDER_MARKS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
_SIGNATURES = (  # "<?xm" (or "<" for UCS-4) without a byte order mark, XML 1.0 Appendix F
    (b"\x00\x00\x00\x3c", "utf-32-be"),
    (b"\x3c\x00\x00\x00", "utf-32-le"),
    (b"\x00\x3c\x00\x3f", "utf-16-be"),
    (b"\x3c\x00\x3f\x00", "utf-16-le"),
)
_EBCDIC = b"\x4c\x6f\xa7\x94"  # "<?xm" in every EBCDIC page
_EBCDIC_CODECS = ("cp037", "cp500")
_WHITESPACE = " \t\r\n\x85"  # NEL: the EBCDIC line end (elsewhere it precedes only what is malformed anyway)
_DOCTYPE = "<!DOCTYPE"
_FIRST_WINDOW = 4096  # bytes; a multiple of 4, so no UTF-16/32 code unit is ever cut


def detect_encoding(payload: bytes) -> tuple[tuple[str, ...], int]:
    """The Python codecs to read ``payload``'s markup with, and the length of its byte order mark.

    Guarantees: UTF-8/16/32 and EBCDIC as XML 1.0 Appendix F detects them (two codecs for EBCDIC, one for
    the rest); ``latin-1`` (which decodes any byte, one byte per character) for everything else.
    Raises nothing.
    """
    for mark, codec in _BYTE_ORDER_MARKS:
        if payload.startswith(mark):
            return (codec,), len(mark)
    for signature, codec in _SIGNATURES:
        if payload.startswith(signature):
            return (codec,), 0
    if payload.startswith(_EBCDIC):
        return _EBCDIC_CODECS, 0
    return ("latin-1",), 0


def declares_doctype(payload: bytes) -> bool:
    """True when ``payload``'s prolog holds a document type declaration (``<!DOCTYPE``, in any case).

    Only the prolog is read: it stops at the first thing that is neither whitespace, a comment nor a
    processing instruction. A prolog cut off by the end of the document (an unterminated comment, say) holds
    no DOCTYPE. Reads at most the whole payload, in windows that grow fourfold, so a prolog padded with a huge
    comment costs a few linear passes, never more. Raises nothing: undecodable bytes are read as U+FFFD.
    """
    codecs, start = detect_encoding(payload)
    return any(_declares_doctype(payload, start, codec) for codec in codecs)


def _declares_doctype(payload: bytes, start: int, codec: str) -> bool:
    """``declares_doctype`` for one codec, reading from byte ``start``."""
    window = _FIRST_WINDOW
    while True:
        end = start + window
        verdict = _scan(payload[start:end].decode(codec, errors="replace"))
        if verdict is not None:
            return verdict
        if end >= len(payload):
            return False
        window *= 4


def _scan(text: str) -> bool | None:
    """True for a DOCTYPE, False for anything else a prolog ends with, None when ``text`` ends inside it."""
    i = 0
    while True:
        while i < len(text) and text[i] in _WHITESPACE:
            i += 1
        rest = text[i : i + len(_DOCTYPE)]
        if rest.upper() == _DOCTYPE:
            return True
        if text.startswith("<?", i):
            close = text.find("?>", i + 2)
            i = close + 2
        elif text.startswith("<!--", i):
            close = text.find("-->", i + 4)
            i = close + 3
        elif _DOCTYPE.startswith(rest.upper()) or "<!--".startswith(rest):
            return None  # the window ends inside "<!DOC..." or "<!-", or it is empty
        else:
            return False
        if close < 0:
            return None
