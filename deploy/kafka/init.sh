#!/usr/bin/env bash
# One-shot set-up of the crx Kafka, as the admin super user: SCRAM users, topics, ACLs. Idempotent.
# Needs ADMIN_PASSWORD, CA_FILE (PEM), BOOTSTRAP and the KAFKA_PW_* passwords of scram-users.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${ADMIN_PASSWORD:?}" "${CA_FILE:?}"
KAFKA_BIN="${KAFKA_BIN:-/opt/kafka/bin}"
BOOTSTRAP="${BOOTSTRAP:-kafka:9093}"

umask 077
COMMAND_CONFIG="$(mktemp)"
trap 'rm -f "$COMMAND_CONFIG"' EXIT
cat > "$COMMAND_CONFIG" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${ADMIN_USER:-admin}" password="${ADMIN_PASSWORD}";
ssl.truststore.type=PEM
ssl.truststore.location=${CA_FILE}
PROPS
export COMMAND_CONFIG KAFKA_BIN BOOTSTRAP

for attempt in $(seq 1 30); do
  if "$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" --list >/dev/null; then
    break
  fi
  [[ "$attempt" == 30 ]] && { echo "broker not reachable at $BOOTSTRAP" >&2; exit 1; }
  sleep 2
done

bash "$here/scram-users.sh"
bash "$here/create-topics.sh"
bash "$here/acls.sh"
