#!/usr/bin/env bash
# Create the crx topics, named as services/kernel/kafka.py standard_topics() names them:
#   <prefix>.records  .audit  .receipts  .dlq  .feed.<J>  .out.<J>   for every J in CRX_JURISDICTIONS.
# Idempotent (--if-not-exists). The services never need CREATE: they only check that their topics exist.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PARTITIONS="${CRX_TOPIC_PARTITIONS:-4}"
REPLICATION="${CRX_TOPIC_REPLICATION:-1}"  # single node: 1; production: 3
MIN_ISR="${MIN_INSYNC_REPLICAS:-1}"        # single node: 1; production: 2 (with acks=all, one broker may be lost)
# retention.ms per topic, as services/kernel/topics.py sets it from the same CRX_ settings (and their defaults,
# pinned by tests/deploy): crx.audit and crx.dlq keep longer (the audit writer may be down for a while, dead
# letters are replayed later); the feed, records, out and receipts topics keep CRX_TOPIC_RETENTION_DAYS.
days_ms() { awk -v d="$1" 'BEGIN { printf "%.0f", d * 86400000 }'; }
TOPIC_RETENTION_MS="$(days_ms "${CRX_TOPIC_RETENTION_DAYS:-7}")"
DLQ_RETENTION_MS="$(days_ms "${CRX_DLQ_RETENTION_DAYS:-30}")"
AUDIT_RETENTION_MS="$(days_ms "${CRX_AUDIT_TOPIC_RETENTION_DAYS:-30}")"
# The largest record batch a topic takes: crx's CRX_MAX_REQUEST_BYTES (default 2 MiB), which holds a payload
# of CRX_MAX_PAYLOAD_BYTES sealed twice (a dead letter keeps the sealed feed envelope; the settings check it).
MAX_MESSAGE_BYTES="${CRX_MAX_REQUEST_BYTES:-2097152}"

create() {
  local name="$1"
  shift
  admin kafka-topics.sh --create --if-not-exists --topic "$name" --partitions "$PARTITIONS" \
    --replication-factor "$REPLICATION" --config "min.insync.replicas=$MIN_ISR" \
    --config "max.message.bytes=$MAX_MESSAGE_BYTES" "$@"
}

create "$(topic records)" --config "retention.ms=$TOPIC_RETENTION_MS"
create "$(topic receipts)" --config "retention.ms=$TOPIC_RETENTION_MS"
create "$(topic audit)" --config "retention.ms=$AUDIT_RETENTION_MS"
create "$(topic dlq)" --config "retention.ms=$DLQ_RETENTION_MS"
for j in "${JURISDICTIONS[@]}"; do
  create "$(topic "feed.$j")" --config "retention.ms=$TOPIC_RETENTION_MS"
  create "$(topic "out.$j")" --config "retention.ms=$TOPIC_RETENTION_MS"
done
echo "topics ready" >&2
