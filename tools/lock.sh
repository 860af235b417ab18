#!/usr/bin/env bash
# The dependency lock: requirements/*.txt, every version pinned with the hashes of every file PyPI serves for
# it, resolved once for all supported Pythons and platforms (uv's universal resolution).
#   tools/lock.sh write [UV-ARGS]  re-resolve after pyproject.toml changed, keeping every pin still allowed;
#                                  `--upgrade` or `--upgrade-package NAME` move pins forward (make lock)
#   tools/lock.sh check            fail when pyproject.toml and the lock disagree (make lint)
# The lock names no index and no URL: any PyPI mirror serves it, and pip alone installs it (--require-hashes).
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.venv/bin/uv}
mode=${1:?usage: tools/lock.sh write|check [uv pip compile args]}
shift

compile() {  # $1: directory holding pyproject.toml and requirements/; the rest: extra uv arguments
    local dir=$1
    shift
    local common=(pip compile --quiet --universal --python-version 3.11 --generate-hashes
                  --custom-compile-command "make lock" --no-config "$@")
    (cd "$dir" && "$UV" "${common[@]}" pyproject.toml --extra dev --extra embedded --group build \
        -o requirements/dev.txt \
     && "$UV" "${common[@]}" pyproject.toml -c requirements/dev.txt -o requirements/runtime.txt \
     && "$UV" "${common[@]}" --group pyproject.toml:build -c requirements/dev.txt -o requirements/build.txt)
}

case "$mode" in
write)
    UV=$(realpath "$UV")
    compile . "$@"
    echo "lock written: requirements/{dev,runtime,build}.txt ($(grep -c '^[a-z0-9].*==' requirements/dev.txt) packages)"
    ;;
check)
    UV=$(realpath "$UV")
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    cp pyproject.toml README.md "$tmp"/
    cp -r requirements "$tmp"/requirements
    if ! compile "$tmp"; then
        echo "lock check: uv could not resolve pyproject.toml (see above)" >&2
        exit 1
    fi
    if ! diff -ru requirements "$tmp"/requirements; then
        echo "lock check: pyproject.toml and requirements/ disagree: run 'make lock' and commit the result" >&2
        exit 1
    fi
    echo "lock check: requirements/ matches pyproject.toml"
    ;;
*)
    echo "usage: tools/lock.sh write|check [uv pip compile args]" >&2
    exit 2
    ;;
esac
