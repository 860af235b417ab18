"""Test configuration: fixtures live in tests/fixtures as pytest plugins."""

pytest_plugins = ["tests.fixtures.broker", "tests.fixtures.keys", "tests.fixtures.postgres"]
