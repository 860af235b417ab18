#!/usr/bin/env bash
# Start one Apache Kafka node for crx (the apache/kafka image, or tools/kafka's distribution): KRaft (combined
# broker + controller), SASL_SSL with SCRAM-SHA-512 for every client, mutual TLS on the controller listener,
# StandardAuthorizer with deny-by-default. Needs CLUSTER_ID, KEYSTORE_PASSWORD, ADMIN_PASSWORD; the keystore
# (broker.p12) and the CA (ca.crt) in SECRETS_DIR. One node by default; for a cluster, run it once per node
# with NODE_ID, its own SASL_PORT / CONTROLLER_PORT / DATA_DIR / CONFIG, and QUORUM_VOTERS naming every
# node (id@host:controller-port, comma-separated). Production: three or more nodes, separate controllers,
# REPLICATION_FACTOR=3, MIN_INSYNC_REPLICAS=2.
set -euo pipefail
: "${CLUSTER_ID:?}" "${KEYSTORE_PASSWORD:?}" "${ADMIN_PASSWORD:?}"
KAFKA_BIN="${KAFKA_BIN:-/opt/kafka/bin}"
SECRETS_DIR="${SECRETS_DIR:-/etc/kafka/secrets}"
DATA_DIR="${DATA_DIR:-/var/lib/kafka/data}"
CONFIG="${CONFIG:-/tmp/crx-server.properties}"
HOST="${ADVERTISED_HOST:-kafka}"
NODE_ID="${NODE_ID:-1}"
SASL_PORT="${SASL_PORT:-9093}"
CONTROLLER_PORT="${CONTROLLER_PORT:-9094}"
QUORUM_VOTERS="${QUORUM_VOTERS:-${NODE_ID}@${HOST}:${CONTROLLER_PORT}}"
LISTEN_HOST="${LISTEN_HOST:-}"  # empty: every interface
RF="${REPLICATION_FACTOR:-1}"
MIN_ISR="${MIN_INSYNC_REPLICAS:-1}"
# The broker certificate's subject (gen-certs.sh): the principal of the controller listener (mutual TLS).
BROKER_PRINCIPAL="${BROKER_PRINCIPAL:-CN=kafka,O=crx}"

umask 077
cat > "$CONFIG" <<PROPS
process.roles=broker,controller
node.id=${NODE_ID}
controller.quorum.voters=${QUORUM_VOTERS}
listeners=SASL_SSL://${LISTEN_HOST}:${SASL_PORT},CONTROLLER://${LISTEN_HOST}:${CONTROLLER_PORT}
advertised.listeners=SASL_SSL://${HOST}:${SASL_PORT}
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL

sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${ADMIN_PASSWORD}";

ssl.keystore.type=PKCS12
ssl.keystore.location=${SECRETS_DIR}/broker.p12
ssl.keystore.password=${KEYSTORE_PASSWORD}
ssl.key.password=${KEYSTORE_PASSWORD}
ssl.truststore.type=PEM
ssl.truststore.location=${SECRETS_DIR}/ca.crt
ssl.client.auth=none
listener.name.controller.ssl.client.auth=required

authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:${BROKER_PRINCIPAL}

auto.create.topics.enable=false
log.dirs=${DATA_DIR}
default.replication.factor=${RF}
min.insync.replicas=${MIN_ISR}
offsets.topic.replication.factor=${RF}
transaction.state.log.replication.factor=${RF}
transaction.state.log.min.isr=${MIN_ISR}
group.initial.rebalance.delay.ms=0
PROPS

# The admin SCRAM credential is written with the storage format (KIP-900), so SASL works from the first start.
"$KAFKA_BIN/kafka-storage.sh" format --ignore-formatted --cluster-id "$CLUSTER_ID" --config "$CONFIG" \
  --add-scram "SCRAM-SHA-512=[name=admin,password=${ADMIN_PASSWORD}]"
exec "$KAFKA_BIN/kafka-server-start.sh" "$CONFIG"
