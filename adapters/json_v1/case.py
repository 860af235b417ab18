"""The fields of a request's or a response's case: ``requesting_authority``, ``lookup_id``, ``case_message`` and
``outcome``.

A ``REQUEST`` opens a case at each state it is addressed to; a ``REQUEST`` with ``case_message``
``CANCELLATION`` withdraws it and one with ``MORE_INFORMATION`` brings the additional information a requested
state asked for (both name the request in ``reply_to``); a ``RESPONSE`` answers it with an ``outcome``, or
asks for more (``case_message`` ``MORE_INFORMATION_REQUEST``: no outcome, no conviction). Codes are the
schema's symbols as written, except the enums' ``OTHER``, which is a reader's fallback for symbols added
later, not something a sender states.
"""

from __future__ import annotations

from typing import get_args

from adapters.json_v1.fields import Node, invalid, missing
from adapters.kit import canonical
from schemas.records import CaseMessageSymbol, MessageTypeSymbol, ResponseOutcomeSymbol

CASE_MESSAGES: dict[str, CaseMessageSymbol] = canonical.as_written(
    "CANCELLATION", "MORE_INFORMATION", "MORE_INFORMATION_REQUEST"
)
# The message type each case message is sent as: the requesting state's requests, the requested state's response.
CASE_MESSAGE_TYPES: dict[CaseMessageSymbol, MessageTypeSymbol] = {
    "CANCELLATION": "REQUEST",
    "MORE_INFORMATION": "REQUEST",
    "MORE_INFORMATION_REQUEST": "RESPONSE",
}
# The schema's symbols, as written (read from the Literal alias itself), but for the reader's fallback ``OTHER``.
OUTCOMES: dict[str, ResponseOutcomeSymbol] = canonical.as_written(
    *(symbol for symbol in get_args(ResponseOutcomeSymbol) if symbol != "OTHER")
)


def requesting_authority(root: Node, message_type: MessageTypeSymbol) -> str | None:
    """The authority on whose behalf a REQUEST is made (text); INVALID_VALUE on any other message type."""
    authority = root.opt_string("requesting_authority")
    if authority is not None and message_type != "REQUEST":
        raise invalid("requesting_authority", "only in a REQUEST")
    return authority


def lookup_id(root: Node, message_type: MessageTypeSymbol) -> str | None:
    """The crx lookup a REQUEST follows (the ``lookup_id`` of a hit/no-hit answer, text); INVALID_VALUE on any
    other message type."""
    found = root.opt_string("lookup_id")
    if found is not None and message_type != "REQUEST":
        raise invalid("lookup_id", "only in a REQUEST")
    return found


def case_message(
    root: Node, message_type: MessageTypeSymbol, reply_to: str | None, message_id: str
) -> CaseMessageSymbol | None:
    """What the message (of id ``message_id``) does to the case of the request in ``reply_to`` (None: an
    ordinary message).

    Raises INVALID_VALUE for an unknown symbol, one that the message type cannot carry, or a ``reply_to`` naming
    the message itself; MISSING_FIELD for a follow-up request without ``reply_to``.
    """
    if root.raw("case_message", required=False) is None:
        return None
    found = root.choice("case_message", CASE_MESSAGES)
    if CASE_MESSAGE_TYPES[found] != message_type:
        raise invalid(
            "case_message", "CANCELLATION or MORE_INFORMATION in a REQUEST, MORE_INFORMATION_REQUEST in a RESPONSE"
        )
    if reply_to is None:
        raise missing("reply_to")
    if reply_to == message_id:
        raise invalid("reply_to", "the id of another message than this one")
    return found


def outcome(
    root: Node, message_type: MessageTypeSymbol, case: CaseMessageSymbol | None, has_convictions: bool
) -> ResponseOutcomeSymbol | None:
    """The outcome of a RESPONSE: ``outcome`` as written, else CONVICTIONS_FOUND or NO_RECORD by its convictions.

    None for other message types and for a MORE_INFORMATION_REQUEST, which may carry neither an outcome nor a
    conviction. A stated outcome must agree with the convictions (CONVICTIONS_FOUND with some, any other with
    none). Raises INVALID_VALUE otherwise.
    """
    stated = root.raw("outcome", required=False)
    if message_type != "RESPONSE" or case == "MORE_INFORMATION_REQUEST":
        if stated is not None:
            raise invalid("outcome", "only in a RESPONSE that answers (not with MORE_INFORMATION_REQUEST)")
        if has_convictions and case == "MORE_INFORMATION_REQUEST":
            raise invalid("convictions", "none in a MORE_INFORMATION_REQUEST")
        return None
    if stated is None:
        return "CONVICTIONS_FOUND" if has_convictions else "NO_RECORD"
    found = root.choice("outcome", OUTCOMES)
    if (found == "CONVICTIONS_FOUND") != has_convictions:
        raise invalid("outcome", "CONVICTIONS_FOUND with one or more convictions, any other outcome with none")
    return found
