"""Error answers of crx's HTTP APIs as RFC 9457 problem details (``application/problem+json``).

Every error answer of the intake and the audit API is one JSON object with the RFC 9457 members

- ``type``: ``urn:crx:problem:<code>``, the machine code in lower case with hyphens
  (``IDEMPOTENCY_KEY_IN_FLIGHT`` is ``urn:crx:problem:idempotency-key-in-flight``). An identifier, not a
  link: crx is software that each party runs under its own name, so no one address could document every
  deployment's errors, and RFC 9457 (3.1.1) allows a type URI that does not resolve. The same problem has
  the same type at every deployment. The problem types are documented in each API's OpenAPI document;
- ``title``: the code in words (``Idempotency key in flight``), the same for every occurrence;
- ``status``: the HTTP status;
- ``detail``: what happened this time, in words. Never record content: only ids, sizes and limits;

and the extension member ``error``, the machine code itself (``IDEMPOTENCY_KEY_IN_FLIGHT``), which clients
written before problem details read and may go on reading. An answer may add other members (the intake's
dead-letter answers carry the ``submission_id``).

``problem_middleware`` gives aiohttp's own error answers the same form: an unknown path (404), a method the
route does not serve (405, with ``Allow``), a body larger than the application's ``client_max_size`` (413),
and any unexpected exception of a handler (500, logged with its class, nothing else said).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from services.kernel.logging import get_logger

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:crx:problem:"
# aiohttp's own errors by status; any other status takes its HTTP name (418: IM_A_TEAPOT).
HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE", 500: "INTERNAL_ERROR"}
_HTTP_DETAILS = {
    404: "no resource at this path",
    405: "the resource does not take this method (see Allow)",
    413: "the request body is larger than this API takes",
    500: "the service failed to answer; the error is logged",
}
_KEPT_HEADERS = frozenset({hdrs.ALLOW, hdrs.RETRY_AFTER, hdrs.WWW_AUTHENTICATE})  # of aiohttp's own errors


def problem_type(code: str) -> str:
    """The type URI of the problem with machine code ``code``."""
    return TYPE_PREFIX + code.lower().replace("_", "-")


def title_of(code: str) -> str:
    """The title of the problem with machine code ``code``: the code in words."""
    return code.replace("_", " ").capitalize()


def problem(status: int, code: str, detail: str, **extensions: Any) -> dict[str, Any]:
    """The problem details object (RFC 9457 members, ``error``, then ``extensions``)."""
    body = {"type": problem_type(code), "title": title_of(code), "status": status, "detail": detail, "error": code}
    return {**body, **extensions}


def problem_response(
    status: int, code: str, detail: str, *, headers: Mapping[str, str] | None = None, **extensions: Any
) -> web.Response:
    """An ``application/problem+json`` answer (see ``problem``)."""
    text = json.dumps(problem(status, code, detail, **extensions), sort_keys=True)
    return web.Response(status=status, text=text, content_type=PROBLEM_JSON, headers=headers or None)


def from_http_error(exc: web.HTTPException) -> web.Response:
    """aiohttp's error ``exc`` (404, 405, 413 ...) as a problem, keeping ``Allow``, ``Retry-After`` and
    ``WWW-Authenticate``; its text is replaced by crx's own detail."""
    status = exc.status
    code = HTTP_CODES.get(status) or HTTPStatus(status).phrase.upper().replace(" ", "_").replace("-", "_")
    detail = _HTTP_DETAILS.get(status) or HTTPStatus(status).description or HTTPStatus(status).phrase
    headers = {name: value for name, value in exc.headers.items() if name in _KEPT_HEADERS}
    return problem_response(status, code, detail, headers=headers)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own error answers and unexpected exceptions as problem details (see the module docstring)."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:  # a redirect or a success raised on purpose
            raise
        return from_http_error(exc)
    except Exception as exc:  # a bug: answered 500 as a problem, logged by class (never a message: no content)
        route = request.match_info.route.resource
        where = route.canonical if route is not None else "-"
        get_logger("http").error("handler_failed", route=where, error_class=type(exc).__name__)
        return from_http_error(web.HTTPInternalServerError())
