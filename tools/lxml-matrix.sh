#!/usr/bin/env bash
# The adapter tests (hostile XML, every XML adapter, the conformance suite) on several lxml releases, each in
# a throw-away venv holding the lock with only lxml swapped: libxml2's error reporting changes between
# releases, and the typed refusal reasons must not. Usage: tools/lxml-matrix.sh [VERSION ...]
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(5.3.0 6.1.3 6.2.0)
root=$(mktemp -d "${TMPDIR:-/tmp}/crx-lxml.XXXXXX")
trap 'rm -rf "$root"' EXIT

status=0
for version in "${versions[@]}"; do
    venv=$root/$version
    "$PYTHON" -m venv "$venv" \
        && "$venv/bin/python" -m pip install --quiet --no-deps --require-hashes -r requirements/dev.txt \
        && "$venv/bin/python" -m pip install --quiet --no-deps "lxml==$version" \
        && "$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e . \
        || { echo "lxml $version: could not install"; status=1; continue; }
    libxml2=$("$venv/bin/python" -c 'from lxml import etree; print(".".join(map(str, etree.LIBXML_VERSION)))')
    out=$(CRX_UNLOCKED_ENV=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/adapters 2>&1)
    rc=$?
    echo "lxml $version (libxml2 $libxml2): $(tail -n 1 <<<"$out")"
    [ $rc -eq 0 ] || { tail -n 30 <<<"$out"; status=1; }
done
exit $status
