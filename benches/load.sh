#!/usr/bin/env bash
# The load harness (issue 8): the same load, in one run, against the mock
# provider directly, the floor (examples/bare_proxy.rs: bare Pingora, same
# version, 2 threads, one fixed peer), nginx as a plain reverse proxy (if
# installed) and Switchyard, in four modes — pass (non-streaming, OpenAI
# format), translate (non-streaming, Anthropic-format provider), stream-pass
# and stream-translate (20 chunks) — plus "switchyard+auth+rl+ledger" (a
# virtual key, RPM/TPM limits and the SQLite ledger on) in the pass modes,
# "switchyard+tracing" (OpenTelemetry, every request sampled and
# exported to a second mock standing in for the collector) in all four, and
# "switchyard+guardrails+budgets" (the built-in guardrails and budgets at
# two scopes) in the pass modes.
# Prints a markdown table (also written to --out): req/s, p50/p99, CPU µs per
# request of each proxy process (/proc/PID/stat) and RSS, as ratios to the
# direct run and to the floor; stream modes also get time to first byte.
#
#   bash benches/load.sh [--secs 5] [--conc 1,16,64,256]
#                        [--modes pass,translate,stream-pass,stream-translate]
#                        (also: responses, stream-responses — a Responses API client
#                         on the passthrough route, against the chat passthrough's floor;
#                         bedrock, stream-bedrock — OpenAI clients translated to Bedrock
#                         Converse, every request SigV4-signed, the stream in AWS's
#                         binary event-stream framing)
#                        [--loadgen wrk|oha] [--streams 10000] [--no-streams]
#                        [--cadence 1000] [--cadence-secs 10] [--no-cadence]
#                        [--alt-gateway PATH [--alt-name NAME]] [--out FILE] [--debug]
#
# --alt-gateway adds rows for a second switchyard binary (e.g. one built with
# another allocator) next to the first. --streams N (default 10000) holds N
# slow streams open through the gateway afterwards and reports RSS per open
# stream and after they close; --streams 0 or --no-streams skips it.
# --cadence N (default 1000) then runs the realistic-cadence rows: N
# concurrent streams, one token every 20 ms for --cadence-secs (default 10),
# so each event arrives alone, through the floor, nginx and Switchyard
# (passthrough and translated): CPU per stream-second and RSS; --cadence 0 or
# --no-cadence skips them.
# --out defaults to $CARGO_TARGET_DIR/load-results.md (target/ by default).
# --debug uses debug builds (what `cargo test` built): CI's smoke run, which
# proves the harness works; its figures mean nothing.
# Everything runs on 127.0.0.1; everything started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=5 conc=1,16,64,256 modes=pass,translate,stream-pass,stream-translate
loadgen=${LOADGEN:-} streams=10000 cadence=1000 cadence_secs=10 alt="" alt_name="switchyard (alt binary)" out="" profile=release
while [ $# -gt 0 ]; do
  case "$1" in
    --secs) secs=$2; shift 2 ;;
    --conc) conc=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --loadgen) loadgen=$2; shift 2 ;;
    --streams) streams=$2; shift 2 ;;
    --no-streams) streams=0; shift ;;
    --cadence) cadence=$2; shift 2 ;;
    --cadence-secs) cadence_secs=$2; shift 2 ;;
    --no-cadence) cadence=0; shift ;;
    --alt-gateway) alt=$(realpath "$2"); shift 2 ;;
    --alt-name) alt_name=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --debug) profile=debug; shift ;;
    -h|--help) sed -n "2,31p" "$0"; exit 0 ;;
    *) echo "load.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
target=${CARGO_TARGET_DIR:-target}
out=${out:-$target/load-results.md}

bin=$target/$profile
strict=""; [ "$profile" = debug ] && strict=--strict
if [ "$profile" = release ]; then
  echo "load.sh: building release binaries (the first release build takes several minutes)" >&2
  cargo build --release --bin switchyard --bin mock-provider --example bare_proxy >&2
else
  cargo build --bin switchyard --bin mock-provider --example bare_proxy >&2
fi

# The load generator: oha (crates.io) if present or installable, else wrk (Debian).
if [ -z "$loadgen" ]; then
  if command -v oha >/dev/null; then loadgen=oha
  else
    echo "load.sh: oha not found; trying 'cargo install oha --locked' (a large build, up to ${OHA_INSTALL_TIMEOUT:-900} s)" >&2
    if timeout "${OHA_INSTALL_TIMEOUT:-900}" cargo install oha --locked >&2; then loadgen=oha
    else echo "load.sh: oha could not be installed in time; falling back to wrk (apt-get install wrk)" >&2; loadgen=wrk; fi
  fi
fi
if [ "$loadgen" = wrk ] && ! command -v wrk >/dev/null; then
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
echo "load.sh: load generator: $loadgen" >&2

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_line() { # file pattern
  for _ in $(seq 400); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "load.sh: timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}
wait_http() { # url
  for _ in $(seq 400); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "load.sh: $1 did not answer" >&2; return 1
}

start_mock() { # name mock-provider-args... -> sets mock_addr mock_pid
  "$bin/mock-provider" --listen 127.0.0.1:0 "${@:2}" >"$tmp/$1.out" &
  pids+=($!); mock_pid=$!
  wait_line "$tmp/$1.out" "listening on"
  mock_addr=$(sed -n 's/^listening on //p' "$tmp/$1.out")
}
start_floor() { # name upstream -> sets floor_port floor_pid
  floor_port=$(free_port)
  "$bin/examples/bare_proxy" --listen "127.0.0.1:$floor_port" --upstream "$2" >"$tmp/$1.out" 2>&1 &
  pids+=($!); floor_pid=$!
  wait_http "http://127.0.0.1:$floor_port/"
}

# 1. the mock provider: 20-chunk replies, no delay; and another as the
#    OpenTelemetry collector of the traced gateway (it answers OTLP exports)
start_mock mock --chunks 20
mock=$mock_addr
start_mock collector
collector=$mock_addr

# 2. the floor
start_floor floor "$mock"

# 3. nginx, if installed: a plain reverse proxy with upstream keep-alive, 2 workers
nginx_bin=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)
start_nginx() { # name upstream -> sets nginx_pid nginx_port ("" when there is no nginx)
  nginx_pid="" nginx_port=""
  [ -n "$nginx_bin" ] || return 0
  nginx_port=$(free_port)
  local dir=$tmp/$1
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  upstream mock { server $2; keepalive 512; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGINX
  "$nginx_bin" -c "$dir/nginx.conf" -e "$dir/error.log" 2>"$dir/err" &
  pids+=($!); nginx_pid=$!
  wait_http "http://127.0.0.1:$nginx_port/" || nginx_pid=""
}
start_nginx nginx "$mock"

# 4. Switchyard: bare (no auth, no ledger), and with auth + rate limit + ledger
mkdir -p "$tmp/scripts" && cp -r scripts/providers "$tmp/scripts/"
key_out=$("$bin/switchyard" key new --name bench)
vkey=$(grep -o 'sk-sy-[A-Za-z0-9]*' <<<"$key_out" | head -1 || true)
vhash=$(grep -o 'sha256:[0-9a-f]*' <<<"$key_out" | head -1 || true)
if [ -z "$vkey" ] || [ -z "$vhash" ]; then echo "load.sh: cannot read 'switchyard key new' output:" >&2; echo "$key_out" >&2; exit 1; fi
gw_config() { # port extra-yaml
  cat <<YAML
listen: 127.0.0.1:$1
scripts: $tmp/scripts/providers
server: { threads: 2, max_connections: 50000, max_streams: 50000 }
# (the harness holds 10,000 streams open: above the defaults of 4096 connections and 1024 streams)
providers:
  oa: { adapter: openai, base_url: "http://$mock/v1", api_key: k }
  an: { adapter: anthropic, base_url: "http://$mock", api_key: k }
  # Bedrock: every request SigV4-signed (the mock, started without keys, accepts it)
  br: { adapter: bedrock, base_url: "http://$mock", aws: { region: us-east-1, access_key_id: AKIDBENCH, secret_access_key: bench-secret } }
routes:
  - { match: { model: pass }, targets: [ { provider: oa, model: gpt-4o-mini } ] }
  - { match: { model: translate }, targets: [ { provider: an, model: claude-sonnet-4 } ] }
  - { match: { model: bedrock }, targets: [ { provider: br, model: "anthropic.claude-3-5-haiku-20241022-v1:0" } ] }
$2
YAML
}
start_gw() { # name binary extra-yaml -> sets gw_pid gw_port
  gw_port=$(free_port)
  mkdir -p "$tmp/$1"
  gw_config "$gw_port" "$3" >"$tmp/$1/routes.yaml"
  SWITCHYARD_LOG=warn "$2" run --config "$tmp/$1/routes.yaml" >"$tmp/$1/out" 2>"$tmp/$1/err" &
  gw_pid=$!; pids+=($gw_pid)
  wait_http "http://127.0.0.1:$gw_port/health"
}
start_gw gw "$bin/switchyard" "ledger: { enabled: false }"
gw_pid_main=$gw_pid gw_port_main=$gw_port
start_gw gwauth "$bin/switchyard" "auth:
  keys:
    - { name: bench, key_hash: \"$vhash\", rpm: 100000000, tpm: 100000000000 }
ledger: { url: sqlite:usage.db }"
gw_pid_auth=$gw_pid gw_port_auth=$gw_port
# Tracing on, every request sampled (issue 21): its cost over the bare row.
start_gw gwtrace "$bin/switchyard" "ledger: { enabled: false }
tracing: { endpoint: \"http://$collector\", sampler: always_on }"
gw_pid_trace=$gw_pid gw_port_trace=$gw_port
# The built-in guardrails and budgets at two scopes (issue 22): PII
# redaction of prompt and answer, a deny list, an output cap; the
# gateway's and the route's spend read and charged on every request.
start_gw gwguard "$bin/switchyard" "ledger: { enabled: false }
guardrails:
  - { builtin: pii, options: { answers: true } }
  - { builtin: deny-list, options: { words: [falcon, heron], patterns: [\"(?i)ignore (all )?previous instructions\"] } }
  - { builtin: max-tokens, options: { max: 4096 } }
budget: { daily: 1000000000, monthly: 1000000000, alerts: [50%, 80%] }"
gw_pid_guard=$gw_pid gw_port_guard=$gw_port
gw_pid_alt="" gw_port_alt=""
if [ -n "$alt" ]; then
  start_gw gwalt "$alt" "ledger: { enabled: false }"
  gw_pid_alt=$gw_pid gw_port_alt=$gw_port
fi

# 5. the rows of each mode, for load.py (nginx: its worker processes, summed)
nginx_workers=""
[ -n "$nginx_pid" ] && nginx_workers=$(pgrep -P "$nginx_pid" | paste -sd, -)
python3 - "$tmp/targets.json" <<PY
import json, sys
msgs = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello to the benchmark."}]
def openai(model, stream): return json.dumps({"model": model, "stream": stream, "messages": msgs})
def anthropic(stream): return json.dumps({"model": "claude-sonnet-4", "max_tokens": 256, "stream": stream,
    "system": "You are terse.", "messages": [{"role": "user", "content": "Say hello to the benchmark."}]})
def hdr(key="k"): return {"Content-Type": "application/json", "Authorization": f"Bearer {key}",
    "x-api-key": key, "anthropic-version": "2023-06-01"}
mock, floor = "http://$mock", "http://127.0.0.1:$floor_port"
nginx = "http://127.0.0.1:${nginx_port:-0}" if "$nginx_pid" else None
gw, gwauth = "http://127.0.0.1:$gw_port_main", "http://127.0.0.1:$gw_port_auth"
gwtrace = "http://127.0.0.1:$gw_port_trace"
gwguard = "http://127.0.0.1:$gw_port_guard"
alt = "http://127.0.0.1:$gw_port_alt" if "$gw_pid_alt" else None
out = {}
def responses(stream): return json.dumps({"model": "pass", "stream": stream, "store": False,
    "instructions": "You are terse.", "input": "Say hello to the benchmark."})
def converse(): return json.dumps({"system": [{"text": "You are terse."}],
    "messages": [{"role": "user", "content": [{"text": "Say hello to the benchmark."}]}]})
for mode in ["pass", "translate", "stream-pass", "stream-translate", "responses", "stream-responses",
             "bedrock", "stream-bedrock"]:
    stream = mode.startswith("stream")
    if mode.endswith("pass") or mode.endswith("responses"):
        path, up = "/v1/chat/completions", openai("gpt-4o-mini", stream)
    elif mode.endswith("bedrock"):
        # Converse / ConverseStream (AWS's binary event-stream framing)
        op = "converse-stream" if stream else "converse"
        path, up = f"/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/{op}", converse()
    else:
        path, up = "/v1/messages", anthropic(stream)
    gw_path, gw_body = "/v1/chat/completions", openai(mode.split("-")[-1], stream)
    if mode.endswith("responses"):
        # A Responses API client on the passthrough route: its floor and
        # direct rows are the chat passthrough's.
        gw_path, gw_body = "/v1/responses", responses(stream)
    rows = [dict(name="direct (mock)", url=mock + path, body=up, headers=hdr(), pid=None),
            dict(name="floor (bare Pingora)", url=floor + path, body=up, headers=hdr(), pid=$floor_pid)]
    if nginx:
        rows.append(dict(name="nginx", url=nginx + path, body=up, headers=hdr(), pid=[int(p) for p in "$nginx_workers".split(",") if p]))
    rows.append(dict(name="switchyard", url=gw + gw_path, body=gw_body, headers=hdr(), pid=$gw_pid_main))
    if alt:
        rows.append(dict(name="$alt_name", url=alt + gw_path, body=gw_body,
                         headers=hdr(), pid=int("${gw_pid_alt:-0}")))
    if mode in ("pass", "stream-pass", "translate", "stream-translate"):
        rows.append(dict(name="switchyard+tracing", url=gwtrace + gw_path, body=gw_body,
                         headers=hdr(), pid=$gw_pid_trace))
    if mode in ("pass", "stream-pass"):
        rows.append(dict(name="switchyard+guardrails+budgets", url=gwguard + gw_path, body=gw_body,
                         headers=hdr(), pid=$gw_pid_guard))
    if mode.endswith("pass"):
        rows.append(dict(name="switchyard+auth+rl+ledger", url=gwauth + "/v1/chat/completions", body=gw_body,
                         headers=hdr("$vkey"), pid=$gw_pid_auth))
    out[mode] = rows
json.dump(out, open(sys.argv[1], "w"), indent=1)
PY


load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load.sh: load average now $load (above 1.5, other work shares the 2 cores; figures are noisier)" >&2
python3 benches/load.py run --targets "$tmp/targets.json" --secs "$secs" --conc "$conc" --modes "$modes" \
  --loadgen "$loadgen" --load-before "$load" --out "$out" $strict

if [ "$streams" -gt 0 ]; then
  # a second mock that sends one chunk every 4 s (3 chunks + role + [DONE]: ~16 s per stream),
  # and fresh proxies in front of it, so each baseline RSS is the proxy's own
  start_mock slow --chunks 3 --chunk-delay-ms 4000
  slow=$mock_addr
  hold() { # name url pid model
    # warm up: a few requests so the baseline includes pools and lazily built state
    for _ in 1 2 3; do curl -s -m 30 -o /dev/null "$2" -H 'content-type: application/json' \
      -d "{\"model\":\"$4\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"; done
    echo "load.sh: holding $streams slow streams open through $1 (bounded, about 30 s)" >&2
    python3 benches/load.py streams --name "$1" --url "$2" --pid "$3" --model "$4" --n "$streams" --out "$out" $strict
  }
  fast=$mock; mock=$slow
  start_gw gwslow "$bin/switchyard" "ledger: { enabled: false }"
  hold switchyard "http://127.0.0.1:$gw_port/v1/chat/completions" "$gw_pid" pass
  kill -INT "$gw_pid"
  if [ -n "$alt" ]; then
    start_gw gwslowalt "$alt" "ledger: { enabled: false }"
    hold "$alt_name" "http://127.0.0.1:$gw_port/v1/chat/completions" "$gw_pid" pass
    kill -INT "$gw_pid"
  fi
  mock=$fast
  start_floor slowfloor "$slow"
  hold "floor (bare Pingora)" "http://127.0.0.1:$floor_port/v1/chat/completions" "$floor_pid" gpt-4o-mini
fi
if [ "$cadence" -gt 0 ]; then
  # a mock that sends a token every 20 ms for --cadence-secs, and fresh proxies
  # in front of it
  chunks=$(( cadence_secs * 1000 / 20 ))
  start_mock cadence --chunks "$chunks" --chunk-delay-ms 20
  mock=$mock_addr
  start_floor cfloor "$mock"
  cfloor_port=$floor_port cfloor_pid=$floor_pid
  start_nginx cnginx "$mock"
  cnginx_workers=""
  [ -n "$nginx_pid" ] && cnginx_workers=$(pgrep -P "$nginx_pid" | paste -sd, -)
  start_gw gwcadence "$bin/switchyard" "ledger: { enabled: false }"
  python3 - "$tmp/cadence.json" <<PY
import json, sys
msgs = [{"role": "user", "content": "Say hello to the benchmark."}]
hdr = {"Content-Type": "application/json", "Authorization": "Bearer k"}
def body(model): return json.dumps({"model": model, "stream": True, "messages": msgs})
rows = [dict(name="floor (bare Pingora)", url="http://127.0.0.1:$cfloor_port/v1/chat/completions",
             body=body("gpt-4o-mini"), headers=hdr, pid=$cfloor_pid)]
if "$nginx_pid":
    rows.append(dict(name="nginx", url="http://127.0.0.1:$nginx_port/v1/chat/completions", body=body("gpt-4o-mini"),
                     headers=hdr, pid=[int(p) for p in "$cnginx_workers".split(",") if p]))
gw = "http://127.0.0.1:$gw_port/v1/chat/completions"
rows.append(dict(name="switchyard (passthrough)", url=gw, body=body("pass"), headers=hdr, pid=$gw_pid))
rows.append(dict(name="switchyard (translated from Anthropic)", url=gw, body=body("translate"), headers=hdr, pid=$gw_pid))
json.dump(rows, open(sys.argv[1], "w"), indent=1)
PY
  echo "load.sh: $cadence streams at a token cadence through each proxy (~$cadence_secs s each)" >&2
  python3 benches/load.py cadence --targets "$tmp/cadence.json" --n "$cadence" --secs "$cadence_secs" \
    --delay-ms 20 --timeout "$(( cadence_secs * 3 + 30 ))" --load-before "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --out "$out" $strict
fi
echo "load.sh: results in $out" >&2
