#!/usr/bin/env bash
# Prepare deploy/compose for `docker compose up`: a .env of random passwords and a secrets/ directory with
# the development CA and broker keystore (../kafka/gen-certs.sh). Keeps what exists. Usage: gen-secrets.sh [DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here}"
env_file="$out/.env"
mkdir -p "$out"
umask 077

if [[ ! -f "$env_file" ]]; then
  rand() { openssl rand -hex 24; }
  {
    # KRaft cluster id: 16 random bytes, base64url without padding
    echo "KAFKA_CLUSTER_ID=$(openssl rand -base64 16 | tr '+/' '-_' | tr -d '=')"
    echo "KAFKA_KEYSTORE_PASSWORD=$(rand)"
    for user in ADMIN NORMALISER ROUTER AUDIT EXPORTER PARTNER_DE PARTNER_FR PARTNER_PL INTAKE_DE INTAKE_FR INTAKE_PL; do
      echo "KAFKA_PW_$user=$(rand)"
    done
    echo "CRX_KEY_PASSPHRASE=$(rand)"
    echo "CRX_AUDIT_SECRET=$(rand)"
    echo "POSTGRES_PASSWORD=$(rand)"
    echo "GRAFANA_ADMIN_PASSWORD=$(rand)"
  } > "$env_file"
fi

KEYSTORE_PASSWORD="$(sed -n 's/^KAFKA_KEYSTORE_PASSWORD=//p' "$env_file")" \
  bash "$here/../kafka/gen-certs.sh" "$out/secrets"
echo "wrote $env_file and $out/secrets" >&2
