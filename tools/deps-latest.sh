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
import re
from importlib.metadata import distributions
from pathlib import Path

pin = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)")
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()  # noqa: E731
locked = {norm(m[1]): m[2] for line in Path("requirements/dev.txt").read_text().splitlines() if (m := pin.match(line))}
installed = {norm(d.metadata["Name"]): d.version for d in distributions()}
rows = []
for name in sorted(set(locked) | set(installed) - {"pip", "crx"}):
    old, new = locked.get(name, "-"), installed.get(name, "-")
    if old != new:
        rows.append(f"  {name:28} locked {old:14} newest {new}")
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
