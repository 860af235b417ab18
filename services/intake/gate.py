"""The door of crx's bearer-token HTTP APIs: the intake's feeds and status (``http.py``, ``status.py``) and the
lookup API (``services.lookup.api``), all authenticated by the intake's tokens (``tokens.py``).

A request's ``Authorization: Bearer <token>`` names the requesting jurisdiction. Each API counts its answers in
its own Counter ``<metric>_total{jurisdiction,outcome}`` (jurisdiction ``-`` before authentication) and answers
every refusal as an RFC 9457 problem (``services.kernel.problem``).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from services.intake.tokens import CHALLENGE, TokenBook
from services.kernel.errors import ConfigError
from services.kernel.problem import problem_response

ANONYMOUS = "-"
"""The ``jurisdiction`` label of a request answered before its token named one."""


class TokenGate:
    """Authenticates one API's requests by bearer token and counts its answers by requester and outcome.

    ``requests`` is the Counter ``<metric>_total{jurisdiction,outcome}`` (help ``documentation``) in ``registry``.
    ``unreadable`` and ``unauthorized`` are the ``detail`` of the API's 503 and 401 answers; ``on_refusal``, when
    given, is told of every refusal (requester, problem code), e.g. to log it.
    """

    def __init__(
        self,
        tokens: TokenBook,
        metric: str,
        documentation: str,
        registry: CollectorRegistry | None,
        *,
        unreadable: str,
        unauthorized: str,
        on_refusal: Callable[[str, str], None] | None = None,
    ) -> None:
        self._tokens = tokens
        self._unreadable = unreadable
        self._unauthorized = unauthorized
        self._on_refusal = on_refusal
        self.requests = Counter(metric, documentation, ["jurisdiction", "outcome"], registry=registry)

    def count(self, who: str, outcome: str) -> None:
        """Count one answer to ``who`` with ``outcome``."""
        self.requests.labels(who, outcome).inc()

    def refuse(self, who: str, outcome: str, status: int, code: str, detail: str, **headers: str) -> web.Response:
        """Count the refusal of ``who``'s request with ``outcome`` and answer the problem ``code`` (``status``,
        ``detail``, ``headers``)."""
        self.count(who, outcome)
        if self._on_refusal is not None:
            self._on_refusal(who, code)
        return problem_response(status, code, detail, headers=headers)

    def unavailable(self, who: str, code: str, detail: str, retry_after: int) -> web.Response:
        """Count ``who``'s request as ``unavailable`` and answer 503 ``code`` with ``Retry-After: retry_after``
        (seconds): a service the API depends on does not answer now."""
        return self.refuse(who, "unavailable", 503, code, detail, **{"Retry-After": str(retry_after)})

    def requester(self, request: web.Request) -> str | web.Response:
        """The jurisdiction whose valid token ``request`` bears, or the refusal to answer with (counted):

        - 503 ``TOKENS_UNAVAILABLE`` (outcome ``unavailable``) while the token file is unusable: fail closed
          (the token book logs why);
        - 401 ``UNAUTHORIZED`` (outcome ``unauthorized``, with the ``WWW-Authenticate`` challenge) without a
          bearer token, or with one that is not valid.
        """
        try:
            who = self._tokens.requester(request.headers.get("Authorization", ""))
        except ConfigError:
            return self.refuse(ANONYMOUS, "unavailable", 503, "TOKENS_UNAVAILABLE", self._unreadable)
        if who is None:
            return self.refuse(ANONYMOUS, "unauthorized", 401, "UNAUTHORIZED", self._unauthorized, **CHALLENGE)
        return who
