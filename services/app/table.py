"""The one table of the broker's services: name -> ``build(runtime, *, ports) -> Component``.

Both the command line (``crx <name> run``) and the in-process pipeline (``make run``, tests, bench) build
services from this table and nowhere else. Adding a service is one module with a ``build`` and one entry
here; the table's order is the start order (the intake first: it takes submissions as soon as it runs).

The partner client is not in this table: it runs at a partner, not at the broker
(``services.partner.client.build``, same shape plus the party and its sink).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

from services.audit import writer as audit
from services.cases import service as cases
from services.intake import service as intake
from services.kernel.lifecycle import Component
from services.kernel.runtime import Ports, Runtime
from services.lookup import service as lookup
from services.normaliser import service as normaliser
from services.router import service as router


class Builder(Protocol):
    """How every service is made."""

    def __call__(self, runtime: Runtime, *, ports: Ports) -> Component:
        """A new, not yet started service; raises ConfigError (or a subclass) when its settings are unusable."""
        ...


SERVICES: Mapping[str, Builder] = MappingProxyType(
    {
        "intake": intake.build,
        "normaliser": normaliser.build,
        "router": router.build,
        "cases": cases.build,
        "lookup": lookup.build,
        "audit": audit.build,
    }
)
