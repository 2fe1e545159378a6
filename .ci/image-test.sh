#!/usr/bin/env bash
# The image, built and run as GitHub runs a Docker action, on a machine where no container daemon starts:
#   1. a stand-in for python:3.11-slim made by mmdebstrap (Debian bookworm minbase + python3, pip, passwd,
#      ca-certificates; python/pip on PATH; EXTERNALLY-MANAGED removed), committed under the base's name;
#   2. the real Dockerfile built by buildah (--isolation chroot, --pull=never);
#   3. its entrypoint run as the runner runs it (INPUT_* with hyphens, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY,
#      GITHUB_WORKSPACE mounted at /github/workspace, owned by UID 4242, not 1001), against the simulator inside
#      the container (input sandbox-data): a failing run (bad flow file), a successful one, the CLI passthrough;
#      outputs, summary, annotations and file ownership checked.
# Skips (exit 0, reason printed) when buildah cannot run here; fails when the image is broken.
# Needs the project's .venv (made by .ci/run) for the sample IPA and the throwaway key.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PY:-$ROOT/.venv/bin/python}
BASE=docker.io/library/python:3.11-slim
IMAGE=localhost/appstore-publish:ci
OUT=${IMAGE_TEST_OUT:-${TMPDIR:-/tmp}/appstore-publish-image-test}

say() { printf 'image test: %s\n' "$*"; }
skip() { say "SKIPPED: $*"; exit 0; }
fail() { say "FAILED: $*" >&2; exit 1; }
seconds_since() { echo $(( $(date +%s) - $1 )); }

# --- tools ----------------------------------------------------------------------------------------------------
if ! command -v buildah >/dev/null || ! command -v mmdebstrap >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing buildah and mmdebstrap (Debian packages)"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah mmdebstrap; } \
                >"${TMPDIR:-/tmp}/image-test-apt.log" 2>&1; then
            skip "apt-get could not install buildah/mmdebstrap (see ${TMPDIR:-/tmp}/image-test-apt.log)"
        fi
    else
        skip "buildah and mmdebstrap are not installed, and this user cannot apt-get install them"
    fi
fi
if ! buildah info >/dev/null 2>"${TMPDIR:-/tmp}/image-test-buildah.log"; then
    skip "buildah cannot run here: $(tail -1 "${TMPDIR:-/tmp}/image-test-buildah.log")"
fi

rm -rf "$OUT" && mkdir -p "$OUT"

# --- 1. the stand-in base image (rebuilt only when its recipe changes) ------------------------------------------
PACKAGES=python3,python3-pip,passwd,ca-certificates
HOOK='ln -sf python3 "$1/usr/bin/python"; ln -sf pip3 "$1/usr/bin/pip"; rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED; rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*'
# The stand-in trusts what this machine trusts (a TLS-inspecting proxy's CA may stand between it and PyPI),
# as the real base trusts the public CAs; Debian's pip reads the system bundle.
HOST_CA=/etc/ssl/certs/ca-certificates.crt
if [ -f "$HOST_CA" ]; then
    HOOK="$HOOK; cat $HOST_CA >\"\$1/etc/ssl/certs/ca-certificates.crt\""
fi
RECIPE=$( { printf 'bookworm minbase %s %s' "$PACKAGES" "$HOOK"; cat "$HOST_CA" 2>/dev/null; } | sha256sum | cut -c1-16)
have=$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "appstore-publish.stand-in"}}' "$BASE" \
       2>/dev/null || true)
if [ "$have" != "$RECIPE" ]; then
    started=$(date +%s)
    say "making the stand-in for $BASE with mmdebstrap"
    if ! mmdebstrap --quiet --variant=minbase --include="$PACKAGES" --customize-hook="$HOOK" bookworm \
            "$OUT/base.tar" >"$OUT/mmdebstrap.log" 2>&1; then
        tail -5 "$OUT/mmdebstrap.log"
        skip "mmdebstrap could not make the base (no Debian mirror reachable?)"
    fi
    ctr=$(buildah from scratch)
    buildah add --quiet "$ctr" "$OUT/base.tar" / >/dev/null
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
        --cmd python3 --label "appstore-publish.stand-in=$RECIPE" "$ctr"
    buildah commit --quiet --rm "$ctr" "$BASE" >/dev/null
    rm -f "$OUT/base.tar"
    say "stand-in base made in $(seconds_since "$started") s"
else
    say "stand-in base $BASE is up to date (recipe $RECIPE)"
fi

# --- 2. the real Dockerfile ------------------------------------------------------------------------------------
started=$(date +%s)
if ! buildah build --isolation chroot --pull=never --layers -q -f Dockerfile -t "$IMAGE" \
        --build-arg VERSION="$("$PY" -c 'import publish; print(publish.__version__)')" \
        --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" . >"$OUT/build.log" 2>&1; then
    tail -20 "$OUT/build.log"
    fail "buildah could not build the Dockerfile (log: $OUT/build.log)"
fi
BUILD_S=$(seconds_since "$started")
size() { buildah images --noheading --format '{{.Size}}' "$1" | head -1; }
say "image built in ${BUILD_S} s; size $(size "$IMAGE") (base $(size "$BASE"))"
buildah inspect --type image "$IMAGE" >"$OUT/inspect.json"
config() { "$PY" -c 'import json, sys; c = json.load(open(sys.argv[1]))["OCIv1"]["config"]; exec(sys.argv[2])' \
    "$OUT/inspect.json" "$1"; }
labels=$(config 'print(" ".join(sorted(c.get("Labels") or {})))')
user=$(config 'print(c.get("User") or "")')
case "$labels" in *org.opencontainers.image.source*) ;; *) fail "the image has no OCI labels: $labels" ;; esac
[ -z "$user" ] || [ "$user" = root ] || [ "$user" = 0 ] || fail "the image's default user is $user, not root"
mapfile -t ENTRY < <(config 'print("\n".join(c["Entrypoint"]))')
say "entrypoint ${ENTRY[*]}, default user ${user:-root}"

# --- 3. run it as GitHub runs a Docker action -------------------------------------------------------------------
WS=$OUT/workspace
FC=$OUT/file_commands
mkdir -p "$WS" "$FC" "$OUT/home"
"$PY" - "$WS" <<'EOF'
import sys
from pathlib import Path
from publish.sandbox.sample_ipa import build_ipa
build_ipa(Path(sys.argv[1]) / "build" / "App.ipa", bundle_id="com.example.app", version="1.4.0", build_number="42",
          uses_non_exempt_encryption=False)
EOF
"$PY" -m publish sandbox keygen --out "$WS/sandbox" >/dev/null
cat >"$WS/publish.yaml" <<'EOF'
version: 1
api_keys:
  simulator:
    fastlane_json: {file: sandbox/api_key.json}
profiles:
  - bundle_id: com.example.app
    flow:
      - step: send_to_testflight
        api_key: simulator
        groups: [Team]
        what_to_test: "Image test"
EOF
cat >"$WS/publish-bad.yaml" <<'EOF'
version: 1
profiles:
  - bundle_id: com.example.app
    flow:
      - step: send_to_testfligth
        groups: Team
EOF
chown -R 4242:4242 "$WS" "$OUT/home"
chown 4242:4242 "$FC"

ctr=$(buildah from --pull=never --quiet "$IMAGE")
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT

# run_action NAME INPUT=VALUE...: one docker-action step; exit code in $OUT/NAME.rc, log in $OUT/NAME.log
run_action() {
    local name=$1; shift
    local args=()
    for input in "$@"; do args+=(--env "INPUT_${input%%=*}=${input#*=}"); done
    : >"$FC/set_output_$name"; : >"$FC/step_summary_$name"
    chown 4242:4242 "$FC/set_output_$name" "$FC/step_summary_$name"
    set +e
    buildah run --isolation chroot --user 0:0 --workingdir /github/workspace \
        --volume "$WS:/github/workspace" --volume "$FC:/github/file_commands" --volume "$OUT/home:/github/home" \
        --env HOME=/github/home --env GITHUB_ACTIONS=true --env CI=true \
        --env GITHUB_WORKSPACE=/github/workspace \
        --env GITHUB_OUTPUT="/github/file_commands/set_output_$name" \
        --env GITHUB_STEP_SUMMARY="/github/file_commands/step_summary_$name" \
        "${args[@]}" "$ctr" -- "${ENTRY[@]}" >"$OUT/$name.log" 2>&1
    echo $? >"$OUT/$name.rc"
    set -e
}
output() { "$PY" - "$FC/set_output_$1" "$2" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
values = {m[1]: m[3] for m in re.finditer(r"^([a-z-]+)<<(\S+)\n(.*?)\n?\2$", text, re.S | re.M)}
print(values.get(sys.argv[2], ""))
EOF
}
# The ::add-mask:: lines (consumed by the runner, never shown in a GitHub log) are counted, not printed.
show() {
    say "--- log of the $1 run (exit $(cat "$OUT/$1.rc")) ---"
    grep -v '^::add-mask::' "$OUT/$1.log" | sed 's/^/    /'
    say "    ($(grep -c '^::add-mask::' "$OUT/$1.log") ::add-mask:: lines not shown)"
}

run_action failed FLOW=publish-bad.yaml IPA=build/App.ipa SANDBOX-DATA=sandbox/sandbox-data.json
show failed
[ "$(cat "$OUT/failed.rc")" = 2 ] || fail "a bad flow file should exit 2"
grep -q '^::error file=publish-bad.yaml,line=5,col=' "$OUT/failed.log" || fail "no located ::error annotation"
grep -q 'Traceback' "$OUT/failed.log" && fail "traceback in the failed run"
[ "$(output failed status)" = failed ] || fail "the failed run left no status=failed output"
[ -n "$(output failed error)" ] || fail "the failed run left no error output"
grep -q 'Failed before any step ran' "$FC/step_summary_failed" || fail "the failed run left no summary"

run_action succeeded FLOW=publish.yaml APP-PATH=build/App.ipa SANDBOX-DATA=sandbox/sandbox-data.json \
    POLL-INTERVAL=0.05 CONCURRENCY=2
show succeeded
[ "$(cat "$OUT/succeeded.rc")" = 0 ] || fail "the run against the simulator failed"
[ "$(output succeeded status)" = succeeded ] || fail "no status=succeeded output"
[ -n "$(output succeeded build-id)" ] || fail "no build-id output"
grep -q '^::group::step 1/1: send_to_testflight' "$OUT/succeeded.log" || fail "no ::group:: for the step"
grep -q 'send_to_testflight' "$FC/step_summary_succeeded" || fail "no job summary"
say "--- job summary of the succeeded run ---"; sed 's/^/    /' "$FC/step_summary_succeeded"
say "--- outputs of the succeeded run ---"; sed 's/^/    /' "$FC/set_output_succeeded"
foreign=$(find "$WS" ! -user 4242 -print)
[ -z "$foreign" ] || fail "files in the workspace not owned by its owner (4242): $foreign"
[ -f "$WS/.appstore-publish/state.sqlite3" ] || fail "no state store in the workspace"
say "workspace files after the run: all owned by 4242 ($(find "$WS" | wc -l) entries, state store included)"

# The CLI through the same entrypoint: `docker run IMAGE validate publish.yaml`.
set +e
buildah run --isolation chroot --user 0:0 --workingdir /github/workspace --volume "$WS:/github/workspace" \
    "$ctr" -- "${ENTRY[@]}" validate publish.yaml >"$OUT/validate.log" 2>&1
rc=$?
set -e
sed 's/^/    /' "$OUT/validate.log"
[ "$rc" = 0 ] || fail "\`IMAGE validate publish.yaml\` exited $rc"
say "OK: built in ${BUILD_S} s, $(size "$IMAGE"); failed run exit 2 with annotations, successful run published," \
    "outputs, summary and ownership checked; logs in $OUT"
