#!/usr/bin/env python3
"""Driver of benches/soak.sh: the routes.yaml it rewrites, the clients, the
reloads and the /proc samples. Standard library only.

  soak.py config --mocks mocks.json --port P --scripts DIR [--variant 0|1]
  soak.py run    --url URL --pid PID --config FILE --mocks mocks.json --scripts DIR
                 --duration SECS [--clients 16] [--reload-every 10] [--bad-every 6]
                 [--sample-every 5] [--warmup SECS] [--max-rss-growth-mib 32]
                 [--fd-slack 24] [--seed 1] [--log GATEWAY_STDERR] [--out FILE]

`run` drives --clients concurrent clients (keep-alive HTTP/1.1 connections,
one request at a time each) with a mix of OpenAI chat and Anthropic
/v1/messages requests, streaming and not, over routes to a healthy mock, a
flaky one, routes that fail over and routes to mocks with a fault; every
--reload-every seconds it rewrites the config (alternating
server.request_timeout, so the config version changes; by rename or in
place) and checks the version header moved, and every --bad-every-th
rewrite (from the 3rd on) is a bad edit that must be rejected (the version stays, the failure
counter of gateway_config_reloads_total grows) while serving goes on.

A request PASSES when it gets
  * a 2xx whose body is well formed: a chat.completion / an Anthropic
    message; for streams an event stream, every event's data JSON, ending
    with `data: [DONE]` (OpenAI) or `message_stop` (Anthropic), or with an
    in-band error event (and nothing after it), the chunked body properly
    terminated;
  * or a 4xx/5xx with a well-formed JSON error: OpenAI's
    {"error": {"message", "type"}} or, on /v1/messages, Anthropic's
    {"type": "error", "error": {"type", "message"}}.
Anything else FAILS: connection refused or reset, a timeout (30 s), a body
that is not what its status and content type promise, a stream cut without
an error event.

The gateway's RSS (VmRSS), open fds (/proc/PID/fd) and threads are sampled
every --sample-every seconds. After the warm-up (default: 60 s, at most a
quarter of the run) the clients pause, the gateway settles 3 s and RSS and
fds are read as the baseline; at the end, the same after the clients stop.
The run fails (exit 1) when any request failed, a reload check failed, the
gateway died or logged a panic, fds grew by more than --fd-slack, or RSS grew
by more than --max-rss-growth-mib over the baseline.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time

# ---------------------------------------------------------------- the config


def config_text(mocks, port, scripts, variant, bad=None):
    """routes.yaml for the mocks in `mocks` ({"good": addr, "flaky": addr,
    "faults": {name: addr}}); `variant` 0/1 alternates a setting, `bad`
    (0, 1, 2) makes it invalid in one of three ways."""
    good, flaky = mocks["good"], mocks["flaky"]
    faults = mocks["faults"]
    timeout = "5 parsecs" if bad == 2 else "10s"
    lines = [
        f"listen: 127.0.0.1:{port}",
        f"scripts: {scripts}",
        "server:",
        "  threads: 2",
        "  drain_timeout: 5s",
        "  connect_timeout: 2s",
        "  first_byte_timeout: 10s",
        f"  idle_timeout: {timeout}",
        f"  request_timeout: {60 + variant}s",
        "ledger: { url: sqlite:soak-usage.db, flush_interval: 1s }",
        "providers:",
        f"  good: {{ adapter: openai, base_url: \"http://{good}/v1\", api_key: k }}",
        f"  good_an: {{ adapter: anthropic, base_url: \"http://{good}\", api_key: k }}",
        f"  flaky: {{ adapter: openai, base_url: \"http://{flaky}/v1\", api_key: k }}",
    ]
    names = []
    # The faulty mocks' circuits never open, so every request to them meets
    # the fault (the flaky mock keeps the default breaker).
    never_open = "circuit_breaker: { consecutive_failures: 1000000000, error_rate: 1.0, min_requests: 1000000000 }"
    for i, (fault, addr) in enumerate(sorted(faults.items())):
        name = f"fault{i}"
        names.append((name, fault))
        # alternate the wire formats across the faulty mocks
        if i % 2:
            lines.append(f"  {name}: {{ adapter: anthropic, base_url: \"http://{addr}\", api_key: k, {never_open} }}")
        else:
            lines.append(f"  {name}: {{ adapter: openai, base_url: \"http://{addr}/v1\", api_key: k, {never_open} }}")
    lines.append("routes:")

    def route(model, targets):
        ts = ", ".join(f"{{ provider: {p}, model: {m} }}" for p, m in targets)
        return f"  - {{ match: {{ model: {model} }}, targets: [ {ts} ] }}"

    def model_of(p):
        return "claude-sonnet-4" if p in ("good_an",) or (p.startswith("fault") and int(p[5:]) % 2) else "gpt-4o-mini"

    lines.append(route("direct", [("good", "gpt-4o-mini")]))
    lines.append(route("translate", [("good_an", "claude-sonnet-4")]))
    lines.append(route("flaky", [("flaky", "gpt-4o-mini")]))
    lines.append(route("failover", [("flaky", "gpt-4o-mini"), ("good", "gpt-4o-mini")]))
    deep = [(n, model_of(n)) for n, _ in names] + [("flaky", "gpt-4o-mini"), ("good_an", "claude-sonnet-4")]
    lines.append(route("failover-deep", [("ghost" if bad == 0 else p, m) for p, m in deep]))
    for name, _ in names:
        lines.append(route(name, [(name, model_of(name))]))
    text = "\n".join(lines) + "\n"
    if bad == 1:
        text = text.replace("routes:\n", "routes:\n  - { match: { model: broken\n", 1)
    return text


def fault_routes(mocks):
    return [f"fault{i}" for i in range(len(mocks["faults"]))]


def write_config(path, text, in_place):
    """Replaces the file like an editor: by rename, or truncate-and-write."""
    if in_place:
        with open(path, "w") as f:
            f.write(text)
    else:
        tmp = os.path.join(os.path.dirname(path), ".routes.yaml.swp")
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)


# ---------------------------------------------------------------- /proc

def proc_sample(pid):
    """(RSS KiB, open fds, threads) of a live process, or None."""
    try:
        rss = threads = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
        return rss, len(os.listdir(f"/proc/{pid}/fd")), threads
    except (FileNotFoundError, ProcessLookupError):
        return None


# ---------------------------------------------------------------- HTTP/1.1


class Broken(Exception):
    """The response is not valid HTTP framing (e.g. a cut chunked body)."""


async def read_response(reader):
    """One response: (status, headers, body, keep_alive)."""
    head = await reader.readuntil(b"\r\n\r\n")
    first, *rest = head.decode("latin-1").split("\r\n")
    status = int(first.split(" ", 2)[1])
    hdrs = {}
    for line in rest:
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    chunks = []
    if hdrs.get("transfer-encoding", "").lower() == "chunked":
        while True:
            line = await reader.readuntil(b"\r\n")
            size = int(line.split(b";")[0], 16)
            data = await reader.readexactly(size + 2)
            if data[-2:] != b"\r\n":
                raise Broken("bad chunk framing")
            if size == 0:
                break
            chunks.append(data[:-2])
        keep = hdrs.get("connection", "").lower() != "close"
    elif "content-length" in hdrs:
        chunks.append(await reader.readexactly(int(hdrs["content-length"])))
        keep = hdrs.get("connection", "").lower() != "close"
    else:
        chunks.append(await reader.read())
        keep = False
    return status, hdrs, b"".join(chunks), keep


def request_bytes(host, port, path, body, headers):
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def get(host, port, path):
    """A one-off GET on its own connection: (status, headers, body)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        status, hdrs, body, _ = await asyncio.wait_for(read_response(reader), 10)
        return status, hdrs, body
    finally:
        writer.close()


# ---------------------------------------------------------------- what passes


def json_or_none(b):
    try:
        return json.loads(b)
    except (ValueError, UnicodeDecodeError):
        return None


def sse_events(body):
    """[(event name or None, data)] of an event stream."""
    out = []
    text = body.decode("utf-8", "replace").replace("\r\n", "\n")
    for block in text.split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
        if name is not None or data:
            out.append((name, "\n".join(data)))
    return out


def check_error(api, status, hdrs, body):
    v = json_or_none(body)
    if not isinstance(v, dict):
        return "error body is not JSON"
    e = v.get("error")
    if not isinstance(e, dict) or not isinstance(e.get("message"), str) or not isinstance(e.get("type"), str):
        return "error body lacks error.message/error.type"
    if api == "messages" and v.get("type") != "error":
        return "Anthropic error body lacks type: error"
    return None


def check_stream(api, body):
    events = sse_events(body)
    if not events:
        return "empty stream"
    datas = []
    for name, data in events:
        if api == "chat" and data == "[DONE]":
            datas.append("[DONE]")
            continue
        v = json_or_none(data)
        if v is None:
            return f"stream event data is not JSON: {data[:60]!r}"
        datas.append(v)
    last = datas[-1]
    if api == "chat":
        errors = [i for i, d in enumerate(datas) if isinstance(d, dict) and "error" in d]
        if errors:
            if errors[0] != len(datas) - 1:
                return "events after the in-band error"
            return None
        if last != "[DONE]":
            return "stream ended without [DONE] or an error event"
        return None
    names = [n for n, _ in events]
    if "error" in names:
        if names.index("error") != len(names) - 1:
            return "events after the error event"
        return None
    if names[-1] != "message_stop":
        return "stream ended without message_stop or an error event"
    return None


def check(api, stream, status, hdrs, body):
    """None when the response passes, else why not."""
    if status >= 400:
        return check_error(api, status, hdrs, body)
    if not 200 <= status < 300:
        return f"status {status}"
    ctype = hdrs.get("content-type", "")
    if stream:
        if "text/event-stream" not in ctype:
            return f"stream with content-type {ctype!r}"
        return check_stream(api, body)
    v = json_or_none(body)
    if not isinstance(v, dict):
        return "2xx body is not JSON"
    if api == "chat":
        msg = (v.get("choices") or [{}])[0].get("message")
        return None if isinstance(msg, dict) else "chat.completion without choices[0].message"
    if v.get("type") != "message" or not isinstance(v.get("content"), list):
        return "Anthropic message without type/content"
    return None


# ---------------------------------------------------------------- load

MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello to the soak."}]


def pick(rnd, routes):
    """(label, api, stream, path, body bytes)."""
    stream = rnd.random() < 0.5
    api = "messages" if rnd.random() < 0.3 else "chat"
    r = rnd.random()
    if r < 0.01:
        return ("malformed-json", api, stream, "/v1/chat/completions" if api == "chat" else "/v1/messages",
                b'{"model": "direct", "messages": [')
    if r < 0.03:
        model = "no-such-model"
    else:
        model = rnd.choices(routes, weights=[30, 15, 10, 20, 10] + [15 / max(1, len(routes) - 5)] * (len(routes) - 5))[0]
    if api == "chat":
        body = {"model": model, "stream": stream, "messages": MESSAGES}
        path = "/v1/chat/completions"
    else:
        body = {"model": model, "stream": stream, "max_tokens": 64, "system": "You are terse.",
                "messages": [{"role": "user", "content": "Say hello to the soak."}]}
        path = "/v1/messages"
    return (model, api, stream, path, json.dumps(body).encode())


class Stats:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.by_key = {}  # (label, api, stream, status or reason) -> n
        self.failures = []  # first examples
        self.reasons = {}
        self.abandoned = 0  # streams the client walked away from (neither passed nor failed)

    def record(self, label, api, stream, status, why, rid):
        key = (label, api, "stream" if stream else "json", status)
        self.by_key[key] = self.by_key.get(key, 0) + 1
        if why is None:
            self.passed += 1
        else:
            self.failed += 1
            self.reasons[why] = self.reasons.get(why, 0) + 1
            if len(self.failures) < 20:
                self.failures.append(f"{label} {api} {'stream' if stream else 'json'} status={status} "
                                     f"request-id={rid}: {why}")

    @property
    def total(self):
        return self.passed + self.failed


# The share of stream requests whose client goes away after the first body
# bytes (the gateway must cancel the provider call and forget the request).
ABANDON = 0.03


async def abandon(host, port, raw, stats, timeout):
    """Sends a stream request on its own connection, reads the head and
    the first body bytes, and closes the connection."""
    writer = None
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(raw)
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        await asyncio.wait_for(reader.read(1), timeout)
        stats.abandoned += 1
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError) as e:
        stats.record("abandoned-stream", "-", True, "-", f"{type(e).__name__} before the first body byte", "-")
    finally:
        if writer:
            writer.close()


async def client(i, host, port, routes, stats, stop, pause, idle, seed, timeout):
    rnd = random.Random(seed * 7919 + i)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer k", "x-api-key": "k",
               "anthropic-version": "2023-06-01"}
    reader = writer = None
    while not stop.is_set():
        if pause.is_set():
            if writer:
                writer.close()
                reader = writer = None
            idle[i] = True
            while pause.is_set() and not stop.is_set():
                await asyncio.sleep(0.05)
            idle[i] = False
            continue
        label, api, stream, path, body = pick(rnd, routes)
        status, why, rid = None, None, "-"
        if stream and rnd.random() < ABANDON:
            await abandon(host, port, request_bytes(host, port, path, body, headers), stats, timeout)
            continue
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(request_bytes(host, port, path, body, headers))
            status, hdrs, data, keep = await asyncio.wait_for(read_response(reader), timeout)
            rid = hdrs.get("x-request-id", "-")
            why = check(api, stream, status, hdrs, data)
            if not keep:
                writer.close()
                reader = writer = None
        except asyncio.TimeoutError:
            why = "timeout"
        except asyncio.IncompleteReadError:
            why = "connection closed mid-response (truncated)"
        except (ConnectionError, OSError, Broken, ValueError, asyncio.LimitOverrunError) as e:
            why = f"{type(e).__name__}: {e}"
        if status is None and writer is not None:
            writer.close()
            reader = writer = None
        stats.record(label, api, stream, status if status is not None else "-", why, rid)
    if writer:
        writer.close()
    idle[i] = True


# ---------------------------------------------------------------- reloads


async def health_version(host, port):
    status, hdrs, _ = await get(host, port, "/health")
    return status, hdrs.get("x-switchyard-config-version", "")


async def reload_counts(host, port):
    _, _, body = await get(host, port, "/metrics")
    out = {"success": 0.0, "failure": 0.0}
    for line in body.decode().splitlines():
        if line.startswith("gateway_config_reloads_total{"):
            for k in out:
                if f'result="{k}"' in line:
                    out[k] = float(line.rsplit(" ", 1)[1])
    return out


async def in_flight(host, port):
    """Requests (this /metrics one included), streams and provider calls in
    flight, from /metrics."""
    _, _, body = await get(host, port, "/metrics")
    req = streams = backend = 0.0
    for line in body.decode().splitlines():
        if line.startswith("gateway_requests_in_flight "):
            req = float(line.rsplit(" ", 1)[1])
        elif line.startswith("gateway_streams_in_flight "):
            streams = float(line.rsplit(" ", 1)[1])
        elif line.startswith("gateway_backend_in_flight{"):
            backend += float(line.rsplit(" ", 1)[1])
    return req, streams, backend


async def settled_in_flight(host, port, secs=10.0):
    """The in-flight gauges once they are back to idle, or as they are
    after `secs`."""
    end = time.monotonic() + secs
    while True:
        g = await in_flight(host, port)
        if (g[0] <= 1 and g[1] == 0 and g[2] == 0) or time.monotonic() > end:
            return g
        await asyncio.sleep(0.2)


class Reloads:
    def __init__(self):
        self.good = self.bad = 0
        self.problems = []


async def reloader(args, mocks, host, port, reloads, stop, pause):
    variant, n = 0, 0
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), args.reload_every)
            return
        except asyncio.TimeoutError:
            pass
        if pause.is_set():
            continue
        n += 1
        try:
            _, before = await health_version(host, port)
            counts = await reload_counts(host, port)
            if args.bad_every and n % args.bad_every == 3 % args.bad_every:
                bad = (n // args.bad_every) % 3
                write_config(args.config, config_text(mocks, port, args.scripts, variant, bad=bad), in_place=False)
                end = time.monotonic() + 5
                rejected = False
                while time.monotonic() < end and not rejected:
                    await asyncio.sleep(0.1)
                    rejected = (await reload_counts(host, port))["failure"] > counts["failure"]
                status, now = await health_version(host, port)
                if not rejected:
                    reloads.problems.append(f"reload {n}: bad edit {bad} was not counted as a failed reload")
                elif now != before or status != 200:
                    reloads.problems.append(f"reload {n}: after bad edit {bad} version {before} -> {now}, status {status}")
                else:
                    reloads.bad += 1
                continue
            variant ^= 1
            write_config(args.config, config_text(mocks, port, args.scripts, variant), in_place=n % 2 == 1)
            end = time.monotonic() + 5
            now = before
            while time.monotonic() < end and now == before:
                await asyncio.sleep(0.1)
                _, now = await health_version(host, port)
            if now == before:
                reloads.problems.append(f"reload {n}: config version stayed {before} for 5 s after the edit")
            else:
                reloads.good += 1
        except (OSError, asyncio.TimeoutError, ValueError, asyncio.IncompleteReadError) as e:
            reloads.problems.append(f"reload {n}: {type(e).__name__}: {e}")


# ---------------------------------------------------------------- the run


def fmt_mib(kib):
    return f"{kib / 1024:.1f}"


async def quiesce(pause, idle, settle):
    pause.set()
    while not all(idle):
        await asyncio.sleep(0.05)
    await asyncio.sleep(settle)


async def run(args):
    mocks = json.load(open(args.mocks))
    url = args.url.rstrip("/")
    host, port = url.split("//", 1)[1].split(":")
    port = int(port)
    routes = ["direct", "translate", "flaky", "failover", "failover-deep"] + fault_routes(mocks)
    stats, reloads = Stats(), Reloads()
    stop, pause = asyncio.Event(), asyncio.Event()
    idle = [False] * args.clients
    samples = []  # (t, rss KiB, fds, threads, req/s, total, failed)
    t0 = time.monotonic()
    warmup = args.warmup if args.warmup is not None else min(60.0, args.duration / 4)
    start_sample = proc_sample(args.pid)
    if start_sample is None:
        sys.exit("soak.py: the gateway is not running")
    sys.stderr.write(f"soak: {args.clients} clients for {args.duration:.0f} s (warm-up {warmup:.0f} s), reload every "
                     f"{args.reload_every:.0f} s (every {args.bad_every}th from the 3rd a bad edit), routes {', '.join(routes)}\n")
    sys.stderr.write("  time   RSS MiB   fds  threads    req/s   requests   failed  reloads ok/bad\n")

    tasks = [asyncio.ensure_future(client(i, host, port, routes, stats, stop, pause, idle, args.seed, args.timeout))
             for i in range(args.clients)]
    rel = asyncio.ensure_future(reloader(args, mocks, host, port, reloads, stop, pause))

    base = None
    last_total, last_t = 0, t0
    next_sample = t0
    alive = True
    while True:
        now = time.monotonic()
        if now - t0 >= args.duration:
            break
        if base is None and now - t0 >= warmup:
            await quiesce(pause, idle, 3.0)
            s = proc_sample(args.pid)
            if s is None:
                alive = False
                break
            base = s
            sys.stderr.write(f"  -- baseline after warm-up (clients paused, 3 s settled): RSS {fmt_mib(s[0])} MiB, "
                             f"{s[1]} fds, {s[2]} threads\n")
            pause.clear()
            last_total, last_t = stats.total, time.monotonic()
        if now >= next_sample:
            s = proc_sample(args.pid)
            if s is None:
                alive = False
                break
            dt = max(1e-6, now - last_t)
            rps = (stats.total - last_total) / dt
            last_total, last_t = stats.total, now
            samples.append((now - t0, s[0], s[1], s[2], rps, stats.total, stats.failed))
            sys.stderr.write(f"  {now - t0:5.0f}s  {fmt_mib(s[0]):>7}  {s[1]:>5}  {s[2]:>7}  {rps:>7.0f}  "
                             f"{stats.total:>9}  {stats.failed:>7}  {reloads.good}/{reloads.bad}\n")
            next_sample += args.sample_every
        await asyncio.sleep(min(0.25, max(0.01, next_sample - time.monotonic())))
    await quiesce(pause, idle, 0)
    stop.set()
    await asyncio.gather(*tasks)
    await rel
    await asyncio.sleep(3.0)
    end = proc_sample(args.pid)
    gauges = None
    if end is None:
        alive = False
    else:
        try:
            gauges = await settled_in_flight(host, port)
        except (OSError, asyncio.TimeoutError, ValueError, asyncio.IncompleteReadError):
            pass
    return report(args, stats, reloads, samples, start_sample, base, end, alive, warmup, gauges)


def condensed(samples, rows=24):
    if len(samples) <= rows:
        return samples
    step = (len(samples) - 1) / (rows - 1)
    return [samples[round(i * step)] for i in range(rows)]


def panics(log):
    if not log or not os.path.exists(log):
        return []
    with open(log, errors="replace") as f:
        return [line.rstrip() for line in f if "panicked" in line]


def report(args, stats, reloads, samples, start, base, end, alive, warmup, gauges):
    lines = [f"Soak, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, load average "
             f"{' '.join(open('/proc/loadavg').read().split()[:3])} at the end; {args.duration:.0f} s, "
             f"{args.clients} clients, reload every {args.reload_every:.0f} s",
             "", "| t s | RSS MiB | fds | threads | req/s | requests | failed |", "|---|---|---|---|---|---|---|"]
    for t, rss, fds, th, rps, total, failed in condensed(samples):
        lines.append(f"| {t:.0f} | {fmt_mib(rss)} | {fds} | {th} | {rps:.0f} | {total} | {failed} |")
    rss_all = [s[1] for s in samples] + ([end[0]] if end else [])
    problems = []
    if not alive:
        problems.append("the gateway died")
    if stats.failed:
        problems.append(f"{stats.failed} request(s) failed")
    problems += reloads.problems
    if gauges is None:
        problems.append("could not read the in-flight gauges after the run")
    elif gauges[0] > 1 or gauges[1] or gauges[2]:
        problems.append(f"in flight 10 s after the run: {gauges[0] - 1:.0f} requests, {gauges[1]:.0f} streams, "
                        f"{gauges[2]:.0f} provider calls")
    p = panics(args.log)
    if p:
        problems.append(f"the gateway logged {len(p)} panic(s): {p[0][:200]}")
    rss_growth = fd_growth = None
    if base and end:
        rss_growth = (end[0] - base[0]) / 1024
        fd_growth = end[1] - base[1]
        if fd_growth > args.fd_slack:
            problems.append(f"open fds grew by {fd_growth} (> {args.fd_slack})")
        if rss_growth > args.max_rss_growth_mib:
            problems.append(f"RSS grew by {rss_growth:.1f} MiB (> {args.max_rss_growth_mib} MiB)")
    elif base is None:
        problems.append("the run ended before the warm-up baseline was taken")
    # the slope of RSS after the warm-up, MiB per minute (least squares), as a hint
    after = [(t, rss / 1024) for t, rss, *_ in samples if t >= warmup + 3]
    slope = None
    if len(after) >= 3:
        mt = statistics.fmean(t for t, _ in after)
        mr = statistics.fmean(r for _, r in after)
        den = sum((t - mt) ** 2 for t, _ in after)
        if den:
            slope = sum((t - mt) * (r - mr) for t, r in after) / den * 60
    lines += ["",
              f"- requests: {stats.total}, **{stats.passed} passed, {stats.failed} failed**; and {stats.abandoned} "
              f"streams the client closed after the first bytes; in flight after the run: "
              f"{'–' if gauges is None else f'{gauges[0] - 1:.0f} requests, {gauges[1]:.0f} streams, {gauges[2]:.0f} provider calls'}",
              f"- reloads: {reloads.good} applied and seen in x-switchyard-config-version, {reloads.bad} bad edits "
              f"rejected while serving, {len(reloads.problems)} problem(s)",
              f"- RSS MiB: at start {fmt_mib(start[0])}, after warm-up (baseline) {fmt_mib(base[0]) if base else '–'}, "
              f"end {fmt_mib(end[0]) if end else '–'}, max {fmt_mib(max(rss_all)) if rss_all else '–'}; growth "
              f"{'–' if rss_growth is None else f'{rss_growth:+.1f}'} (limit {args.max_rss_growth_mib}); slope after "
              f"warm-up {'–' if slope is None else f'{slope:+.2f}'} MiB/min",
              f"- open fds: at start {start[1]}, after warm-up (baseline) {base[1] if base else '–'}, end "
              f"{end[1] if end else '–'} (slack {args.fd_slack}); threads {start[2]} → {end[2] if end else '–'}"]
    if stats.reasons:
        lines.append("- failures by reason: " + "; ".join(f"{n}× {r}" for r, n in
                                                          sorted(stats.reasons.items(), key=lambda x: -x[1])))
        lines += [f"  - {f}" for f in stats.failures[:10]]
    lines += ["", "Outcomes by route, API and mode (status: count):", ""]
    groups = {}
    for (label, api, mode, status), n in sorted(stats.by_key.items(), key=lambda x: str(x[0])):
        groups.setdefault((label, api, mode), []).append(f"{status}: {n}")
    for (label, api, mode), counts in sorted(groups.items()):
        lines.append(f"- {label} {api} {mode}: {', '.join(counts)}")
    lines += ["", f"{stats.passed} passed, {stats.failed} failed"]
    if problems:
        lines += ["", "SOAK FAILED: " + "; ".join(problems)]
    else:
        lines += ["", "soak ok"]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 1 if problems else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("config")
    c.add_argument("--mocks", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--scripts", required=True)
    c.add_argument("--variant", type=int, default=0)
    r = sub.add_parser("run")
    r.add_argument("--url", required=True)
    r.add_argument("--pid", type=int, required=True)
    r.add_argument("--config", required=True)
    r.add_argument("--mocks", required=True)
    r.add_argument("--scripts", required=True)
    r.add_argument("--duration", type=float, required=True)
    r.add_argument("--clients", type=int, default=16)
    r.add_argument("--reload-every", type=float, default=10.0)
    r.add_argument("--bad-every", type=int, default=6)
    r.add_argument("--sample-every", type=float, default=5.0)
    r.add_argument("--warmup", type=float)
    r.add_argument("--max-rss-growth-mib", type=float, default=32.0)
    r.add_argument("--fd-slack", type=int, default=24)
    r.add_argument("--timeout", type=float, default=30.0)
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--log")
    r.add_argument("--out")
    args = p.parse_args()
    if args.cmd == "config":
        mocks = json.load(open(args.mocks))
        sys.stdout.write(config_text(mocks, args.port, args.scripts, args.variant))
        return 0
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
