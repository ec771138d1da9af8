#!/usr/bin/env bash
# Instructions per request (issue 8), counted by callgrind: unlike CPU time,
# the count holds steady on a busy machine, so before/after comparisons of
# the request path are exact. Each proxy — the floor (examples/bare_proxy.rs)
# and Switchyard in the four load.sh modes, plus auth + rate limit + ledger,
# tracing at 100% sampling, the shipped guardrails, and budgets at three
# scopes in the pass modes —
# runs under `valgrind --tool=callgrind` with instrumentation off; after a
# warm-up, counting is switched on for N sequential keep-alive requests
# (concurrency 1) and switched off again. The report gives instructions per
# request and the ratio to the floor of the same mode; the callgrind files
# stay in --keep DIR for `callgrind_annotate --inclusive=yes`.
#
#   bash benches/instructions.sh [--requests 500] [--modes pass,translate,stream-pass,stream-translate]
#                                (also: bedrock, stream-bedrock — Bedrock Converse, SigV4-signed;
#                                 responses, stream-responses — a Responses API client on the
#                                 chat passthrough route, against the passthrough floor)
#                                [--keep DIR] [--bin PATH] [--no-build]
#
# --bin measures another switchyard binary (e.g. a build of an older commit);
# --no-build uses the release binaries already in the target dir.
# Everything runs on 127.0.0.1; everything started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

n=500 modes=pass,translate,stream-pass,stream-translate keep="" bin="" build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) n=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --bin) bin=$(realpath "$2"); shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n "2,18p" "$0"; exit 0 ;;
    *) echo "instructions.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
target=${CARGO_TARGET_DIR:-target}
if [ "$build" = 1 ]; then
  echo "instructions.sh: building release binaries" >&2
  cargo build --release --bin switchyard --bin mock-provider --example bare_proxy >&2
fi
bin=${bin:-$target/release/switchyard}

tmp=$(mktemp -d)
keep=${keep:-$tmp/callgrind}
mkdir -p "$keep"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # url: up to 120 s (valgrind starts slowly)
  for _ in $(seq 1 1200); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "instructions.sh: $1 did not come up" >&2; return 1
}

"$target/release/mock-provider" --listen 127.0.0.1:0 --chunks 20 >"$tmp/mock.out" &
pids+=($!)
for _ in $(seq 1 100); do grep -q "listening" "$tmp/mock.out" 2>/dev/null && break; sleep 0.1; done
mock=$(grep -o '127.0.0.1:[0-9]*' "$tmp/mock.out" | head -1)

mkdir -p "$tmp/scripts" && cp -r scripts/providers "$tmp/scripts/"
key_out=$("$bin" key new --name bench)
vkey=$(grep -o 'sk-sy-[A-Za-z0-9]*' <<<"$key_out" | head -1)
vhash=$(grep -o 'sha256:[0-9a-f]*' <<<"$key_out" | head -1)

# run NAME URL-BASE PATH BODY KEY -- CMD...: one measured proxy process.
measure() {
  local name=$1 base=$2 path=$3 body=$4 key=$5; shift 6
  local out="$keep/$name.callgrind"
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" "$@" \
    >"$tmp/$name.log" 2>&1 &
  local pid=$!
  pids+=($pid)
  wait_http "$base/health" || wait_http "$base/"
  python3 benches/instructions.py drive --url "$base$path" --body "$body" --key "$key" --n 50 >/dev/null
  callgrind_control -i on "$pid" >/dev/null
  python3 benches/instructions.py drive --url "$base$path" --body "$body" --key "$key" --n "$n"
  callgrind_control -i off "$pid" >/dev/null
  callgrind_control -d "$pid" >/dev/null
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local total
  total=$(cat "$out"* 2>/dev/null | awk '/^(summary|totals):/ {s += $2} END {print s + 0}')
  echo "$name $total" >>"$tmp/results"
}

gw_config() { # port extra-yaml
  cat <<YAML
listen: 127.0.0.1:$1
scripts: $tmp/scripts/providers
server: { threads: 2 }
providers:
  oa: { adapter: openai, base_url: "http://$mock/v1", api_key: k }
  an: { adapter: anthropic, base_url: "http://$mock", api_key: k }
  br: { adapter: bedrock, base_url: "http://$mock", aws: { region: us-east-1, access_key_id: AKIDBENCH, secret_access_key: bench-secret } }
routes:
  - { match: { model: pass }, targets: [ { provider: oa, model: gpt-4o-mini } ] }
  - { match: { model: translate }, targets: [ { provider: an, model: claude-sonnet-4 } ] }
  - { match: { model: bedrock }, targets: [ { provider: br, model: "anthropic.claude-3-5-haiku-20241022-v1:0" } ] }
$2
YAML
}

msgs='[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello to the benchmark."}]'
for mode in ${modes//,/ }; do
  stream=false; [[ $mode == stream-* ]] && stream=true
  if [[ $mode == *pass ]]; then
    path=/v1/chat/completions
    up="{\"model\":\"gpt-4o-mini\",\"stream\":$stream,\"messages\":$msgs}"
  else
    path=/v1/messages
    up="{\"model\":\"claude-sonnet-4\",\"max_tokens\":256,\"stream\":$stream,\"system\":\"You are terse.\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello to the benchmark.\"}]}"
  fi
  if [[ $mode == *bedrock ]]; then
    # Converse / ConverseStream (AWS event-stream frames); the gateway signs each request
    op=converse; [[ $stream == true ]] && op=converse-stream
    path=/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/$op
    up="{\"system\":[{\"text\":\"You are terse.\"}],\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Say hello to the benchmark.\"}]}]}"
  fi
  gw_path=/v1/chat/completions
  gw_body="{\"model\":\"${mode##*-}\",\"stream\":$stream,\"messages\":$msgs}"
  if [[ $mode == *responses ]]; then
    # A Responses API client, translated to chat for the OpenAI-format
    # provider: its floor is the chat passthrough's.
    path=/v1/chat/completions
    up="{\"model\":\"gpt-4o-mini\",\"stream\":$stream,\"messages\":$msgs}"
    gw_path=/v1/responses
    gw_body="{\"model\":\"pass\",\"stream\":$stream,\"store\":false,\"instructions\":\"You are terse.\",\"input\":\"Say hello to the benchmark.\"}"
  fi

  port=$(free_port)
  measure "$mode.floor" "http://127.0.0.1:$port" "$path" "$up" k -- \
    "$target/release/examples/bare_proxy" --listen "127.0.0.1:$port" --upstream "$mock"

  port=$(free_port); mkdir -p "$tmp/gw.$mode"
  gw_config "$port" "ledger: { enabled: false }" >"$tmp/gw.$mode/routes.yaml"
  SWITCHYARD_LOG=warn measure "$mode.switchyard" "http://127.0.0.1:$port" "$gw_path" "$gw_body" k -- \
    "$bin" run --config "$tmp/gw.$mode/routes.yaml"

  if [[ $mode == pass || $mode == stream-pass ]]; then
    # Tracing on, every request sampled and exported (to the mock, which
    # answers OTLP exports): the export thread's instructions count too.
    port=$(free_port); mkdir -p "$tmp/gwtrace.$mode"
    gw_config "$port" "ledger: { enabled: false }
tracing: { endpoint: \"http://$mock\", sampler: always_on, delay: 100ms }" >"$tmp/gwtrace.$mode/routes.yaml"
    SWITCHYARD_LOG=warn measure "$mode.switchyard+tracing" "http://127.0.0.1:$port" "$gw_path" "$gw_body" k -- \
      "$bin" run --config "$tmp/gwtrace.$mode/routes.yaml"
  fi

  if [[ $mode == pass || $mode == stream-pass ]]; then
    # The three shipped guardrails (PII redaction of prompt and answer, a
    # deny list, an output cap), then budgets at three scopes (gateway,
    # route, provider) with soft thresholds: each request reads and
    # charges six counters.
    port=$(free_port); mkdir -p "$tmp/gwguard.$mode"
    gw_config "$port" "ledger: { enabled: false }
guardrails:
  - { builtin: pii, options: { answers: true } }
  - { builtin: deny-list, options: { words: [falcon, heron], patterns: [\"(?i)ignore (all )?previous instructions\"] } }
  - { builtin: max-tokens, options: { max: 4096 } }" >"$tmp/gwguard.$mode/routes.yaml"
    SWITCHYARD_LOG=warn measure "$mode.switchyard+guardrails" "http://127.0.0.1:$port" "$gw_path" "$gw_body" k -- \
      "$bin" run --config "$tmp/gwguard.$mode/routes.yaml"
    port=$(free_port); mkdir -p "$tmp/gwbudget.$mode"
    gw_config "$port" "ledger: { enabled: false }
budget: { daily: 1000000000, monthly: 1000000000, alerts: [50%, 80%] }" >"$tmp/gwbudget.$mode/routes.yaml"
    sed -i 's/^  - { match: { model: pass }, targets: \[ { provider: oa, model: gpt-4o-mini } \] }$/  - { match: { model: pass }, targets: [ { provider: oa, model: gpt-4o-mini } ], budget: { daily: 1000000000, alerts: [90%] } }/' "$tmp/gwbudget.$mode/routes.yaml"
    SWITCHYARD_LOG=warn measure "$mode.switchyard+budgets" "http://127.0.0.1:$port" "$gw_path" "$gw_body" k -- \
      "$bin" run --config "$tmp/gwbudget.$mode/routes.yaml"
  fi

  if [[ $mode == pass ]]; then
    port=$(free_port); mkdir -p "$tmp/gwauth"
    gw_config "$port" "auth:
  keys:
    - { name: bench, key_hash: \"$vhash\", rpm: 100000000, tpm: 100000000000 }
ledger: { url: \"sqlite:$tmp/gwauth/usage.db\" }" >"$tmp/gwauth/routes.yaml"
    SWITCHYARD_LOG=warn measure "$mode.switchyard+auth+rl+ledger" "http://127.0.0.1:$port" /v1/chat/completions "$gw_body" "$vkey" -- \
      "$bin" run --config "$tmp/gwauth/routes.yaml"
  fi
done

python3 benches/instructions.py report --results "$tmp/results" --n "$n"
echo "instructions.sh: callgrind files in $keep (kept only with --keep)" >&2
