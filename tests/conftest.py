"""Test configuration: fixtures live in tests/fixtures as pytest plugins; ``integration`` marks broker tests.

A test is marked ``integration`` (and its ``settings`` fixture talks to the session's broker) when it needs a
Kafka-protocol broker, so ``-m integration`` and ``-m "not integration"`` split the suite exactly along that
line: a test that asks for ``kafka_bootstrap`` (directly or through a fixture), one marked ``integration``
itself (as every module of tests/kafka/ that starts Apache Kafka is, and any test elsewhere that runs a broker
of its own), or one under tests/integration/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = [
    "tests.fixtures.containers",  # first: broker and postgres import it (so it is registered, and rewritten, once)
    "tests.fixtures.broker",
    "tests.fixtures.keys",
    "tests.fixtures.postgres",
]

TESTS = Path(__file__).parent
BROKER_DIR = "integration"  # tests/kafka/test_distribution.py checks jars, and runs no broker


def needs_broker(item: pytest.Item) -> bool:
    """Whether ``item`` needs a Kafka-protocol broker (see the module docstring)."""
    if "kafka_bootstrap" in getattr(item, "fixturenames", ()) or item.get_closest_marker("integration") is not None:
        return True
    try:
        where = item.path.relative_to(TESTS)
    except ValueError:  # a test file outside tests/ (a path given on the command line)
        return False
    return where.parts[0] == BROKER_DIR


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``integration`` every test that needs a broker; markers already there stay as they are."""
    for item in items:
        if item.get_closest_marker("integration") is None and needs_broker(item):
            item.add_marker(pytest.mark.integration)
