#!/usr/bin/env bash
# Runs schemathesis against the agent and agent/openapi.yaml: it must find no disagreement between the two (no
# server error, every status, body, content type and header documented, bounds enforced as described, 405 with
# `Allow`). Builds nothing: run `cargo build -p agent -p demo --bins` first (scripts/test.sh does). Starts the agent
# with a fresh data directory on a free loopback port, imports the demo versions and runs one demo upgrade so that
# the routes have data, logs on, and fuzzes every operation but logon and logout with the session cookie, for
# about API_FUZZ_SECONDS (90 by default). Stops the agent and the demo product's replicas on any exit.
#   scripts/api-fuzz.sh             (after scripts/setup.sh, which installs schemathesis)
#   API_FUZZ_SECONDS=30 scripts/api-fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

SCHEMATHESIS=/var/cache/upgrade-manager/schemathesis-venv/bin/schemathesis
seconds=${API_FUZZ_SECONDS:-90}

say() { printf '\033[1m[api-fuzz]\033[0m %s\n' "$*"; }
fail() { say "$*" >&2; exit 1; }

[[ -x $SCHEMATHESIS ]] || fail "schemathesis is missing ($SCHEMATHESIS): run scripts/setup.sh"
for tool in curl jq python3; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/setup.sh"
done
[[ -x target/debug/agent && -x target/debug/demo-app ]] ||
  fail "build first: cargo build -p agent -p demo --bins (looked for target/debug/agent and demo-app)"

work=$(mktemp -d -t api-fuzz.XXXXXX)
# Kept after the run: every request and response as HAR, for a look at what was sent, and schemathesis's caches.
reports=$root/target/api-fuzz
mkdir -p "$reports"
data_dir=$work/data
agent_pid=
fuzzer_pid=

# Stops the agent (SIGTERM; SIGKILL after 20 s), then the product its supervisor holds (`agent stop-product`), then
# any replica of this data directory still alive (found by the marker the local platform puts in their
# environment), then removes the data directory. Runs on every exit, failure included.
stop_everything() {
  local status=$?
  if [[ -n $fuzzer_pid ]]; then
    kill -TERM "$fuzzer_pid" 2>/dev/null || true
    wait "$fuzzer_pid" 2>/dev/null || true
  fi
  if [[ -n $agent_pid ]] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid" 2>/dev/null || true
    for _ in $(seq 200); do kill -0 "$agent_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$agent_pid" 2>/dev/null || true
    wait "$agent_pid" 2>/dev/null || true
  fi
  # The product outlives the agent (its supervisor holds it): stop it on purpose.
  if [[ -d $data_dir ]]; then
    target/debug/agent stop-product --data-dir "$data_dir" >/dev/null 2>&1 || true
  fi
  local environ pid
  for environ in /proc/[0-9]*/environ; do
    if grep -qsz "^UPGRADE_AGENT_HOME=$data_dir" "$environ"; then
      pid=${environ#/proc/}
      pid=${pid%/environ}
      say "stopping replica process $pid left behind"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  if (( status != 0 )) && [[ -f $work/agent.log ]]; then
    say "the agent's log (last 40 lines):" >&2
    tail -n 40 "$work/agent.log" >&2
  fi
  rm -rf "$work"
  exit "$status"
}
trap stop_everything EXIT
trap 'exit 130' INT TERM

# Four consecutive free loopback ports for the demo product's stable addresses.
base_port=$(python3 - <<'EOF'
import random, socket
def free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
for _ in range(200):
    base = random.randint(20000, 50000)
    if all(free(base + i) for i in range(4)):
        print(base)
        break
else:
    raise SystemExit("no four consecutive free loopback ports")
EOF
)

password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
say "starting the agent (data in $data_dir, demo product from port $base_port)"
AGENT_ADMIN_PASSWORD=$password RUST_LOG=info NO_COLOR=1 target/debug/agent serve \
  --listen 127.0.0.1:0 \
  --data-dir "$data_dir" \
  --bin-dir target/debug \
  --base-port "$base_port" \
  --console-dir agent/tests/api/console \
  --bootstrap-package demo/versions/V5.1.2.02.zip \
  --bootstrap-values demo/config/values-V5.1.2.02.yaml \
  >"$work/agent.log" 2>&1 &
agent_pid=$!

url=
for _ in $(seq 600); do
  url=$(sed -n 's/.*listening on \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$work/agent.log" | head -n 1)
  [[ -n $url ]] && break
  kill -0 "$agent_pid" 2>/dev/null || fail "the agent exited before listening"
  sleep 0.1
done
[[ -n $url ]] || fail "the agent did not start listening within 60 s"
say "agent at $url"

curl -fsS -o /dev/null -c "$work/cookies" -H 'content-type: application/json' \
  -d "$(jq -n --arg p "$password" '{username: "admin", password: $p}')" "$url/api/v1/login" ||
  fail "logging on as admin failed"
session=$(awk '$6 == "agent_session" { print $7 }' "$work/cookies")
[[ -n $session ]] || fail "no session cookie after logging on"
api() { curl -fsS -H "cookie: agent_session=$session" "$@"; }

for version in V5.1.2.04 V5.2.0.01; do
  api -o /dev/null -H 'content-type: application/zip' --data-binary "@demo/versions/$version.zip" \
    "$url/api/v1/versions" || fail "importing $version failed"
done

# One finished upgrade, so that the record, its steps, log and configuration are there to be read.
id=$(api -F target_version=V5.1.2.04 -F mode=zero-downtime -F config_kind=standard -F risk_accepted=true \
  -F "config=@demo/config/standard-V5.1.2.04.yaml" "$url/api/v1/upgrades" | jq -r .id) ||
  fail "starting the demo upgrade failed"
say "demo upgrade $id started"
for _ in $(seq 1200); do
  status=$(api "$url/api/v1/upgrades/$id" | jq -r .status)
  [[ $status != running ]] && break
  sleep 0.1
done
[[ $status == succeeded ]] || fail "the demo upgrade $id ended $status"
say "demo upgrade $id $status"

say "running schemathesis for about ${seconds} s"
started=$(date +%s)
# Logon and logout are left out: fuzzing them would trip the logon throttle or end the session under test.
# `timeout` only guards against a hang: --max-time ends the run. In the background with `wait`, so that a signal
# to this script runs the trap at once rather than after the run. Run from $reports, where schemathesis and
# Hypothesis keep their caches and example database (outside the sources; a failure found once is tried first
# next time).
(cd "$reports" && AGENT_SESSION=$session exec timeout $((seconds + 120)) \
  "$SCHEMATHESIS" --config-file "$root/scripts/api-fuzz.toml" run "$root/agent/openapi.yaml" \
  --url "$url" \
  --exclude-path /api/v1/login \
  --exclude-path /api/v1/logout \
  --max-time "$seconds" \
  --workers 1 \
  --seed "${API_FUZZ_SEED:-$RANDOM}" \
  --report har --report-har-path "$reports/requests.har" \
  --no-color) &
fuzzer_pid=$!
result=0
wait "$fuzzer_pid" || result=$?
fuzzer_pid=
took=$(($(date +%s) - started))
calls=$(jq '.log.entries | length' "$reports/requests.har" 2>/dev/null || echo "an unknown number of")
say "schemathesis took ${took} s and made $calls calls (each in $reports/requests.har)"
(( result == 0 )) || fail "schemathesis found disagreements between the agent and agent/openapi.yaml (exit $result)"
say "the agent and agent/openapi.yaml agree"
