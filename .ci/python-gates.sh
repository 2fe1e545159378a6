#!/usr/bin/env bash
# The style gates of issue 14, offline and from the project's .venv alone (pip install -e '.[test]'):
#   ruff    pyflakes, bugbear and a complexity ceiling of 15 (pyproject.toml [tool.ruff]) on publish, tests,
#           bench and entrypoint.py;
#   mypy    publish/ (pyproject.toml [tool.mypy]; strictness raised package by package in its overrides);
#   size    no module under publish/ outside the simulator over 400 lines;
#   coverage  the share of publish/ the suite runs, at least COVERAGE_FLOOR (set and explained in .ci/run),
#           measured by a pytest --cov=publish pass of its own (xdist, -n auto).
# Each gate prints the command that reruns it alone; name gates to run only those (bash .ci/python-gates.sh mypy
# size). Exit 0 only when every gate run passed. .ci/lint.sh runs them all first; after a merge run
# bash .ci/python-gates.sh ruff mypy size (or the type check alone: .venv/bin/mypy).
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-$PWD/.venv}
MAX_MODULE_LINES=400
SOURCES=${GATES_SOURCES:-publish}  # the package the size gate reads (a test points it elsewhere)
floor=${COVERAGE_FLOOR:-$(sed -n 's/^export COVERAGE_FLOOR=\([0-9][0-9]*\).*/\1/p' .ci/run)}
failed=()
gate() {
    local name=$1; shift
    printf '\ngates: %s: %s\n' "$name" "$*"
    if "$@"; then echo "gates: $name: ok"; else echo "gates: $name: FAILED"; failed+=("$name"); fi
}

module_sizes() {
    "$VENV/bin/python" - "$MAX_MODULE_LINES" "$SOURCES" <<'PY'
import pathlib
import sys

limit, root = int(sys.argv[1]), pathlib.Path(sys.argv[2])
over = []
for path in sorted(root.rglob("*.py")):
    if path.relative_to(root).parts[0] == "sandbox":
        continue  # the simulator is allowed its route tables
    lines = len(path.read_text(encoding="utf-8").splitlines())
    if lines > limit:
        over.append(f"  {path}: {lines} lines")
if over:
    print(f"modules over {limit} lines (split them along their seams):", *over, sep="\n")
sys.exit(1 if over else 0)
PY
}

coverage_floor() {
    # Measured in a pass of its own: tracing slows CPU-bound code several times, and the suite's time budgets (a
    # zip bomb refused within 2 s) are for untraced code, so the tests' verdict comes from .ci/run's plain run and
    # this pass only counts lines (its failures, if any, are listed but do not decide). COVERAGE_DATA: use that
    # data instead of measuring (tests).
    local data=${COVERAGE_DATA:-}
    if [ -z "$floor" ]; then
        echo "no coverage floor: .ci/run must export COVERAGE_FLOOR"
        return 1
    fi
    if [ -z "$data" ]; then
        data=${TMPDIR:-/tmp}/appstore-publish-coverage.$$
        # Not "$data.log": coverage erases every "$data.*" (its per-process files) when it starts and combines.
        local log=${TMPDIR:-/tmp}/appstore-publish-coverage-pytest.$$.log
        rm -f "$data"
        COVERAGE_FILE=$data "$VENV/bin/python" -m pytest -q -p no:cacheprovider -n "${COVERAGE_WORKERS:-auto}" \
            --cov=publish --cov-report= >"$log" 2>&1
        grep -E "^(FAILED|ERROR) |^[0-9]+ (passed|failed)" "$log" | tail -15
    fi
    if [ ! -f "$data" ]; then
        echo "no coverage data at $data: pytest --cov=publish wrote none (see its log above)"
        return 1
    fi
    local total
    total=$("$VENV/bin/coverage" report --data-file="$data" --format=total --precision=1) || return 1
    echo "publish/ covered: $total % (floor $floor %); per module: coverage report --data-file=$data --sort=cover"
    # The total just printed decides (as --fail-under would at this precision): a second report cost ~0.15 s.
    awk -v total="$total" -v floor="$floor" 'BEGIN { exit !(total + 0 >= floor + 0) }'
}

wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(ruff mypy size coverage)
for name in "${wanted[@]}"; do
    case $name in
        ruff) gate ruff "$VENV/bin/ruff" check publish tests bench entrypoint.py ;;
        mypy) gate mypy "$VENV/bin/mypy" ;;
        size) gate size module_sizes ;;
        coverage) gate coverage coverage_floor ;;
        *) echo "gates: unknown gate '$name' (ruff, mypy, size, coverage)"; exit 2 ;;
    esac
done

if [ ${#failed[@]} -ne 0 ]; then
    printf '\ngates: FAILED: %s\n' "${failed[*]}"
    exit 1
fi
printf '\ngates: passed: %s\n' "${wanted[*]}"
