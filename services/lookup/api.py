"""The lookup API: ``POST /v1/lookups`` for national systems, described by ``openapi.yaml`` beside this module
(served at ``GET /openapi.json``).

- Authentication: ``Authorization: Bearer <token>``, the intake's tokens (``intake-tokens.json``, ``crx intake
  token``): the token decides the requesting state. 401 without a valid token; 503 while the token file is
  unusable (fail closed).
- Rate limit per requesting state (``lookup_rate_per_minute``, ``lookup_burst``): 429 with ``Retry-After``.
  Checked before the body is read, so malformed requests count too.
- The body (``lookups.parse_request``): 400 when it is not JSON, a field is missing (``MISSING_PURPOSE``,
  ``MISSING_AUTHORITY``), the query is malformed (``INVALID_QUERY``) or has no birth date where one is required
  (``BIRTH_DATE_REQUIRED``); 403 when no agreement lets the state make requests for the purpose.
- 200 with ``{"lookup_id", "hits"}`` once the LOOKUP audit event is acknowledged; 503 with ``Retry-After`` when it
  is not (``AUDIT_UNAVAILABLE``), when there is no index key (``KEY_UNAVAILABLE``) or the index does not answer
  (``INDEX_UNAVAILABLE``): no lookup is answered unaudited.

Errors are RFC 9457 problems. Nothing of the body is ever logged; the outcome is counted in
``crx_lookups_total{jurisdiction,outcome}``.
"""

from __future__ import annotations

import json

from aiohttp import web
from prometheus_client import CollectorRegistry

from services.intake.gate import TokenGate
from services.intake.tokens import TokenBook
from services.kernel.errors import CrxError, KeyUnavailable
from services.kernel.logging import get_logger
from services.kernel.openapi import api_application
from services.kernel.webapp import AppServer
from services.lookup.lookups import InvalidLookup, Lookups, LookupUnavailable, PurposeNotAgreed, parse_request
from services.lookup.ratelimit import RateLimiter

ROUTE = "/v1/lookups"
JURISDICTION_HEADER = "Crx-Jurisdiction"  # optional: the state the client means; refused unless the token's
MAX_BODY = 64 * 1024
RETRY_AFTER_SECONDS = 5
OUTCOMES = ("hit", "no_hit", "refused", "rate_limited", "unauthorized", "unavailable")


class LookupApi:
    """The request handler; ``app()`` builds the aiohttp application around it."""

    def __init__(
        self,
        lookups: Lookups,
        tokens: TokenBook,
        limiter: RateLimiter,
        *,
        require_birth_date: bool = False,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._lookups = lookups
        self._limiter = limiter
        self._require_birth_date = require_birth_date
        self._log = get_logger("lookup")
        self._gate = TokenGate(
            tokens,
            "crx_lookups",
            "Lookups by requesting state ('-' before authentication) and outcome",
            registry,
            unreadable="the service cannot read its tokens",
            unauthorized="a valid bearer token is required",
            on_refusal=self._refused,
        )

    def app(self) -> web.Application:
        """The aiohttp application serving ``POST /v1/lookups`` and ``GET /openapi.json``."""
        app = api_application("services.lookup", client_max_size=MAX_BODY)
        app.router.add_post(ROUTE, self.lookup)
        return app

    def _refused(self, who: str, code: str) -> None:
        self._log.info("lookup refused", jurisdiction=who, error=code)

    async def lookup(self, request: web.Request) -> web.Response:
        """Answer one lookup (see the module docstring for every answer)."""
        who = self._gate.requester(request)
        if isinstance(who, web.Response):
            return who
        meant = request.headers.get(JURISDICTION_HEADER)
        if meant is not None and meant != who:
            detail = f"the bearer token is not {JURISDICTION_HEADER}'s: a lookup is made for the token's state alone"
            return self._gate.refuse(who, "refused", 403, "NOT_YOUR_JURISDICTION", detail)
        wait = self._limiter.take(who)
        if wait is not None:
            detail = "too many lookups from this jurisdiction; retry after Retry-After seconds"
            return self._gate.refuse(who, "rate_limited", 429, "RATE_LIMITED", detail, **{"Retry-After": str(wait)})
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return self._gate.refuse(who, "refused", 400, "INVALID_JSON", "the body must be one JSON object")
        try:
            answer = await self._lookups.lookup(who, parse_request(body, require_birth_date=self._require_birth_date))
        except InvalidLookup as exc:
            return self._gate.refuse(who, "refused", 400, exc.reason_code, exc.detail)
        except PurposeNotAgreed as exc:
            return self._gate.refuse(who, "refused", 403, exc.reason_code, exc.detail)
        except (LookupUnavailable, KeyUnavailable, CrxError) as exc:
            code = {LookupUnavailable: "AUDIT_UNAVAILABLE", KeyUnavailable: "KEY_UNAVAILABLE"}.get(
                type(exc), "INDEX_UNAVAILABLE"
            )
            self._log.warning("lookup not answered", jurisdiction=who, error_class=type(exc).__name__)
            detail = "the lookup could not be answered and audited now; nothing was disclosed; retry later"
            return self._gate.unavailable(who, code, detail, RETRY_AFTER_SECONDS)
        outcome = "hit" if answer.hits else "no_hit"
        self._gate.count(who, outcome)
        self._log.info("lookup answered", jurisdiction=who, lookup_id=answer.lookup_id, hits=len(answer.hits))
        return web.Response(text=json.dumps(answer.as_dict()), content_type="application/json")


class LookupHttpServer(AppServer):
    """Serves a ``LookupApi`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, api: LookupApi, host: str, port: int) -> None:
        super().__init__(api.app, host, port)
        self.handler = api
