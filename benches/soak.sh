#!/usr/bin/env bash
# The soak (issue 9): a bounded run of mixed load through one gateway —
# OpenAI chat and Anthropic /v1/messages, streaming and not, 16 clients on
# keep-alive connections — over a healthy mock, a flaky one (a share of 503s),
# one mock per injected fault (mid-stream drop, in-band error, malformed
# event/body) and routes that fail over across them, while routes.yaml is
# rewritten every 10 s (the 3rd, 9th, 15th… rewrite a bad edit that must be
# rejected while serving goes on). Samples the gateway's RSS, open fds and threads
# every 5 s, prints the curve and `N passed, N failed` (what passes: see
# benches/soak.py), and exits non-zero if any request failed, a reload check
# failed, the gateway died or panicked, fds grew beyond a small slack or RSS
# grew more than --max-rss-growth-mib after the warm-up.
#
#   bash benches/soak.sh [--duration 10m] [--clients 16] [--reload-every 10]
#                        [--faults drop:2,error:1,malformed] [--error-rate 0.3]
#                        [--error-status 503] [--seed 1] [--chunks 8]
#                        [--chunk-delay-ms 2] [--warmup SECS]
#                        [--max-rss-growth-mib 32] [--fd-slack 24] [--out FILE]
#
# Binaries: $SWITCHYARD_BIN and $MOCK_BIN if set (e.g. the debug ones `cargo
# test` built), else a release build in $CARGO_TARGET_DIR (target/ by default).
# --duration takes 600, 600s, 10m. --faults lists mock-provider --fault values
# (status:CODE, drop:N, error:N, malformed); --error-rate/--error-status/--seed
# configure the flaky mock (and are passed to the faulty ones too). The report
# is printed and written to --out (default $CARGO_TARGET_DIR/soak-results.md).
# Everything runs on 127.0.0.1; everything started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=10m clients=16 reload_every=10 faults=drop:2,error:1,malformed error_rate=0.3
error_status=503 seed=1 chunks=8 chunk_delay=2 warmup="" rss_growth=32 fd_slack=24 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --reload-every) reload_every=$2; shift 2 ;;
    --faults) faults=$2; shift 2 ;;
    --error-rate) error_rate=$2; shift 2 ;;
    --error-status) error_status=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --chunks) chunks=$2; shift 2 ;;
    --chunk-delay-ms) chunk_delay=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --max-rss-growth-mib) rss_growth=$2; shift 2 ;;
    --fd-slack) fd_slack=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n "2,26p" "$0"; exit 0 ;;
    *) echo "soak.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$duration" in
  *m) secs=$(( ${duration%m} * 60 )) ;;
  *s) secs=${duration%s} ;;
  *) secs=$duration ;;
esac
if ! [[ "$secs" =~ ^[0-9]+$ ]] || [ "$secs" -lt 5 ]; then
  echo "soak.sh: --duration must be at least 5 s (600, 600s or 10m), not $duration" >&2; exit 2
fi
target=${CARGO_TARGET_DIR:-target}
out=${out:-$target/soak-results.md}

if [ -z "${SWITCHYARD_BIN:-}" ] || [ -z "${MOCK_BIN:-}" ]; then
  echo "soak.sh: building release binaries (the first release build takes several minutes)" >&2
  cargo build --release --bin switchyard --bin mock-provider >&2
fi
gw_bin=$(realpath "${SWITCHYARD_BIN:-$target/release/switchyard}")
mock_bin=$(realpath "${MOCK_BIN:-$target/release/mock-provider}")
echo "soak.sh: gateway $gw_bin, mock $mock_bin" >&2

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 40); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_line() { # file pattern
  for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "soak.sh: timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}
start_mock() { # name args... -> sets addr
  local name=$1; shift
  "$mock_bin" --listen 127.0.0.1:0 --chunks "$chunks" --chunk-delay-ms "$chunk_delay" "$@" >"$tmp/$name.out" 2>&1 &
  pids+=($!)
  wait_line "$tmp/$name.out" "listening on"
  addr=$(sed -n 's/^listening on //p' "$tmp/$name.out")
}

# 1. the mocks: a healthy one, a flaky one, one per fault
start_mock good; good=$addr
start_mock flaky --error-rate "$error_rate" --error-status "$error_status" --seed "$seed"; flaky=$addr
fault_json=""
i=0
IFS=, read -ra fault_list <<<"$faults"
for f in "${fault_list[@]}"; do
  start_mock "fault$i" --fault "$f" --error-rate "$error_rate" --error-status "$error_status" --seed "$((seed + i + 1))"
  fault_json+="${fault_json:+,}\"$f\": \"$addr\""
  i=$((i + 1))
done
echo "{\"good\": \"$good\", \"flaky\": \"$flaky\", \"faults\": {$fault_json}}" >"$tmp/mocks.json"

# 2. the gateway, on a config soak.py writes (and rewrites)
mkdir -p "$tmp/gw"
cp -r scripts "$tmp/gw/scripts"
port=$(free_port)
python3 benches/soak.py config --mocks "$tmp/mocks.json" --port "$port" --scripts scripts/providers >"$tmp/gw/routes.yaml"
(cd "$tmp/gw" && SWITCHYARD_LOG=${SWITCHYARD_LOG:-warn} exec "$gw_bin" run --config routes.yaml) \
  >"$tmp/gw.out" 2>"$tmp/gw.err" &
gw_pid=$!; pids+=($gw_pid)
if ! python3 - "$port" <<'PY'
import sys, time, urllib.request
end = time.monotonic() + 30
while time.monotonic() < end:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=2).read()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
then
  echo "soak.sh: the gateway did not start:" >&2; cat "$tmp/gw.err" >&2; exit 1
fi

# 3. the load, the reloads, the samples
status=0
python3 benches/soak.py run --url "http://127.0.0.1:$port" --pid "$gw_pid" --config "$tmp/gw/routes.yaml" \
  --mocks "$tmp/mocks.json" --scripts scripts/providers --duration "$secs" --clients "$clients" \
  --reload-every "$reload_every" ${warmup:+--warmup "$warmup"} --max-rss-growth-mib "$rss_growth" \
  --fd-slack "$fd_slack" --seed "$seed" --log "$tmp/gw.err" --out "$out" || status=$?
if [ $status != 0 ]; then
  echo "soak.sh: the gateway's last log lines:" >&2
  tail -n 30 "$tmp/gw.err" >&2
fi
echo "soak.sh: results in $out" >&2
exit $status
