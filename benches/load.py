#!/usr/bin/env python3
"""Helper of benches/load.sh: drives the load, samples /proc, prints the tables.

  load.py run     --targets targets.json --secs 5 --conc 1,16,64,256 --modes ... --out FILE
  load.py streams --url URL --pid PID --n 10000 ...      (many slow streams, prints a table)
  load.py cadence --targets cadence.json --n 1000 ...    (streams at a token cadence, prints a table)

`run` reads the targets file written by load.sh: for each mode a list of rows
{name, url, body, headers, pid} (pid null for the direct row). For every mode
and concurrency the rows run back to back (same moment), each with the load
generator (wrk or oha) for --secs; the proxy's CPU (utime+stime from
/proc/PID/stat) is read before and after and divided by the requests served,
RSS (VmRSS) is read after. Stream modes also get a time-to-first-byte column,
measured at concurrency 1 by this script's own asyncio client (`ttfb_async`).
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process (all threads), or the sum over a list of processes."""
    if isinstance(pid, list):
        return sum(cpu_seconds(p) for p in pid)
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)


def rss_kib(pid):
    if isinstance(pid, list):
        return sum(rss_kib(p) for p in pid)
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------- load generators

def lua_escape(s):
    return s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")


def run_wrk(row, conc, secs, tmp):
    script = os.path.join(tmp, "req.lua")
    with open(script, "w") as f:
        f.write('wrk.method = "POST"\n')
        f.write(f"wrk.body = '{lua_escape(row['body'])}'\n")
        for k, v in row["headers"].items():
            f.write(f"wrk.headers['{k}'] = '{lua_escape(v)}'\n")
    timeout = max(10, secs * 2)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{conc}", f"-d{secs}s", f"--timeout={timeout}s", "--latency", "-s", script, row["url"]],
        capture_output=True, text=True, check=False).stdout

    def ms(v):
        m = re.match(r"([\d.]+)(us|ms|s)", v)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    reqs = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(int(x) for x in sock.groups()) if sock else 0)
    if not reqs:
        sys.stderr.write(f"wrk failed for {row['name']}:\n{out}\n")
    return {
        "requests": int(reqs.group(1)) if reqs else 0,
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50": ms(p50.group(1)) if p50 else float("nan"),
        "p99": ms(p99.group(1)) if p99 else float("nan"),
        "errors": errors,
    }


def run_oha(row, conc, secs, _tmp):
    cmd = ["oha", "--no-tui", "--output-format", "json", "-z", f"{secs}s", "-c", str(conc), "-m", "POST",
           "-d", row["body"], "--http-version", "1.1"]
    for k, v in row["headers"].items():
        cmd += ["-H", f"{k}: {v}"]
    cmd.append(row["url"])
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    try:
        j = json.loads(proc.stdout)
    except json.JSONDecodeError:
        sys.stderr.write(f"oha failed for {row['name']}:\n{proc.stdout[:2000]}{proc.stderr[:2000]}\n")
        return {"requests": 0, "rps": 0.0, "p50": float("nan"), "p99": float("nan"), "errors": 1}
    codes = j.get("statusCodeDistribution", {})
    ok = sum(v for k, v in codes.items() if k.startswith("2"))
    # with -z, requests still in flight at the deadline are reported as errors: not ours
    errors = sum(v for k, v in codes.items() if not k.startswith("2")) + sum(
        v for k, v in j.get("errorDistribution", {}).items() if "deadline" not in k)
    lat = j.get("latencyPercentiles", {})
    return {
        "requests": ok,
        "rps": j["summary"].get("requestsPerSec", 0.0) * (ok / max(1, ok + errors)),
        "p50": (lat.get("p50") or float("nan")) * 1000.0,
        "p99": (lat.get("p99") or float("nan")) * 1000.0,
        "errors": errors,
    }


# ---------------------------------------------------------------- a tiny HTTP/1.1 client (TTFB, many streams)

def request_bytes(url, body, headers):
    u = urlsplit(url)
    lines = [f"POST {u.path or '/'} HTTP/1.1", f"Host: {u.netloc}", f"Content-Length: {len(body.encode())}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body.encode(), u.hostname, u.port


async def read_response(reader, on_first_body=None, on_body=None):
    """Reads one response; calls on_first_body() at the first body byte and
    on_body(bytes) with each piece of a chunked or sized body. Returns
    (status, keep_alive, chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    hdrs = {}
    for line in head.split(b"\r\n")[1:]:
        if b":" in line:
            k, v = line.split(b":", 1)
            hdrs[k.strip().lower()] = v.strip().lower()
    first = True
    if hdrs.get(b"transfer-encoding") == b"chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            data = await reader.readexactly(size + 2)
            if on_body:
                on_body(data[:-2])
            if first and on_first_body:
                on_first_body()
                first = False
    elif b"content-length" in hdrs:
        n = int(hdrs[b"content-length"])
        if n:
            data = await reader.readexactly(1)
            if on_first_body:
                on_first_body()
            data += await reader.readexactly(n - 1)
            if on_body:
                on_body(data)
    else:
        await reader.read(1)
        if on_first_body:
            on_first_body()
        while await reader.read(65536):
            pass
        return status, False, False
    chunked = hdrs.get(b"transfer-encoding") == b"chunked"
    return status, hdrs.get(b"connection") != b"close", chunked


async def ttfb_async(url, body, headers, n):
    raw, host, port = request_bytes(url, body, headers)
    samples, errors = [], 0
    reader = writer = None
    for _ in range(n):
        if writer is None:
            reader, writer = await asyncio.open_connection(host, port)
        t0 = time.perf_counter()
        first = []
        writer.write(raw)
        try:
            status, keep, _ = await read_response(reader, lambda: first.append(time.perf_counter()))
        except (asyncio.IncompleteReadError, ConnectionError):
            errors += 1
            writer.close()
            writer = None
            continue
        if status != 200 or not first:
            errors += 1
        else:
            samples.append((first[0] - t0) * 1000.0)
        if not keep:
            writer.close()
            writer = None
    if writer:
        writer.close()
    return samples, errors


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


# ---------------------------------------------------------------- the table

def fmt(v, digits=2):
    if v is None or v != v:
        return "–"
    return f"{v:.{digits}f}"


def ratio(a, b):
    if not a or not b or a != a or b != b:
        return "–"
    return f"{a / b:.2f}×"


def delta(a, b, digits=2):
    if a is None or b is None or a != a or b != b:
        return "–"
    return f"{a - b:+.{digits}f}"


def run(args):
    targets = json.load(open(args.targets))
    gen = run_oha if args.loadgen == "oha" else run_wrk
    conc = [int(c) for c in args.conc.split(",")]
    modes = args.modes.split(",")
    tmp = tempfile.mkdtemp()
    results = {}  # (mode, c) -> [row results]
    ttfb = {}  # mode -> [(name, p50, p99, errors)]
    for mode in modes:
        rows = targets[mode]
        for c in conc:
            out = []
            for row in rows:
                pid = row.get("pid")
                # a short warm-up: fills connection pools and the allocator
                gen(row, c, 1, tmp)
                cpu0 = cpu_seconds(pid) if pid else None
                r = gen(row, c, args.secs, tmp)
                cpu1 = cpu_seconds(pid) if pid else None
                r["name"] = row["name"]
                r["cpu_us"] = (cpu1 - cpu0) * 1e6 / r["requests"] if pid and r["requests"] else None
                r["rss"] = rss_kib(pid) / 1024.0 if pid else None
                out.append(r)
                sys.stderr.write(f"  {mode:18} c={c:<3} {row['name']:28} {r['rps']:9.0f} req/s  p50 {fmt(r['p50'])} ms"
                                 f"  p99 {fmt(r['p99'])} ms  cpu {fmt(r['cpu_us'], 1)} µs/req  errors {r['errors']}\n")
            results[(mode, c)] = out
        if mode.startswith("stream"):
            ttfb[mode] = []
            for row in rows:
                samples, errors = asyncio.run(ttfb_async(row["url"], row["body"], row["headers"], args.ttfb_n))
                ttfb[mode].append((row["name"], pct(samples, 50), pct(samples, 99), errors))
    report(args, results, ttfb, conc, modes)
    if args.strict:
        failed = [f"{mode} c={c} {r['name']}: {r['requests']} requests, {r['errors']} errors"
                  for (mode, c), rows in results.items() for r in rows if r["errors"] or not r["requests"]]
        failed += [f"{mode} TTFB {name}: {errors} errors" for mode, rows in ttfb.items()
                   for name, _, _, errors in rows if errors]
        if failed:
            sys.exit("load.py: --strict: rows with failures:\n  " + "\n  ".join(failed))


def append_report(args, lines):
    """Prints a section and appends it to --out (after the load table)."""
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write("\n" + text)


def report(args, results, ttfb, conc, modes):
    lines = []
    lines.append(f"Load harness, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
                 f"load average before: {args.load_before}; {args.secs} s per row; load generator: {args.loadgen}")
    lines.append("")
    lines.append("| mode | c | row | req/s | ×direct | ×floor | p50 ms | p99 ms | p50 − floor | p99 − floor "
                 "| CPU µs/req | ×floor | − floor µs | RSS MiB | ×floor | errors |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for mode in modes:
        for c in conc:
            rows = results[(mode, c)]
            direct = rows[0]
            floor = rows[1]
            for r in rows:
                lines.append(
                    f"| {mode} | {c} | {r['name']} | {r['rps']:.0f} | {ratio(r['rps'], direct['rps'])} "
                    f"| {ratio(r['rps'], floor['rps'])} | {fmt(r['p50'])} | {fmt(r['p99'])} "
                    f"| {delta(r['p50'], floor['p50'])} | {delta(r['p99'], floor['p99'])} "
                    f"| {fmt(r['cpu_us'], 1)} | {ratio(r['cpu_us'], floor['cpu_us'])} "
                    f"| {delta(r['cpu_us'], floor['cpu_us'], 1)} "
                    f"| {fmt(r['rss'], 1)} | {ratio(r['rss'], floor['rss'])} | {r['errors']} |")
    if ttfb:
        lines.append("")
        lines.append(f"Time to first body byte of a stream, concurrency 1, {args.ttfb_n} requests per row "
                     "(this script's asyncio client):")
        lines.append("")
        lines.append("| mode | row | TTFB p50 ms | TTFB p99 ms | p50 − floor | p99 − floor | errors |")
        lines.append("|---|---|---|---|---|---|---|")
        for mode, rows in ttfb.items():
            floor = rows[1]
            for name, p50, p99, errors in rows:
                lines.append(f"| {mode} | {name} | {fmt(p50, 3)} | {fmt(p99, 3)} | {delta(p50, floor[1], 3)} "
                             f"| {delta(p99, floor[2], 3)} | {errors} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


# ---------------------------------------------------------------- many slow streams

async def hold_stream(raw, host, port, opened, done, errors):
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(raw)
        got = asyncio.get_running_loop().create_future()

        def first():
            if not got.done():
                got.set_result(True)
        reading = asyncio.ensure_future(read_response(reader, first))
        await asyncio.wait([reading, got], return_when=asyncio.FIRST_COMPLETED)
        opened.append(1)
        status, _, _ = await reading
        if status != 200:
            errors.append(status)
        writer.close()
    except (OSError, asyncio.IncompleteReadError, ValueError) as e:
        errors.append(repr(e))
        opened.append(0)
    finally:
        done.append(1)


async def streams_async(args):
    body = json.dumps({"model": args.model, "stream": True,
                       "messages": [{"role": "user", "content": "Say hello to the benchmark."}]})
    raw, host, port = request_bytes(args.url, body, {"Content-Type": "application/json",
                                                     "Authorization": "Bearer k"})
    base = rss_kib(args.pid)
    opened, done, errors = [], [], []
    t0 = time.monotonic()
    tasks = []
    for i in range(args.n):
        tasks.append(asyncio.ensure_future(hold_stream(raw, host, port, opened, done, errors)))
        if i % 200 == 199:
            await asyncio.sleep(0.01)  # let the gateway accept; avoids SYN-queue overflow
    while len(opened) < args.n and time.monotonic() - t0 < args.open_timeout:
        await asyncio.sleep(0.2)
    t_open = time.monotonic() - t0
    await asyncio.sleep(1.0)
    peak = rss_kib(args.pid)
    n_open = len(opened) - len(done)
    remaining = args.max_secs - (time.monotonic() - t0)
    await asyncio.wait(tasks, timeout=max(1.0, remaining))
    for t in tasks:
        t.cancel()
    await asyncio.sleep(args.settle)
    after = rss_kib(args.pid)
    per = (peak - base) / max(1, n_open)
    lines = [
        f"Many streams, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {args.n} concurrent slow streams "
        f"(one chunk every 4 s) through {args.name}, all open after {t_open:.1f} s",
        "",
        "| streams open | RSS before MiB | RSS with streams open MiB | per open stream KiB "
        "| RSS after close MiB | after ÷ before | completed | errors |",
        "|---|---|---|---|---|---|---|---|",
        f"| {n_open} | {base / 1024:.1f} | {peak / 1024:.1f} | {per:.1f} | {after / 1024:.1f} "
        f"| {after / max(1, base):.2f}× | {len(done) - len(errors)} | {len(errors)} |",
    ]
    if errors:
        lines.append("")
        lines.append(f"first errors: {errors[:5]}")
    append_report(args, lines)
    if args.strict and (errors or n_open < args.n or len(done) < args.n):
        sys.exit(f"load.py: --strict: {n_open} of {args.n} streams open at once, "
                 f"{len(done)} completed, {len(errors)} errors")


# ---------------------------------------------------------------- streams at a real token cadence

async def cadence_stream(raw, host, port, spans, errors):
    """One stream read to its end; appends (first body byte, end) times, or an error."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(raw)
        first = []
        tail = bytearray()

        def body(data):
            # the end of the body: to check the stream completed (or to
            # show an error answer)
            tail[:] = (tail + data)[-256:]
        status, _, chunked = await read_response(reader, lambda: first.append(time.monotonic()), body)
        if status != 200 or not chunked:  # an error answer, not a stream
            errors.append(f"{status}: {tail.decode(errors='replace')[:200]}")
            writer.close()
            return
        end = time.monotonic()
        writer.close()
        if b"[DONE]" not in tail and b"message_stop" not in tail:
            errors.append("stream ended without [DONE] or message_stop")
        elif first:
            spans.append((first[0], end))
    except (OSError, asyncio.IncompleteReadError, ValueError) as e:
        errors.append(repr(e))


async def cadence_row(row, n, timeout):
    raw, host, port = request_bytes(row["url"], row["body"], row["headers"])
    pid = row["pid"]
    base = rss_kib(pid)
    spans, errors = [], []
    cpu0 = cpu_seconds(pid)
    t0 = time.monotonic()
    tasks = []
    for i in range(n):
        tasks.append(asyncio.ensure_future(cadence_stream(raw, host, port, spans, errors)))
        if i % 100 == 99:
            await asyncio.sleep(0.01)  # let the proxy accept; avoids SYN-queue overflow
    peak = base
    pending = set(tasks)
    while pending and time.monotonic() - t0 < timeout:
        _, pending = await asyncio.wait(pending, timeout=0.5)
        peak = max(peak, rss_kib(pid))
    for t in pending:
        t.cancel()
    cpu = cpu_seconds(pid) - cpu0
    stream_secs = sum(e - f for f, e in spans)
    if pending:
        errors.append(f"{len(pending)} streams still open after {timeout:.0f} s")
    return dict(name=row["name"], n=n, completed=len(spans), errors=len(errors),
                first_errors=errors[:3], stream_secs=stream_secs,
                cpu_ms_per_stream_sec=cpu * 1000.0 / stream_secs if stream_secs else float("nan"),
                mean_secs=stream_secs / len(spans) if spans else float("nan"),
                base_mib=base / 1024, peak_mib=peak / 1024,
                per_stream_kib=(peak - base) / max(1, n))


async def cadence_async(args):
    targets = json.load(open(args.targets))
    rows = []
    for row in targets:
        print(f"load.py: {args.n} streams at a token cadence through {row['name']}", file=sys.stderr)
        rows.append(await cadence_row(row, args.n, args.timeout))
        await asyncio.sleep(args.settle)
    floor = next((r for r in rows if r["name"].startswith("floor")), None)
    lines = [
        f"Realistic cadence, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {args.n} concurrent streams, "
        f"one token every {args.delay_ms} ms for ~{args.secs} s each (each event arrives alone); "
        f"CPU of the proxy process per stream-second, load average before {args.load_before}",
        "",
        "| proxy | streams completed | errors | mean stream s | CPU ms per stream-second | × floor "
        "| RSS before MiB | RSS peak MiB | per open stream KiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        x = ratio(r["cpu_ms_per_stream_sec"], floor["cpu_ms_per_stream_sec"]) if floor else "—"
        lines.append(f"| {r['name']} | {r['completed']} | {r['errors']} | {r['mean_secs']:.2f} "
                     f"| {r['cpu_ms_per_stream_sec']:.3f} | {x} | {r['base_mib']:.1f} | {r['peak_mib']:.1f} "
                     f"| {r['per_stream_kib']:.1f} |")
    for r in rows:
        if r["first_errors"]:
            lines.append(f"\n{r['name']}: first errors {r['first_errors']}")
    append_report(args, lines)
    failed = [r["name"] for r in rows if r["errors"] or r["completed"] < r["n"]]
    if args.strict and failed:
        sys.exit(f"load.py: --strict: streams failed or did not complete through {', '.join(failed)}")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--targets", required=True)
    r.add_argument("--secs", type=int, default=5)
    r.add_argument("--conc", default="1,16,64,256")
    r.add_argument("--modes", default="pass,translate,stream-pass,stream-translate")
    r.add_argument("--loadgen", default="wrk", choices=["wrk", "oha"])
    r.add_argument("--ttfb-n", type=int, default=500)
    r.add_argument("--load-before", default="?")
    r.add_argument("--out")
    r.add_argument("--strict", action="store_true", help="exit 1 if any row had errors (CI's smoke run)")
    s = sub.add_parser("streams")
    s.add_argument("--name", default="switchyard")
    s.add_argument("--url", required=True)
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--model", default="pass")
    s.add_argument("--n", type=int, default=10000)
    s.add_argument("--open-timeout", type=float, default=30.0)
    s.add_argument("--max-secs", type=float, default=50.0)
    s.add_argument("--settle", type=float, default=3.0)
    s.add_argument("--out")
    s.add_argument("--strict", action="store_true", help="exit 1 unless every stream opened and completed")
    c = sub.add_parser("cadence")
    c.add_argument("--targets", required=True)
    c.add_argument("--n", type=int, default=1000)
    c.add_argument("--secs", type=float, default=10.0, help="for the report: the mock's stream length")
    c.add_argument("--delay-ms", type=int, default=20, help="for the report: the mock's delay between tokens")
    c.add_argument("--timeout", type=float, default=60.0)
    c.add_argument("--settle", type=float, default=2.0)
    c.add_argument("--load-before", default="?")
    c.add_argument("--out")
    c.add_argument("--strict", action="store_true", help="exit 1 unless every stream completed")
    args = p.parse_args()
    if args.cmd == "run":
        if args.loadgen == "wrk" and not shutil.which("wrk"):
            sys.exit("load.py: wrk not found")
        run(args)
    elif args.cmd == "cadence":
        asyncio.run(cadence_async(args))
    else:
        asyncio.run(streams_async(args))


if __name__ == "__main__":
    main()
