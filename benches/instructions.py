#!/usr/bin/env python3
"""Helper of benches/instructions.sh (standard library only).

drive:  N sequential requests on one keep-alive connection; every response
        read to its end and checked for status 200.
report: the table of instructions per request, as ratios to the floor.
"""
import argparse
import http.client
import sys
import urllib.parse


def drive(args):
    u = urllib.parse.urlsplit(args.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {args.key}",
               "x-api-key": args.key, "anthropic-version": "2023-06-01"}
    body = args.body.encode()
    for i in range(args.n):
        conn.request("POST", u.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            sys.exit(f"request {i} to {args.url}: HTTP {resp.status}: {data[:300]!r}")
    conn.close()


def report(args):
    totals = {}
    with open(args.results) as f:
        for line in f:
            name, total = line.rsplit(" ", 1)
            totals[name] = int(total)
    rows = ["| mode | proxy | instructions / request | × floor | added over floor |",
            "|---|---|---:|---:|---:|"]
    for name, total in totals.items():
        mode, proxy = name.split(".", 1)
        per = total / args.n
        floor = totals.get(f"{mode}.floor", 0) / args.n
        ratio = f"{per / floor:.2f}×" if floor else "-"
        added = f"{per - floor:+,.0f}" if floor and proxy != "floor" else ""
        rows.append(f"| {mode} | {proxy} | {per:,.0f} | {ratio} | {added} |")
    print("\n".join(rows))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("drive")
    d.add_argument("--url", required=True)
    d.add_argument("--body", required=True)
    d.add_argument("--key", default="k")
    d.add_argument("--n", type=int, default=100)
    r = sub.add_parser("report")
    r.add_argument("--results", required=True)
    r.add_argument("--n", type=int, required=True)
    args = p.parse_args()
    {"drive": drive, "report": report}[args.cmd](args)


if __name__ == "__main__":
    main()
