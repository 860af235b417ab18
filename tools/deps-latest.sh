#!/usr/bin/env bash
# The suite and the linters on the newest release of every dependency, in a throw-away venv, beside the
# lock: so that an upgrade (make lock UPGRADE=1) is a decision taken on evidence, not a surprise on a new
# machine. Prints what differs from the lock, then the pytest, ruff and mypy results; exits non-zero when any
# of them failed. Never touches .venv or requirements/.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
venv=$(mktemp -d "${TMPDIR:-/tmp}/crx-deps-latest.XXXXXX")
trap 'rm -rf "$venv"' EXIT

"$PYTHON" -m venv "$venv" || exit 2
"$venv/bin/python" -m pip install --quiet --upgrade pip || exit 2
# The newest releases pyproject.toml allows (no lock, no hashes): build backend, runtime, embedded and dev.
"$venv/bin/python" -m pip install --quiet --upgrade setuptools || exit 2
"$venv/bin/python" -m pip install --quiet --upgrade --upgrade-strategy eager --no-build-isolation \
    -e '.[dev,embedded]' || exit 2

echo "== newest releases that differ from the lock (requirements/dev.txt) =="
"$venv/bin/python" - <<'PY'
from importlib.metadata import distributions

from packaging.utils import canonicalize_name

from tests.test_lock import pins

locked = pins("dev")  # the pins whose markers hold for this Python and platform
installed = {canonicalize_name(d.metadata["Name"]): d.version for d in distributions()}
rows = [
    f"  {name:28} locked {locked.get(name, '-'):14} newest {installed.get(name, '-')}"
    for name in sorted((set(locked) | set(installed)) - {"pip", "crx"})
    if locked.get(name) != installed.get(name)
]
print("\n".join(rows) if rows else "  none: the lock holds the newest release of everything")
PY

status=0
run() {  # $1: label; rest: command
    local label=$1
    shift
    echo "== $label =="
    if "$@"; then echo "$label: passed"; else echo "$label: FAILED"; status=1; fi
}
export CRX_UNLOCKED_ENV=1  # the lock test skips itself here: this venv is not the lock, on purpose
run "pytest" "$venv/bin/python" -m pytest -q -p no:cacheprovider
run "ruff" "$venv/bin/ruff" check --no-cache .
run "ruff format" "$venv/bin/ruff" format --check --no-cache .
run "mypy" "$venv/bin/mypy" --no-incremental --cache-dir=/dev/null
echo "== deps-latest: $([ $status -eq 0 ] && echo 'everything passed on the newest releases' || echo 'something failed: see above')"
exit $status
