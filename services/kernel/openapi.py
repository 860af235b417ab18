"""The aiohttp application of an HTTP API that describes itself: its OpenAPI document at ``GET /openapi.json``
and its errors as problem details (``services.kernel.problem``).

Each API ships its OpenAPI 3.1 document as package data beside its code (``services/intake/openapi.yaml``,
``services/audit/openapi.yaml``): YAML, because people edit it; served as JSON, because every tool reads
JSON. The document is read once per process.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import yaml
from aiohttp import web

from services.kernel.problem import problem_middleware

DOCUMENT = "openapi.yaml"
PATH = "/openapi.json"


@functools.cache
def document_text(package: str) -> str:
    """The OpenAPI document shipped in ``package`` (``services.intake``) as JSON text."""
    raw = resources.files(package).joinpath(DOCUMENT).read_text(encoding="utf-8")
    return json.dumps(yaml.safe_load(raw), indent=2)


def document(package: str) -> dict[str, Any]:
    """The OpenAPI document shipped in ``package``, parsed."""
    parsed: dict[str, Any] = json.loads(document_text(package))
    return parsed


def api_application(package: str, **options: Any) -> web.Application:
    """An application with problem-details errors that serves ``package``'s OpenAPI document at ``/openapi.json``;
    ``options`` go to ``web.Application`` (``client_max_size``). The caller adds its routes."""
    text = document_text(package)

    async def serve(_: web.Request) -> web.Response:
        return web.Response(text=text, content_type="application/json")

    app = web.Application(middlewares=[problem_middleware], **options)
    app.router.add_get(PATH, serve)
    return app
