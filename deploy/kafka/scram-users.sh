#!/usr/bin/env bash
# Create (or reset) the SCRAM-SHA-512 credentials of every crx principal. The admin user is created when the
# storage is formatted (start-broker.sh, --add-scram). Each password comes from KAFKA_PW_<USER>, the user name
# upper-cased with '-' as '_' (KAFKA_PW_NORMALISER, KAFKA_PW_PARTNER_FR, ...). Passwords must not contain
# ',' or ']' (kafka-configs syntax); gen-secrets.sh makes hex ones.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

users=(normaliser router audit intake cases lookup exporter)
for j in "${JURISDICTIONS[@]}"; do
  users+=("partner-$j" "intake-$j")
done

for user in "${users[@]}"; do
  var="${user^^}"
  var="KAFKA_PW_${var//-/_}"
  password="${!var:-}"
  if [[ -z "$password" ]]; then
    echo "missing $var" >&2
    exit 1
  fi
  admin kafka-configs.sh --alter --entity-type users --entity-name "$user" \
    --add-config "SCRAM-SHA-512=[password=$password]" >/dev/null
done
echo "scram users ready: ${users[*]}" >&2
