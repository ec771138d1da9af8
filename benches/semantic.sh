#!/usr/bin/env bash
# The semantic cache harness (issue 23): hit rate and added latency of the
# gateway's semantic response cache on a hand-written paraphrase set
# (benches/semantic/paraphrases.json: 60 questions, 3 paraphrases and one
# near-miss each). Embeddings come from the mock's `mock-semantic-embed`, a
# bag-of-words embedder (crates/mock/src/embeddings/semantic): the figures
# describe the cache on such vectors, not a trained embedding model.
#
# Starts two mock providers — chat answers after --latency-ms (default 250),
# embeddings after --embed-latency-ms (default 0) — and one gateway with, per
# threshold, a route `chat-tNN` (semantic cache, embeddings through the
# config's own `embed` route), the baseline `chat-exact` (exact cache only),
# `chat-stream` (semantic cache for the streaming check) and `embed`. Then
# benches/semantic.py sends, on every chat route, each group's question (a
# miss, stored), its paraphrases and its near-miss, and reports per threshold
# the paraphrase hit rate, the false-hit rate on near-misses, and latency of
# semantic misses against exact-cache misses (the added cost of the
# embedding call and the lookup) and of semantic hits; then streams
# paraphrases on `chat-stream` and counts streamed semantic hits.
#
#   bash benches/semantic.sh [--thresholds 0.80,0.85,0.90,0.95]
#                            [--stream-threshold T] [--stream-groups 10]
#                            [--latency-ms 250] [--embed-latency-ms 0]
#                            [--set FILE] [--raw FILE] [--out FILE] [--debug]
#
# --stream-threshold defaults to the lowest of --thresholds. --raw writes
# every request (route, text, cache header, similarity, latency) as JSON.
# --out defaults to $CARGO_TARGET_DIR/semantic-results.md (target/ by
# default). --debug uses debug builds: it proves the harness works; its
# latency figures mean little. Exits non-zero if the gateway does not start,
# rejects the config, or answers any request with an error.
# Everything runs on 127.0.0.1; everything started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

thresholds=0.80,0.85,0.90,0.95 stream_threshold="" stream_groups=10 latency=250 embed_latency=0
set_file=benches/semantic/paraphrases.json raw="" out="" profile=release
while [ $# -gt 0 ]; do
  case "$1" in
    --thresholds) thresholds=$2; shift 2 ;;
    --stream-threshold) stream_threshold=$2; shift 2 ;;
    --stream-groups) stream_groups=$2; shift 2 ;;
    --latency-ms) latency=$2; shift 2 ;;
    --embed-latency-ms) embed_latency=$2; shift 2 ;;
    --set) set_file=$2; shift 2 ;;
    --raw) raw=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --debug) profile=debug; shift ;;
    -h|--help) sed -n "2,32p" "$0"; exit 0 ;;
    *) echo "semantic.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
for t in ${thresholds//,/ } $stream_threshold; do
  if ! [[ "$t" =~ ^0?\.[0-9]+$|^1(\.0*)?$ ]]; then
    echo "semantic.sh: a threshold is a number in (0, 1], not '$t'" >&2; exit 2
  fi
done
[ -n "$stream_threshold" ] || stream_threshold=$(tr , '\n' <<<"$thresholds" | sort -g | head -1)
[ -f "$set_file" ] || { echo "semantic.sh: no paraphrase set at $set_file" >&2; exit 2; }
target=${CARGO_TARGET_DIR:-target}
out=${out:-$target/semantic-results.md}

bin=$target/$profile
if [ "$profile" = release ]; then
  echo "semantic.sh: building release binaries (the first release build takes several minutes)" >&2
  cargo build --release --bin switchyard --bin mock-provider >&2
else
  cargo build --bin switchyard --bin mock-provider >&2
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_line() { # file pattern pid
  for _ in $(seq 200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || break
    sleep 0.05
  done
  echo "semantic.sh: no '$2' from $1 (process exited or timed out):" >&2; cat "$1" >&2; return 1
}

start_mock() { # name latency-ms -> sets mock_addr
  "$bin/mock-provider" --listen 127.0.0.1:0 --latency-ms "$2" --chunks 20 --keep-requests 10 \
    >"$tmp/$1.out" 2>&1 &
  pids+=($!)
  wait_line "$tmp/$1.out" "listening on" "$!"
  mock_addr=$(sed -n 's/^listening on //p' "$tmp/$1.out")
}
start_mock chat "$latency"
chat_mock=$mock_addr
start_mock embed "$embed_latency"
embed_mock=$mock_addr

# The gateway: one semantic route per threshold, the exact-cache baseline,
# the streaming route, and the embeddings route the semantic ones name.
port=$(free_port)
route_name() { case "$1" in 1|1.*) echo chat-t100 ;; *) echo "chat-t${1#*.}" ;; esac; }
routes=""
for t in ${thresholds//,/ }; do routes="$routes${routes:+,}$(route_name "$t")=$t"; done
semantic_route() { # name threshold
  cat <<YAML
  - name: $1
    match: { model: $1 }
    targets: [{ provider: mock, model: mock-chat }]
    cache:
      when: always
      semantic:
        embeddings: embed
        threshold: $2
YAML
}
{
  cat <<YAML
listen: 127.0.0.1:$port
auth: { enabled: false }
ledger: { enabled: false }
providers:
  mock:
    adapter: openai
    base_url: http://$chat_mock/v1
    api_key: test
    models:
      mock-chat: { input_per_mtok: 1, output_per_mtok: 2 }
  mock-embed:
    adapter: openai
    base_url: http://$embed_mock/v1
    api_key: test
    models:
      mock-semantic-embed: { input_per_mtok: 0.02 }
routes:
YAML
  for t in ${thresholds//,/ }; do semantic_route "$(route_name "$t")" "$t"; done
  semantic_route chat-stream "$stream_threshold"
  cat <<YAML
  - name: chat-exact
    match: { model: chat-exact }
    targets: [{ provider: mock, model: mock-chat }]
    cache: { when: always }
  - name: embed
    match: { model: embed }
    targets: [{ provider: mock-embed, model: mock-semantic-embed }]
YAML
} >"$tmp/routes.yaml"

if ! "$bin/switchyard" check "$tmp/routes.yaml" >"$tmp/check.out" 2>&1; then
  echo "semantic.sh: the gateway rejects the harness's routes.yaml (does this build have the semantic cache?):" >&2
  cat "$tmp/check.out" >&2
  echo "--- routes.yaml" >&2; cat "$tmp/routes.yaml" >&2
  exit 1
fi
SWITCHYARD_LOG=${SWITCHYARD_LOG:-warn} "$bin/switchyard" run --config "$tmp/routes.yaml" \
  >"$tmp/gw.out" 2>"$tmp/gw.err" &
gw_pid=$!
pids+=($gw_pid)
for i in $(seq 400); do
  curl -s -o /dev/null "http://127.0.0.1:$port/health" && break
  if ! kill -0 "$gw_pid" 2>/dev/null || [ "$i" = 400 ]; then
    echo "semantic.sh: the gateway did not start on 127.0.0.1:$port:" >&2
    tail -n 40 "$tmp/gw.err" "$tmp/gw.out" >&2
    exit 1
  fi
  sleep 0.05
done

status=0
python3 benches/semantic.py --url "http://127.0.0.1:$port" --set "$set_file" \
  --routes "$routes" --stream-threshold "$stream_threshold" --stream-groups "$stream_groups" \
  --latency-ms "$latency" --embed-latency-ms "$embed_latency" --profile "$profile" \
  --out "$out" ${raw:+--raw "$raw"} || status=$?
if [ "$status" != 0 ]; then
  echo "semantic.sh: the measurement failed (exit $status); the gateway's log ends:" >&2
  tail -n 20 "$tmp/gw.err" >&2
fi
if grep -q "panicked" "$tmp/gw.err" "$tmp/gw.out"; then
  echo "semantic.sh: the gateway panicked:" >&2; grep -A5 "panicked" "$tmp/gw.err" "$tmp/gw.out" >&2; status=1
fi
exit "$status"
