"""How long Kafka keeps each crx topic: ``retention.ms`` per logical topic, from the settings, in one place.

``ensure_topics`` creates topics with these configs, and ``deploy/kafka/create-topics.sh`` sets the same
values (its environment defaults equal the Settings defaults: tests/deploy checks it):

- ``feed.<J>``, ``records``, ``out.<J>``, ``receipts``: ``topic_retention_days`` (the pipeline reads them within
  seconds; the days are room for an outage, and the intake keeps every accepted submission until settled);
- ``dlq``: ``dlq_retention_days`` (dead letters wait to be replayed; sealed to the broker, so key epochs
  shorten what is readable: services/keys);
- ``audit``: ``audit_topic_retention_days`` (the audit writer may be down a while; the log itself is kept
  forever in the audit store).

A topic crx does not know keeps the broker's default. Apache Kafka enforces ``retention.ms``; the embedded broker
(Tansu) stores it without effect.
"""

from __future__ import annotations

from services.kernel.config import Settings

DAY_MS = 86_400_000
SHORT = ("feed.", "records", "out.", "receipts")  # logical names (exact, or a prefix ending in ".")


def retention_days(settings: Settings, logical: str) -> float | None:
    """The days Kafka keeps the logical topic ``logical`` (``records``, ``feed.DE``, ...), or None for a topic
    crx does not know (the broker's default applies)."""
    if logical == "dlq":
        return settings.dlq_retention_days
    if logical == "audit":
        return settings.audit_topic_retention_days
    if any(logical == name or (name.endswith(".") and logical.startswith(name)) for name in SHORT):
        return settings.topic_retention_days
    return None


def topic_configs(settings: Settings, topic: str) -> dict[str, str]:
    """The configs crx creates the physical ``topic`` with: ``retention.ms`` when crx knows the topic (its name
    is ``<topic_prefix>.<logical>``), else none."""
    prefix = f"{settings.topic_prefix}."
    days = retention_days(settings, topic[len(prefix) :]) if topic.startswith(prefix) else None
    return {} if days is None else {"retention.ms": str(round(days * DAY_MS))}
