"""Slow clients and floods of heavy requests against a real `lawkb serve`: does /healthz still answer?

    .venv/bin/python benchmarks/slow_clients.py [--server new|old|both] [--slow 120,500] [--silent 500]
                                                [--slow-body 120] [--heavy 30] [--tries 50] [--kb DIR] [--json]

Starts the site on a free loopback port over a small KB (built into a temporary folder from a few
LawRefBook files and corpus/community, lexical, in about 2 s; or --kb), rate limit off (every client
here shares one address), then runs these scenarios one after another:

- slow-N: N connections each send a request line and then one header line every 5 s, never finishing
  (slowloris); one the server closes is opened again, as an attacker would. With them open, /healthz is
  tried --tries times (2 s timeout each, 0.2 s apart) and a few searches are made (10 s timeout).
- silent-N: N connections that open and send nothing.
- slow-body-N: N connections that announce a 5 MB POST body and send it a byte a second.
- heavy-taskcheck / heavy-search: --heavy clients send, back to back, POST /api/v1/taskcheck with 500
  tasks or GET /api/v1/search; /healthz is tried meanwhile.

For each: the share of /healthz tries answered 200 within 2 s, their median and 90th percentile (a
failed try counts as 2 s), the searches' and heavy requests' statuses, and how many slow connections the
server closed. --server old runs the site as `lawkb serve` did before the connection settings: plain
`waitress.serve(app, threads=8)` with waitress's defaults (100 connections, select(), no request
deadline, one FIFO queue, no limit on heavy requests in the app), so both can be compared on one machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
LAWREFBOOK_FILES = ["民法典", "行政法规/物业管理条例(2018-03-19).md", "社会法/劳动合同法(2012-12-28).md",
                    "宪法相关法/城市居民委员会组织法(2018-12-29).md"]
QUESTIONS = ["楼上漏水物业不管怎么办", "房东不退押金怎么办", "公司拖欠工资", "邻居装修噪音太大", "小区停车位归谁",
             "离婚后孩子抚养权", "试用期被辞退有补偿吗", "借钱不还怎么办", "物业费", "业主大会"]
TASK_WORDS = ["调解邻里纠纷", "协助做好社区矫正工作", "组织居民开展环境卫生活动", "开展人口普查登记", "征收城市维护建设税",
              "协助开展兵役登记", "宣传宪法和法律", "办理居民身份证", "组织文化体育活动", "协助做好计划生育工作"]
HEALTH_TIMEOUT = 2.0
DRIP_EVERY = 5.0

# The site as `lawkb serve` ran it before this change (web/server.py at that time), for comparison.
OLD_SERVER = """
import logging, os, sys
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
from waitress import serve
from lawkb.web import create_app
kb, port = sys.argv[1], int(sys.argv[2])
app = create_app({"KB_LOCATOR": kb, "HEAVY_SLOTS": 0})   # 0: no limit in the app, as before
app.extensions["lawkb"].searcher.prepare()
print("old server on", port, flush=True)
serve(app, host="127.0.0.1", port=port, threads=8, ident="lawkb",
      max_request_body_size=app.config["MAX_CONTENT_LENGTH"] + (64 << 10))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_kb(folder: Path) -> str:
    from lawkb.ingest.lawrefbook import extract, extracted_path
    from lawkb.ingest.pipeline import ingest
    from lawkb.search import open_kb

    root = extract(extracted_path())
    kb = open_kb(str(folder), create=True)
    report = ingest(kb, [root / rel for rel in LAWREFBOOK_FILES] + [REPO / "corpus" / "community"])
    if report.failed:
        raise SystemExit(f"ingest failed: {report.failed}")
    kb.index()
    kb.close()
    return str(folder)


def start(kind: str, kb: str, port: int, log) -> subprocess.Popen:
    env = {**os.environ, "LAWKB_WEB_RATE_LIMIT": "0", "LAWKB_WEB_QUERY_LOG": "", "LAWKB_OFFLINE": "1"}
    if kind == "old":
        cmd = [sys.executable, "-c", OLD_SERVER, kb, str(port)]
    else:
        cmd = [str(Path(sys.executable).parent / "lawkb"), "serve", "--kb", kb, "--host", "127.0.0.1",
               "--port", str(port), "--no-embed"]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
    deadline = time.time() + 120
    while time.time() < deadline:
        if fetch(port, "/healthz", 2)[0] == 200:
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    proc.kill()
    log.seek(0)
    raise SystemExit(f"the {kind} server did not start:\n{log.read()[-2000:]}")


def fetch(port: int, path: str, timeout: float, body: dict | None = None) -> tuple[int, float]:
    """(status or -1, seconds) of one request on a new connection."""
    t0 = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        if body is None:
            conn.request("GET", path)
        else:
            conn.request("POST", path, json.dumps(body, ensure_ascii=False).encode(),
                         {"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        status = resp.status
    except (OSError, http.client.HTTPException):
        status = -1
    return status, time.perf_counter() - t0


SLOW_STARTS = {   # mode -> (what a connection sends first, what it drips, how often)
    "headers": (b"GET /?q=%E7%89%A9%E4%B8%9A HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-Slow-%d: %d\r\n", DRIP_EVERY),
    "silent": (b"", b"", DRIP_EVERY),
    "body": (b"POST /api/v1/taskcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             b"Content-Length: 5000000\r\n\r\n", b"{", 1.0),
}


class SlowClients(threading.Thread):
    """n connections dripping a header line every DRIP_EVERY s, or a 5 MB body a byte a second, or
    sending nothing; any the server closes is opened again."""

    def __init__(self, port: int, n: int, mode: str = "headers") -> None:
        super().__init__(daemon=True)
        self.port, self.n = port, n
        self.first, self.drip, self.every = SLOW_STARTS[mode]
        self.sel = selectors.DefaultSelector()
        self.next_drip: dict[socket.socket, float] = {}
        self.closed_by_server = self.got_408 = self.failed_opens = 0
        self.stop = threading.Event()

    def _open(self) -> None:
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            if self.first:
                s.sendall(self.first)
            s.setblocking(False)
        except OSError:
            self.failed_opens += 1
            return
        self.sel.register(s, selectors.EVENT_READ)
        self.next_drip[s] = time.monotonic() + self.every

    def _drop(self, s: socket.socket) -> None:
        self.sel.unregister(s)
        self.next_drip.pop(s, None)
        s.close()

    def open_all(self) -> None:
        for _ in range(self.n):
            self._open()

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            for key, _ in self.sel.select(timeout=0.2):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                self.got_408 += data.startswith(b"HTTP/1.1 408")
                self.closed_by_server += 1
                self._drop(s)
            now = time.monotonic()
            for s, due in list(self.next_drip.items()):
                if due <= now and self.drip:
                    i += 1
                    try:
                        s.send(self.drip % (i, i) if b"%d" in self.drip else self.drip)
                    except OSError:
                        self.closed_by_server += 1
                        self._drop(s)
                        continue
                    self.next_drip[s] = now + self.every
            for _ in range(self.n - len(self.next_drip)):   # keep n open, as an attacker would
                self._open()
        for s in list(self.next_drip):
            self._drop(s)


class HeavyClients:
    """n threads sending heavy requests back to back until stopped."""

    def __init__(self, port: int, n: int, kind: str) -> None:
        self.port, self.kind = port, kind
        self.results: list[tuple[int, float]] = []
        self.in_flight = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(n)]

    def _loop(self, i: int) -> None:
        k = 0
        while not self.stop.is_set():
            k += 1
            if self.kind == "taskcheck":
                # numbered, so no two requests ask exactly the same and nothing is answered from a cache
                tasks = [f"{TASK_WORDS[(i + j) % len(TASK_WORDS)]}（第{i}-{k}-{j}项）" for j in range(500)]
                got = fetch(self.port, "/api/v1/taskcheck", 120, {"tasks": tasks})
            else:
                q = f"{QUESTIONS[(i + k) % len(QUESTIONS)]} {k}"
                got = fetch(self.port, "/api/v1/search?" + urlencode({"q": q}), 120)
            if not self.stop.is_set():   # answers after the measurement are not counted
                self.results.append(got)

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def finish(self) -> int:
        """Stop counting; return how many requests were still unanswered (the server is stopped next)."""
        self.stop.set()
        time.sleep(0.5)
        return sum(t.is_alive() for t in self.threads)


def probe_health(port: int, tries: int) -> dict:
    lat = []
    for _ in range(tries):
        status, secs = fetch(port, "/healthz", HEALTH_TIMEOUT)
        lat.append(secs if status == 200 else HEALTH_TIMEOUT)
        time.sleep(0.2)
    ok = sum(1 for x in lat if x < HEALTH_TIMEOUT)
    return {"healthz_ok_pct": round(100 * ok / tries, 1), "healthz_median_s": round(statistics.median(lat), 3),
            "healthz_p90_s": round(sorted(lat)[int(0.9 * (tries - 1))], 3)}


def searches(port: int, n: int = 5) -> dict:
    done = [fetch(port, "/api/v1/search?" + urlencode({"q": QUESTIONS[i % len(QUESTIONS)]}), 10) for i in range(n)]
    ok = [s for st, s in done if st == 200]
    return {"searches_ok": f"{len(ok)}/{n}", "search_median_s": round(statistics.median(ok), 3) if ok else None}


def statuses(results: list[tuple[int, float]]) -> dict:
    out: dict[str, int] = {}
    for st, _ in results:
        out[str(st)] = out.get(str(st), 0) + 1
    return out


def run_slow(port: int, n: int, tries: int, mode: str) -> dict:
    clients = SlowClients(port, n, mode)
    clients.open_all()
    clients.start()
    time.sleep(1.0)
    row = {**probe_health(port, tries), **searches(port)}
    clients.stop.set()
    clients.join()
    return {**row, "closed_by_server": clients.closed_by_server, "answered_408": clients.got_408}


def run_heavy(port: int, n: int, tries: int, kind: str) -> dict:
    heavy = HeavyClients(port, n, kind)
    heavy.start()
    time.sleep(1.0 if kind == "search" else 3.0)   # let the line of heavy requests form
    row = probe_health(port, tries)
    unanswered = heavy.finish()
    ok = [s for st, s in heavy.results if st == 200]
    return {**row, "heavy_statuses": statuses(heavy.results), "heavy_unanswered_at_end": unanswered,
            "heavy_ok_median_s": round(statistics.median(ok), 2) if ok else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", choices=["new", "old", "both"], default="both")
    ap.add_argument("--kb", help="A KB folder to serve (default: a small one built in a temporary folder).")
    ap.add_argument("--slow", default="120,500", help="Slow-connection counts, comma-separated.")
    ap.add_argument("--silent", type=int, default=500, help="Connections that send nothing (0: skip).")
    ap.add_argument("--slow-body", type=int, default=120,
                    help="Connections posting a 5 MB body a byte a second (0: skip).")
    ap.add_argument("--heavy", type=int, default=30, help="Concurrent heavy clients (0: skip).")
    ap.add_argument("--tries", type=int, default=50, help="/healthz tries a scenario.")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="slow-clients-")
    kb = args.kb or build_kb(Path(tmp.name) / "kb")
    plan = [(f"slow-{n}", run_slow, (int(n), args.tries, "headers")) for n in args.slow.split(",") if n.strip()]
    if args.silent:
        plan.append((f"silent-{args.silent}", run_slow, (args.silent, args.tries, "silent")))
    if args.slow_body:
        plan.append((f"slow-body-{args.slow_body}", run_slow, (args.slow_body, args.tries, "body")))
    if args.heavy:
        plan += [(f"heavy-{kind}-{args.heavy}", run_heavy, (args.heavy, args.tries, kind))
                 for kind in ("search", "taskcheck")]
    rows = []
    for server in (["old", "new"] if args.server == "both" else [args.server]):
        for name, fn, fargs in plan:
            # A fresh server per scenario: what one leaves behind (a backlog, a line) never colours the next.
            port = free_port()
            with tempfile.TemporaryFile(mode="w+") as log:
                proc = start(server, kb, port, log)
                try:
                    row = {"server": server, "scenario": name, **fn(port, *fargs)}
                finally:
                    proc.terminate()
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
            rows.append(row)
            if not args.json:
                print(json.dumps(row, ensure_ascii=False), flush=True)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    tmp.cleanup()


if __name__ == "__main__":
    main()
