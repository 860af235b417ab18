#!/usr/bin/env bash
# A development CA and the broker's certificate, with openssl only. Usage: gen-certs.sh OUT_DIR
#   ca.key, ca.crt      the CA; ca.crt is the client truststore (PEM): CRX_KAFKA_SSL_CAFILE for crx, and
#                       ssl.truststore.type=PEM for Kafka and its tools
#   broker.p12          the broker keystore (PKCS12, password KEYSTORE_PASSWORD): key + certificate + CA,
#                       subject CN=kafka,O=crx, SAN from BROKER_HOSTS (default kafka,localhost),
#                       serverAuth + clientAuth (the broker is also the client of its controller listener)
# Existing files are kept. Production: use your PKI and keep ca.key offline.
set -euo pipefail
out="${1:?usage: gen-certs.sh OUT_DIR}"
: "${KEYSTORE_PASSWORD:?}"
hosts="${BROKER_HOSTS:-kafka,localhost}"
days="${CERT_DAYS:-825}"

mkdir -p "$out"
cd "$out"
umask 077

if [[ ! -f ca.crt ]]; then
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
  openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/O=crx/CN=crx development CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt
fi

if [[ ! -f broker.p12 ]]; then
  san=""
  IFS=',' read -r -a names <<< "$hosts"
  for h in "${names[@]}"; do san="${san:+$san,}DNS:$h"; done
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out broker.key
  openssl req -new -key broker.key -subj "/O=crx/CN=kafka" -out broker.csr
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' \
    "$san" > broker.ext
  openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days "$days" \
    -extfile broker.ext -out broker.crt 2>/dev/null
  openssl pkcs12 -export -inkey broker.key -in broker.crt -certfile ca.crt -name kafka \
    -passout env:KEYSTORE_PASSWORD -out broker.p12
  rm -f broker.csr broker.ext broker.key ca.srl
fi

# The broker runs as uid 1000 in its image, which need not be yours: the keystore is readable by all but
# protected by its password; ca.crt is public; ca.key stays 0600 and is never mounted.
chmod 0644 ca.crt broker.crt broker.p12
echo "certificates in $out" >&2
