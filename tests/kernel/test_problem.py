"""Problem details (RFC 9457) for every error of an API application, aiohttp's own errors included."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from services.kernel.openapi import api_application
from services.kernel.problem import PROBLEM_JSON, problem, problem_type, title_of
from services.kernel.webapp import AppServer


def test_a_problem_has_the_rfc_9457_members_and_the_machine_code() -> None:
    """type (a URN from the code), title (the code in words), status, detail, error (the code), extensions."""
    assert problem(409, "IDEMPOTENCY_KEY_IN_FLIGHT", "retry after it", submission_id="s1") == {
        "type": "urn:crx:problem:idempotency-key-in-flight",
        "title": "Idempotency key in flight",
        "status": 409,
        "detail": "retry after it",
        "error": "IDEMPOTENCY_KEY_IN_FLIGHT",
        "submission_id": "s1",
    }
    assert (problem_type("NOT_FOUND"), title_of("NOT_FOUND")) == ("urn:crx:problem:not-found", "Not found")


async def test_aiohttp_errors_and_failing_handlers_answer_problems() -> None:
    """An unknown path (404), a method not routed (405, Allow kept), a body over client_max_size (413) and a
    handler that raises (500, nothing of the exception said) are problem+json; the API's document is served."""

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    async def broken(_: web.Request) -> web.Response:
        raise RuntimeError("secret record content")

    def make() -> web.Application:
        app = api_application("services.audit", client_max_size=16)
        app.router.add_post("/echo", echo)
        app.router.add_get("/broken", broken)
        return app

    server = AppServer(make, "127.0.0.1", 0)
    await server.start()
    try:
        async with aiohttp.ClientSession(base_url=server.url) as http:
            answers = []
            for method, path, body in [("GET", "/nowhere", b""), ("GET", "/echo", b""), ("POST", "/echo", b"x" * 17),
                                       ("GET", "/broken", b"")]:  # fmt: skip
                async with http.request(method, path, data=body) as r:
                    assert r.content_type == PROBLEM_JSON
                    answers.append((r.status, await r.json(), r.headers.get("Allow")))
            async with http.post("/echo", data=b"small") as r:
                assert (r.status, await r.read()) == (200, b"small")
            async with http.get("/openapi.json") as r:
                assert r.status == 200 and (await r.json())["openapi"].startswith("3.1")
    finally:
        await server.stop()
    assert [(status, body["status"], body["error"]) for status, body, _ in answers] == [
        (404, 404, "NOT_FOUND"),
        (405, 405, "METHOD_NOT_ALLOWED"),
        (413, 413, "PAYLOAD_TOO_LARGE"),
        (500, 500, "INTERNAL_ERROR"),
    ]
    assert answers[1][2] == "POST"
    assert all(body["type"].startswith("urn:crx:problem:") and body["detail"] for _, body, _ in answers)
    assert "secret" not in str(answers[3][1])
