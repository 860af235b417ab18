"""Each crx topic's retention.ms comes from the settings in one place, and ensure_topics creates topics with it."""

from __future__ import annotations

from services.kernel.config import Settings
from services.kernel.kafka import new_topic, standard_topics
from services.kernel.topics import DAY_MS, retention_days, topic_configs


def test_retention_per_logical_topic() -> None:
    """The pipeline's topics keep topic_retention_days, crx.dlq and crx.audit their own; others the broker's."""
    settings = Settings(topic_retention_days=3, dlq_retention_days=40, audit_topic_retention_days=20)
    assert [retention_days(settings, t) for t in ("feed.DE", "records", "out.FR", "receipts")] == [3] * 4
    assert retention_days(settings, "dlq") == 40
    assert retention_days(settings, "audit") == 20
    assert retention_days(settings, "in") is None
    assert retention_days(settings, "recordsx") is None


def test_new_topics_carry_retention_ms() -> None:
    """Every standard topic is created with retention.ms in whole milliseconds; a foreign topic with none."""
    settings = Settings(topic_prefix="t9", topic_retention_days=0.5)
    configs = {t: new_topic(settings, t).topic_configs for t in standard_topics(settings)}
    assert configs[settings.topic("records")] == {"retention.ms": str(DAY_MS // 2)}
    assert configs[settings.topic("dlq")] == {"retention.ms": str(30 * DAY_MS)}
    assert all(c for c in configs.values())
    assert topic_configs(settings, "other.records") == {}
    assert new_topic(settings, "t9.in").topic_configs == {}
