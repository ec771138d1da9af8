#!/usr/bin/env bash
# The gateway's added latency per non-streaming request, against calling the
# mock provider directly, in the same run (release builds, 127.0.0.1 only).
#
#   bash benches/overhead.sh [seconds-per-run]   (default 10)
#
# Rows: direct to the mock (OpenAI format), through Switchyard passthrough
# (openai adapter), direct to the mock (Anthropic format), through Switchyard
# translated (anthropic adapter); each at 1 and 16 connections, with wrk.
# The full load harness (issue 8) extends this; this script stays small.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
target=${CARGO_TARGET_DIR:-target}

cargo build --release --bin switchyard --bin mock-provider >&2
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

"$target/release/mock-provider" --listen 127.0.0.1:0 --chunks 20 >"$tmp/mock.out" &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$tmp/mock.out" 2>/dev/null && break; sleep 0.05; done
mock=$(sed -n 's/^listening on //p' "$tmp/mock.out")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$tmp/scripts"
cp -r scripts/providers "$tmp/scripts/"
cat >"$tmp/routes.yaml" <<YAML
listen: 127.0.0.1:$port
ledger: { enabled: false }   # the bare path; benches/load.sh has a row with policies on
providers:
  oa: { adapter: openai, base_url: "http://$mock/v1", api_key: k }
  an: { adapter: anthropic, base_url: "http://$mock", api_key: k }
routes:
  - { match: { model: pass }, targets: [ { provider: oa, model: gpt-4o-mini } ] }
  - { match: { model: translate }, targets: [ { provider: an, model: claude-sonnet-4 } ] }
YAML
SWITCHYARD_LOG=warn "$target/release/switchyard" run --config "$tmp/routes.yaml" 2>"$tmp/gw.err" >/dev/null &
pids+=($!)
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.05; done

msgs='[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello to the benchmark."}]'
lua() { # path body extra-header-lines
  cat >"$tmp/$1.lua" <<LUA
wrk.method = "POST"
wrk.body = '$3'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer k"
wrk.headers["x-api-key"] = "k"
wrk.headers["anthropic-version"] = "2023-06-01"
LUA
}
lua direct_openai "" "{\"model\":\"gpt-4o-mini\",\"messages\":$msgs}"
lua gw_pass "" "{\"model\":\"pass\",\"messages\":$msgs}"
lua direct_anthropic "" "{\"model\":\"claude-sonnet-4\",\"max_tokens\":256,\"system\":\"You are terse.\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello to the benchmark.\"}]}"
lua gw_translate "" "{\"model\":\"translate\",\"messages\":$msgs}"

run() { # name url
  local out
  out=$(wrk -t1 -c"$3" -d"${secs}s" --latency -s "$tmp/$1.lua" "$2")
  local p50 p99 rps
  p50=$(awk '/^ +50%/{print $2}' <<<"$out"); p99=$(awk '/^ +99%/{print $2}' <<<"$out")
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  local errs; errs=$(grep -c "Non-2xx\|Socket errors" <<<"$out" || true)
  printf "%-18s c=%-3s p50=%-9s p99=%-9s req/s=%-10s errors=%s\n" "$1" "$3" "$p50" "$p99" "$rps" "$errs"
}

echo "# $(date -u +%FT%TZ) $(nproc) cores; ${secs}s per row; mock: 20-token reply, no delay"
for c in 1 16; do
  run direct_openai "http://$mock/v1/chat/completions" "$c"
  run gw_pass "http://127.0.0.1:$port/v1/chat/completions" "$c"
  run direct_anthropic "http://$mock/v1/messages" "$c"
  run gw_translate "http://127.0.0.1:$port/v1/chat/completions" "$c"
done
