#!/usr/bin/env python3
"""The semantic cache harness's client (issue 23); benches/semantic.sh starts
the mocks and the gateway and calls this. Python stdlib only.

On every chat route at once (one thread and one keep-alive connection per
route), for each group of the paraphrase set in order: the question (a miss,
stored), its paraphrases, then its near-miss (`different`), as non-streaming
OpenAI chat requests. Each answer is classified by its `x-switchyard-cache`
header: `semantic` (or `hit` with `x-switchyard-cache-similarity`) is a
semantic hit, `hit` an exact hit, `miss` a miss. The answer's `id` (the mock
gives each answer its own) tells which stored answer a hit replayed, so a hit
on another group's question counts as a wrong hit.

Then on `chat-stream`: for the first --stream-groups groups, the question
(non-streaming, stored) and each paraphrase streamed; the streamed semantic
hits are counted and checked (SSE ending with [DONE], the stored answer's id).

Exits 1, with a message naming the route and the request, on any connection
error or error status, a missing cache header, a malformed stream; and, after
writing the report, if no request hit semantically, if a reported similarity
is below its route's threshold, or if the exact-only route hit semantically.
"""

import argparse
import http.client
import json
import math
import os
import statistics
import sys
import threading
import time
import urllib.parse

WARM_UP = "Ping from the semantic cache harness: please ignore this warm-up."
HITS = ("semantic", "exact")


class Failure(Exception):
    """The gateway did not answer as the harness needs: stop and say why."""


class Client:
    """One keep-alive HTTP/1.1 connection to the gateway."""

    def __init__(self, url, timeout):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.conn = None

    def post(self, path, body):
        """(status, lowercase headers, body bytes, seconds to the last byte)."""
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Authorization": "Bearer bench"}
        for attempt in range(2):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            t0 = time.perf_counter()
            try:
                self.conn.request("POST", path, body=data, headers=headers)
                res = self.conn.getresponse()
                raw = res.read()
            except (OSError, http.client.HTTPException) as e:
                self.conn.close()
                self.conn = None
                if reused and attempt == 0 and not isinstance(e, TimeoutError):
                    continue  # the gateway closed an idle kept-alive connection
                raise Failure(f"POST {path} {json.dumps(body)[:200]}: {e!r}") from None
            elapsed = time.perf_counter() - t0
            if res.will_close:
                self.conn.close()
                self.conn = None
            return res.status, {k.lower(): v for k, v in res.getheaders()}, raw, elapsed
        raise Failure(f"POST {path}: no answer")

    def close(self):
        if self.conn is not None:
            self.conn.close()


def chat(client, route, text, stream=False):
    """One chat request on `route`: a record of what came back."""
    body = {"model": route, "messages": [{"role": "user", "content": text}]}
    if stream:
        body["stream"] = True
    status, headers, raw, elapsed = client.post("/v1/chat/completions", body)
    where = f"route {route}, {'streamed ' if stream else ''}prompt {text!r}"
    if status != 200:
        raise Failure(f"{where}: status {status}: {raw[:500].decode(errors='replace')}")
    cache = headers.get("x-switchyard-cache")
    if cache is None:
        raise Failure(f"{where}: no x-switchyard-cache header (is the route's cache on?); "
                      f"headers {sorted(headers)}")
    similarity = headers.get("x-switchyard-cache-similarity")
    if similarity is not None:
        try:
            similarity = float(similarity)
        except ValueError:
            raise Failure(f"{where}: x-switchyard-cache-similarity is not a number: {similarity!r}") from None
    answer_id, content = (read_stream if stream else read_json)(where, headers, raw)
    cache = cache.strip().lower()
    if cache == "semantic" or (cache == "hit" and similarity is not None):
        kind = "semantic"
    elif cache == "hit":
        kind = "exact"
    elif cache == "miss":
        kind = "miss"
    else:
        kind = "other:" + cache
    return dict(route=route, text=text, stream=stream, cache=cache, kind=kind,
                similarity=similarity, ms=elapsed * 1000.0, id=answer_id, content_chars=len(content))


def read_json(where, headers, raw):
    try:
        body = json.loads(raw)
        content = body["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise Failure(f"{where}: not a chat completion: {raw[:300].decode(errors='replace')}") from None
    if not content:
        raise Failure(f"{where}: an empty answer: {raw[:300].decode(errors='replace')}")
    return body.get("id"), content


def read_stream(where, headers, raw):
    if "text/event-stream" not in headers.get("content-type", ""):
        raise Failure(f"{where}: content-type {headers.get('content-type')!r}, not a stream: "
                      f"{raw[:300].decode(errors='replace')}")
    datas = [line[5:].strip() for line in raw.decode(errors="replace").splitlines()
             if line.startswith("data:")]
    if not datas or datas[-1] != "[DONE]":
        raise Failure(f"{where}: the stream does not end with [DONE]: ...{raw[-300:].decode(errors='replace')}")
    answer_id, content = None, []
    for data in datas[:-1]:
        try:
            chunk = json.loads(data)
        except ValueError:
            raise Failure(f"{where}: a malformed event: {data[:200]}") from None
        if "error" in chunk:
            raise Failure(f"{where}: an error event: {data[:300]}")
        answer_id = answer_id or chunk.get("id")
        for choice in chunk.get("choices") or []:
            content.append((choice.get("delta") or {}).get("content") or "")
    if not "".join(content):
        raise Failure(f"{where}: a stream without content")
    return answer_id, "".join(content)


def run_route(url, route, groups, timeout, records, stop):
    """Every group on `route`, in order; appends to `records`."""
    client = Client(url, timeout)
    stored = {}  # answer id -> group whose prompt stored it
    try:
        chat(client, route, WARM_UP)
        for gi, g in enumerate(groups):
            prompts = [("question", g["question"])] + [("paraphrase", p) for p in g["paraphrases"]]
            for role, text in prompts + [("different", g["different"])]:
                if stop.is_set():
                    return
                rec = chat(client, route, text)
                rec.update(group=gi, role=role, source=stored.get(rec["id"]) if rec["kind"] in HITS else None)
                if rec["kind"] == "miss" and rec["id"] is not None:
                    stored[rec["id"]] = gi
                records.append(rec)
    finally:
        client.close()


def run_streams(url, route, groups, timeout):
    client = Client(url, timeout)
    records, stored = [], {}
    try:
        for gi, g in enumerate(groups):
            rec = chat(client, route, g["question"])
            rec.update(group=gi, role="question", source=None)
            records.append(rec)
            if rec["kind"] == "miss" and rec["id"] is not None:
                stored[rec["id"]] = gi
            for p in g["paraphrases"]:
                rec = chat(client, route, p, stream=True)
                rec.update(group=gi, role="paraphrase", source=stored.get(rec["id"]) if rec["kind"] in HITS else None)
                records.append(rec)
                if rec["kind"] == "miss" and rec["id"] is not None:
                    stored[rec["id"]] = gi
    finally:
        client.close()
    return records


def preflight(url, timeout):
    """The embeddings route answers with vectors; returns their length."""
    client = Client(url, timeout)
    try:
        status, _, raw, _ = client.post("/v1/embeddings", {"model": "embed", "input": WARM_UP})
    finally:
        client.close()
    if status != 200:
        raise Failure(f"the embed route answers {status}: {raw[:500].decode(errors='replace')}")
    try:
        return len(json.loads(raw)["data"][0]["embedding"])
    except (ValueError, KeyError, IndexError, TypeError):
        raise Failure(f"the embed route's answer is not an embedding: {raw[:300].decode(errors='replace')}") from None


# ---------------------------------------------------------------- report

def pct(values, q):
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(q * len(s)) - 1)]  # nearest rank


def ms(v):
    return "—" if v is None else f"{v:.1f}"


def share(n, d):
    return "—" if not d else f"{100.0 * n / d:.1f}% ({n}/{d})"


def latency(recs):
    v = [r["ms"] for r in recs]
    return dict(n=len(v), mean=statistics.fmean(v) if v else None, p50=pct(v, 0.50), p99=pct(v, 0.99))


def plus(a, b):
    return "—" if a is None or b is None else f"{a - b:+.1f}"


def hit_row(route, threshold, recs):
    para = [r for r in recs if r["role"] == "paraphrase"]
    diff = [r for r in recs if r["role"] == "different"]
    quest = [r for r in recs if r["role"] == "question"]
    hits = [r for r in para if r["kind"] in HITS]
    wrong = [r for r in hits if r["source"] is not None and r["source"] != r["group"]]
    unknown = [r for r in hits if r["source"] is None]
    sims = [r["similarity"] for r in recs if r["kind"] == "semantic" and r["similarity"] is not None]
    sim = "—" if not sims else f"{min(sims):.3f} / {statistics.median(sims):.3f}"
    unk = f", {len(unknown)} unattributed" if unknown else ""
    return (f"| {threshold} | {route} | {share(len(hits), len(para))} | {len(wrong)}{unk} "
            f"| {share(sum(r['kind'] in HITS for r in diff), len(diff))} "
            f"| {sum(r['kind'] in HITS for r in quest)} | {sim} |")


def report(args, routes, by_route, streams, vector_len):
    lines = []
    n_groups = len(args.groups)
    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else ["?"]
    lines.append(f"Semantic cache, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {args.profile} build; "
                 f"set {os.path.basename(args.set)}: {n_groups} questions, "
                 f"{sum(len(g['paraphrases']) for g in args.groups)} paraphrases, {n_groups} near-misses; "
                 f"chat mock {args.latency_ms} ms, embeddings mock {args.embed_latency_ms} ms "
                 f"(mock-semantic-embed, bag of words, {vector_len} dimensions); load average {' '.join(load)}")
    lines.append("")
    lines.append("Hits (a hit on a near-miss, or on a question, is a false hit; \"wrong group\": a paraphrase "
                 "answered with another question's stored answer):")
    lines.append("")
    lines.append("| threshold | route | paraphrase hit rate | of which wrong group | false-hit rate (near-miss) "
                 "| questions hit | similarity of semantic hits min / median |")
    lines.append("|---|---|---|---|---|---|---|")
    for route, t in routes:
        lines.append(hit_row(route, t, by_route[route]))
    lines.append(hit_row("chat-exact", "exact only", by_route["chat-exact"]))
    base = latency([r for r in by_route["chat-exact"] if r["kind"] == "miss"])
    lines.append("")
    lines.append(f"Latency, ms, to the last byte of the answer. Baseline: misses on chat-exact (exact cache only): "
                 f"n {base['n']}, mean {ms(base['mean'])}, p50 {ms(base['p50'])}, p99 {ms(base['p99'])}. "
                 "Added = semantic miss − baseline: the embedding call and the lookup.")
    lines.append("")
    lines.append("| threshold | semantic misses n | mean | p50 | p99 | added mean | added p50 | added p99 "
                 "| semantic hits n | mean | p50 | p99 |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for route, t in routes:
        recs = by_route[route]
        a = latency([r for r in recs if r["kind"] == "miss"])
        c = latency([r for r in recs if r["kind"] == "semantic"])
        lines.append(f"| {t} | {a['n']} | {ms(a['mean'])} | {ms(a['p50'])} | {ms(a['p99'])} "
                     f"| {plus(a['mean'], base['mean'])} | {plus(a['p50'], base['p50'])} "
                     f"| {plus(a['p99'], base['p99'])} | {c['n']} | {ms(c['mean'])} | {ms(c['p50'])} "
                     f"| {ms(c['p99'])} |")
    others = sorted({r["cache"] for recs in by_route.values() for r in recs if r["kind"].startswith("other:")})
    if others:
        lines.append("")
        lines.append(f"Other x-switchyard-cache values seen (counted as neither hit nor miss): {', '.join(others)}")
    if streams is not None:
        streamed = [r for r in streams if r["stream"]]
        sem = [r for r in streamed if r["kind"] == "semantic"]
        right = [r for r in sem if r["source"] == r["group"]]
        lines.append("")
        lines.append(f"Streaming, route chat-stream (threshold {args.stream_threshold}): each question stored "
                     "by a non-streaming request, then its paraphrases streamed:")
        lines.append("")
        lines.append("| streamed | semantic hits | replaying its question's answer | exact hits | misses "
                     "| other | all ended with [DONE] |")
        lines.append("|---|---|---|---|---|---|---|")
        lines.append(f"| {len(streamed)} | {len(sem)} | {len(right)} "
                     f"| {sum(r['kind'] == 'exact' for r in streamed)} | {sum(r['kind'] == 'miss' for r in streamed)} "
                     f"| {sum(r['kind'].startswith('other:') for r in streamed)} | yes |")
    return "\n".join(lines) + "\n"


def checks(routes, by_route, streams):
    """What must hold whatever the hit rates: the problems found."""
    problems = []
    semantic = [r for route, _ in routes for r in by_route[route] if r["kind"] == "semantic"]
    if not semantic:
        problems.append("no semantic hit on any threshold route: is the semantic cache on "
                        "(x-switchyard-cache: semantic)?")
    for route, t in routes + [("chat-stream", None)]:
        recs = streams if route == "chat-stream" else by_route[route]
        threshold = float(t) if t is not None else None
        for r in recs or []:
            if r["kind"] == "semantic" and r["similarity"] is None:
                problems.append(f"{route}: a semantic hit without x-switchyard-cache-similarity: {r['text']!r}")
                break
            if threshold is not None and r["similarity"] is not None and r["similarity"] < threshold - 1e-3:
                problems.append(f"{route}: a hit at similarity {r['similarity']} below the threshold {t}: "
                                f"{r['text']!r}")
                break
    if any(r["kind"] == "semantic" for r in by_route["chat-exact"]):
        problems.append("chat-exact (no semantic cache) answered a semantic hit")
    if streams is not None and semantic and not any(r["stream"] and r["kind"] == "semantic" for r in streams):
        problems.append("no streamed paraphrase was a semantic hit on chat-stream")
    return problems


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True, help="the gateway, http://127.0.0.1:PORT")
    p.add_argument("--set", required=True, help="the paraphrase set (JSON)")
    p.add_argument("--routes", required=True, help="route=threshold,... (the semantic routes)")
    p.add_argument("--stream-threshold", default="?")
    p.add_argument("--stream-groups", type=int, default=10, help="0: no streaming check")
    p.add_argument("--latency-ms", default="?", help="for the report: the chat mock's latency")
    p.add_argument("--embed-latency-ms", default="?", help="for the report: the embeddings mock's latency")
    p.add_argument("--profile", default="release", help="for the report")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    p.add_argument("--out")
    p.add_argument("--raw", help="write every request's record here (JSON)")
    args = p.parse_args()
    args.groups = json.load(open(args.set))
    routes = [tuple(item.split("=", 1)) for item in args.routes.split(",") if item]
    if not routes or any(len(r) != 2 for r in routes):
        sys.exit(f"semantic.py: --routes wants route=threshold,..., not {args.routes!r}")
    try:
        vector_len = preflight(args.url, args.timeout)
        by_route = {route: [] for route, _ in routes}
        by_route["chat-exact"] = []
        stop, errors, threads = threading.Event(), [], []

        def worker(route):
            try:
                run_route(args.url, route, args.groups, args.timeout, by_route[route], stop)
            except Failure as e:
                errors.append(str(e))
                stop.set()

        t0 = time.monotonic()
        print(f"semantic.py: {len(args.groups)} groups on {', '.join(by_route)} at once", file=sys.stderr)
        for route in by_route:
            threads.append(threading.Thread(target=worker, args=(route,), daemon=True))
            threads[-1].start()
        for t in threads:
            t.join()
        if errors:
            raise Failure(errors[0])
        print(f"semantic.py: done in {time.monotonic() - t0:.0f} s", file=sys.stderr)
        streams = None
        if args.stream_groups > 0:
            streams = run_streams(args.url, "chat-stream", args.groups[:args.stream_groups], args.timeout)
    except Failure as e:
        sys.exit(f"semantic.py: FAILED: {e}")
    text = report(args, routes, by_route, streams, vector_len)
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text)
    if args.raw:
        with open(args.raw, "w") as f:
            json.dump({"routes": dict(routes), "by_route": by_route, "streams": streams}, f, indent=1)
    problems = checks(routes, by_route, streams)
    for problem in problems:
        print(f"semantic.py: FAILED: {problem}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
