# Sourced by the crx Kafka scripts. Topic names and jurisdictions come from the same CRX_ variables the
# services read (services/kernel/config.py), so the broker set-up and the services cannot disagree.
# shellcheck shell=bash

KAFKA_BIN="${KAFKA_BIN:-/opt/kafka/bin}"
BOOTSTRAP="${BOOTSTRAP:-kafka:9093}"
COMMAND_CONFIG="${COMMAND_CONFIG:?admin client properties file (init.sh writes one)}"
TOPIC_PREFIX="${CRX_TOPIC_PREFIX:-crx}"

# CRX_JURISDICTIONS is comma-separated; the services strip and upper-case each item (config._coerce).
JURISDICTIONS=()
IFS=',' read -r -a _items <<< "${CRX_JURISDICTIONS:-DE,FR,PL,US}"
for _j in "${_items[@]}"; do
  _j="${_j//[[:space:]]/}"
  [[ -n "$_j" ]] && JURISDICTIONS+=("${_j^^}")
done
unset _items _j

# topic LOGICAL -> physical name, as Settings.topic() builds it: records -> crx.records, out.FR -> crx.out.FR
topic() { printf '%s.%s' "$TOPIC_PREFIX" "$1"; }

# admin TOOL ARGS... : run a Kafka CLI tool as the admin super user over SASL_SSL
admin() {
  local tool="$1"
  shift
  "$KAFKA_BIN/$tool" --bootstrap-server "$BOOTSTRAP" --command-config "$COMMAND_CONFIG" "$@"
}
