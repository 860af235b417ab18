#!/usr/bin/env bash
# Prepare deploy/compose for `docker compose up`: a .env of random passwords and a secrets/ directory with
# the development CA and broker keystore (../kafka/gen-certs.sh). Keeps what exists and adds what is missing.
# Usage: gen-secrets.sh [DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here}"
env_file="$out/.env"
mkdir -p "$out"
umask 077

# add NAME VALUE: append NAME=VALUE unless .env already has NAME. Existing values (the cluster id above all)
# never change; a variable added by a later version, such as KAFKA_PW_INTAKE, is filled in on the next run.
touch "$env_file"
add() { grep -q "^$1=" "$env_file" || echo "$1=$2" >> "$env_file"; }
rand() { openssl rand -hex 24; }

# KRaft cluster id: 16 random bytes, base64url without padding
add KAFKA_CLUSTER_ID "$(openssl rand -base64 16 | tr '+/' '-_' | tr -d '=')"
add KAFKA_KEYSTORE_PASSWORD "$(rand)"
for user in ADMIN NORMALISER ROUTER AUDIT INTAKE CASES LOOKUP EXPORTER PARTNER_DE PARTNER_FR PARTNER_PL INTAKE_DE INTAKE_FR INTAKE_PL; do
  add "KAFKA_PW_$user" "$(rand)"
done
add CRX_KEY_PASSPHRASE "$(rand)"
add CRX_AUDIT_SECRET "$(rand)"
add POSTGRES_PASSWORD "$(rand)"
add POSTGRES_PW_CASES "$(rand)" # the case book's role crx_cases (router and case service)
add GRAFANA_ADMIN_PASSWORD "$(rand)"

KEYSTORE_PASSWORD="$(sed -n 's/^KAFKA_KEYSTORE_PASSWORD=//p' "$env_file")" \
  bash "$here/../kafka/gen-certs.sh" "$out/secrets"
echo "wrote $env_file and $out/secrets" >&2
