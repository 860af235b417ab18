#!/usr/bin/env bash
# Per-principal ACLs for crx (the broker runs StandardAuthorizer with allow.everyone.if.no.acl.found=false, so
# anything not granted here is refused). Read and Write imply Describe, which the services need to check that
# their topics exist. Principals are SCRAM users (scram-users.sh); group ids are
# prefixed like the topics (Settings.group: crx.normaliser, crx.partner.FR ...), as in the services' build().
# Idempotent: adding an existing ACL is a no-op.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# allow USER OPERATION RESOURCE-OPTIONS...
allow() {
  local user="$1" operation="$2"
  shift 2
  admin kafka-acls.sh --add --allow-principal "User:$user" --operation "$operation" "$@"
}

# transactions USER PREFIX : Write (and so Describe) on the transactional ids starting with PREFIX. The
# consume-transform-produce services commit outputs and input offsets in one transaction, under the id
# "<group>.<topic prefix>.<instance>" (services/kernel/kafka.py transactional_id).
transactions() {
  admin kafka-acls.sh --add --allow-principal "User:$1" --operation Write --transactional-id "$2" \
    --resource-pattern-type prefixed
}

feeds=() outs=()
for j in "${JURISDICTIONS[@]}"; do
  feeds+=(--topic "$(topic "feed.$j")")
  outs+=(--topic "$(topic "out.$j")")
done

# normaliser: crx.feed.* -> crx.records, dead letters (+ their audit events) -> crx.dlq, crx.audit
allow normaliser Read "${feeds[@]}" --group "$(topic normaliser)"
allow normaliser Write --topic "$(topic records)" --topic "$(topic audit)" --topic "$(topic dlq)"
transactions normaliser "$(topic normaliser)."

# router: crx.records -> crx.out.<J>, refusals and disclosures -> crx.audit, dead letters -> crx.dlq
allow router Read --topic "$(topic records)" --group "$(topic router)"
allow router Write "${outs[@]}" --topic "$(topic audit)" --topic "$(topic dlq)"
transactions router "$(topic router)."

# audit writer: crx.audit + crx.receipts -> the store; undecodable input -> crx.dlq with a DEAD_LETTER event
allow audit Read --topic "$(topic audit)" --topic "$(topic receipts)" --group "$(topic audit)"
allow audit Write --topic "$(topic dlq)" --topic "$(topic audit)"
transactions audit "$(topic audit)."

# intake (crx intake run: HTTP API + drop directory): submissions -> crx.feed.<every J>, each with its
# COLLECTION event -> crx.audit; refusals -> crx.dlq (+ their audit events). It reads nothing.
allow intake Write "${feeds[@]}" --topic "$(topic audit)" --topic "$(topic dlq)"

# case service (crx cases run): reminders and overdue notices -> crx.out.<requested state>, each with its
# DISCLOSURE event -> crx.audit. It only produces, without transactions (idempotent producer: Write suffices),
# and reads nothing from Kafka: the case book is in its database.
allow cases Write "${outs[@]}" --topic "$(topic audit)"

# lookup service (crx lookup run): its own group on crx.records feeds the index; each lookup's DISCLOSURE/LOOKUP
# event -> crx.audit; records it cannot open -> crx.dlq (+ their audit events).
allow lookup Read --topic "$(topic records)" --group "$(topic lookup)"
allow lookup Write --topic "$(topic audit)" --topic "$(topic dlq)"
transactions lookup "$(topic lookup)."

for j in "${JURISDICTIONS[@]}"; do
  # partner J: its own out topic only, its own group, and receipts. Nothing else.
  allow "partner-$j" Read --topic "$(topic "out.$j")" --group "$(topic "partner.$j")"
  allow "partner-$j" Write --topic "$(topic receipts)"
  transactions "partner-$j" "$(topic "partner.$j")."
  # intake for J (crx push): its own feed. services/intake/publisher.py also writes the COLLECTION audit
  # event and refusals itself, hence crx.audit and crx.dlq (see deploy/README.md, known gaps).
  allow "intake-$j" Write --topic "$(topic "feed.$j")" --topic "$(topic audit)" --topic "$(topic dlq)"
done

# kafka-exporter (consumer lag): describe only, never read records.
allow exporter Describe --topic '*' --group '*'
allow exporter Describe --cluster
echo "acls ready" >&2
