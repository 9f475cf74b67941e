"""Load benchmark of the site: N concurrent clients on loopback for D seconds against `lawkb serve`.

    .venv/bin/python benchmarks/load_bench.py [--kb /tmp/kbfull] [--clients 50] [--duration 30]
                                              [--think 0] [--url http://host:port] [--json]

Starts `lawkb serve --no-embed` on a free port (rate limit off) over the KB — by default the full
LawRefBook KB at /tmp/kbfull when it exists, else $LAWKB_KB — unless --url names a running site. Each
client keeps one HTTP/1.1 connection and loops over a mix like real use: the search page (half, a
third of them with a region), the search API, article pages, exact lookups. Questions are the STARD
dev questions from $LAWKB_SHARED/eval when present (400 distinct), so results are not cached answers.
--think adds a pause between one client's requests (seconds, uniform 0..2×think). Reports errors (5xx,
unexpected status, connection failures), throughput and latency percentiles, overall and per kind.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

REPO = Path(__file__).resolve().parent.parent
FALLBACK_QUESTIONS = ["楼上漏水物业不管怎么办", "房东不退押金怎么办", "公司拖欠工资", "邻居装修噪音太大", "小区停车位归谁",
                      "离婚后孩子抚养权", "交通事故赔偿标准", "试用期被辞退有补偿吗", "网购退货", "借钱不还怎么办"]
REGIONS = ["北京", "杭州", "上海", "广东"]


def questions() -> list[str]:
    shared = Path(os.environ.get("LAWKB_SHARED", REPO.parent / "shared"))
    path = shared / "eval" / "stard-dev.jsonl"
    if path.is_file():
        return [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return FALLBACK_QUESTIONS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(kb: str, port: int, threads: int, log) -> subprocess.Popen:
    env = {**os.environ, "LAWKB_WEB_RATE_LIMIT": "0", "LAWKB_WEB_QUERY_LOG": ""}
    lawkb = Path(sys.executable).parent / "lawkb"
    cmd = [str(lawkb), "serve", "--kb", kb, "--host", "127.0.0.1", "--port", str(port), "--no-embed",
           "--threads", str(threads)]
    # A file, not a pipe: under load waitress logs queue warnings, and a full pipe would block the server.
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its threads, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_healthy(host: str, port: int, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the site did not become healthy in time")


class Client(threading.Thread):
    def __init__(self, host: str, port: int, qs: list[str], stop_at: float, think: float, seed: int,
                 article_ids: list[str]) -> None:
        super().__init__(daemon=True)
        self.host, self.port, self.qs, self.stop_at, self.think = host, port, qs, stop_at, think
        self.rng = random.Random(seed)
        self.article_ids = article_ids
        self.samples: list[tuple[str, float, int]] = []   # (kind, ms, status or -1)
        self.conn: http.client.HTTPConnection | None = None

    def request(self) -> tuple[str, str, tuple[int, ...]]:
        r, q = self.rng.random(), self.rng.choice(self.qs)
        if r < 0.5:
            args = {"q": q}
            if self.rng.random() < 1 / 3:
                args["region"] = self.rng.choice(REGIONS)
            return "page", "/?" + urlencode(args), (200,)
        if r < 0.7:
            return "api", "/api/v1/search?" + urlencode({"q": q, "k": 10}), (200,)
        if r < 0.9 and self.article_ids:
            return "article", "/a/" + quote(self.rng.choice(self.article_ids), safe="@"), (200,)
        return "lookup", "/lawyer/lookup?" + urlencode({"ref": f"民法典第{self.rng.randint(1, 1260)}条"}), (303,)

    def run(self) -> None:
        if self.think:  # people arrive spread over a pause, not all in the same millisecond
            time.sleep(self.rng.uniform(0, 2 * self.think))
        while time.time() < self.stop_at:
            kind, path, ok = self.request()
            t0 = time.perf_counter()
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                self.conn.request("GET", path)
                resp = self.conn.getresponse()
                resp.read()
                status = resp.status
                if resp.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
            except (OSError, http.client.HTTPException):
                status = -1
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
            ms = (time.perf_counter() - t0) * 1000
            self.samples.append((kind, ms, status if status in ok else -abs(status)))
            if self.think:
                time.sleep(self.rng.uniform(0, 2 * self.think))


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def summarize(samples: list[tuple[str, float, int]], duration: float) -> dict:
    def block(rows):
        ms = [m for _, m, _ in rows]
        return {"requests": len(rows), "errors": sum(1 for *_, s in rows if s < 0),
                "p50_ms": round(pct(ms, 50), 1), "p95_ms": round(pct(ms, 95), 1), "p99_ms": round(pct(ms, 99), 1),
                "max_ms": round(max(ms), 1) if ms else None,
                "mean_ms": round(statistics.fmean(ms), 1) if ms else None}

    out = {**block(samples), "throughput_rps": round(len(samples) / duration, 1), "by_kind": {}}
    for kind in sorted({k for k, _, _ in samples}):
        out["by_kind"][kind] = block([s for s in samples if s[0] == kind])
    errs: dict[str, int] = {}
    for _, _, s in samples:
        if s < 0:
            errs[str(-s if s != -1 else "connection")] = errs.get(str(-s if s != -1 else "connection"), 0) + 1
    out["error_statuses"] = errs
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_kb = "/tmp/kbfull" if Path("/tmp/kbfull/kb.sqlite").exists() else os.environ.get("LAWKB_KB", "kb")
    ap.add_argument("--kb", default=default_kb)
    ap.add_argument("--url", help="A running site to load instead of starting one.")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--think", type=float, default=0.0)
    ap.add_argument("--threads", type=int, default=8, help="Server threads when the script starts it.")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    server = None
    log = tempfile.TemporaryFile(mode="w+")
    if args.url:
        parts = urlsplit(args.url)
        host, port = parts.hostname, parts.port or 80
    else:
        host, port = "127.0.0.1", free_port()
        server = start_server(args.kb, port, args.threads, log)
    try:
        t0 = time.time()
        wait_healthy(host, port)
        startup = time.time() - t0
        qs = questions()
        warm = http.client.HTTPConnection(host, port, timeout=120)
        ids: list[str] = []
        for q in qs[:5]:  # the first searches load the model's session; get article ids to visit
            warm.request("GET", "/api/v1/search?" + urlencode({"q": q, "k": 10}))
            ids += [h["article_id"] for h in json.loads(warm.getresponse().read())["hits"]]
        stop_at = time.time() + args.duration
        clients = [Client(host, port, qs, stop_at, args.think, seed=i, article_ids=ids) for i in range(args.clients)]
        server_cpu0 = cpu_seconds(server.pid) if server is not None else None
        client_cpu0 = time.process_time()
        started = time.time()
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        elapsed = time.time() - started
        result = summarize([s for c in clients for s in c.samples], elapsed)
        # CPU per request shows where two shared cores go: the server's work or the load generator's.
        n = max(1, result["requests"])
        result["client_cpu_ms_per_request"] = round((time.process_time() - client_cpu0) * 1000 / n, 2)
        if server_cpu0 is not None:
            result["server_cpu_ms_per_request"] = round((cpu_seconds(server.pid) - server_cpu0) * 1000 / n, 2)
        result.update({"clients": args.clients, "duration_s": round(elapsed, 1), "think_s": args.think,
                       "kb": args.kb if not args.url else args.url, "server_threads": args.threads,
                       "startup_s": round(startup, 1), "cpus": os.cpu_count()})
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
            if server.returncode not in (0, -15):
                log.seek(0)
                print(log.read()[-2000:], file=sys.stderr)
        log.close()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    print(f"{result['clients']} clients, {result['duration_s']} s, think {args.think} s, kb {result['kb']}: "
          f"{result['requests']} requests ({result['throughput_rps']}/s), errors {result['errors']} "
          f"{result['error_statuses'] or ''}")
    print(f"latency ms: p50 {result['p50_ms']}  p95 {result['p95_ms']}  p99 {result['p99_ms']}  max {result['max_ms']}")
    print(f"CPU per request: server {result.get('server_cpu_ms_per_request', '-')} ms, "
          f"load generator {result['client_cpu_ms_per_request']} ms")
    for kind, b in result["by_kind"].items():
        print(f"  {kind:8s} n={b['requests']:6d} errors={b['errors']}  p50 {b['p50_ms']}  p95 {b['p95_ms']}")


if __name__ == "__main__":
    main()
