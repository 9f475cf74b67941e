"""Slow and greedy clients against a real `lawkb serve` on a free loopback port: 120 connections that
never finish their request leave /healthz answering; a slowloris, a silent connection and a
one-byte-at-a-time upload are closed after the request deadline; heavy requests beyond their slots get
503 with a Chinese message and Retry-After while /healthz and pages still answer."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lawkb.web.admission import BUSY_MESSAGE, HEAVY, PAGE, URGENT, classify

REPO = Path(__file__).resolve().parent.parent
HEADER_TIMEOUT = 4   # short, so the deadline test is quick; long enough for the 120 to stay open meanwhile
KB_FILES = ["民法典", "宪法相关法/城市居民委员会组织法(2018-12-29).md", "行政法规/物业管理条例(2018-03-19).md"]


def test_classify():
    assert classify("GET", "/healthz") == URGENT
    assert classify("GET", "/static/site.css") == URGENT
    assert classify("GET", "/") == PAGE and classify("GET", "/", "q=") == PAGE
    assert classify("GET", "/", "q=%E7%89%A9%E4%B8%9A%E8%B4%B9&region=") == HEAVY
    assert classify("GET", "/api/v1/search", "q=x") == HEAVY
    assert classify("POST", "/api/v1/taskcheck") == HEAVY and classify("POST", "/staff/tasks") == HEAVY
    assert classify("GET", "/lawyer/export", "id=a") == HEAVY and classify("GET", "/law/x/text") == HEAVY
    assert classify("GET", "/a/some-article") == PAGE and classify("GET", "/help") == PAGE


@pytest.fixture(scope="module")
def site(lawrefbook, tmp_path_factory):
    """`lawkb serve` over a small lexical KB; threads 4, one heavy slot, 1 s in line at most, 127.0.0.1
    as the trusted reverse proxy."""
    from lawkb.ingest.pipeline import ingest
    from lawkb.search import open_kb

    folder = tmp_path_factory.mktemp("connkb") / "kb"
    kb = open_kb(str(folder), create=True)
    report = ingest(kb, [lawrefbook / rel for rel in KB_FILES] + [REPO / "corpus" / "community"])
    assert not report.failed
    kb.index()
    kb.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LAWKB_OFFLINE": "1", "LAWKB_WEB_THREADS": "4", "LAWKB_WEB_HEAVY_SLOTS": "1",
           "LAWKB_WEB_QUEUE_TIMEOUT": "1", "LAWKB_WEB_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
           "LAWKB_WEB_RATE_LIMIT": "0", "LAWKB_WEB_TRUSTED_PROXY": "127.0.0.1"}
    log = tmp_path_factory.mktemp("connlog") / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "lawkb"), "serve", "--kb", str(folder),
                                 "--port", str(port), "--no-embed"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while get(port, "/healthz")[0] != 200:
            assert proc.poll() is None and time.time() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def get(port: int, path: str, timeout: float = 2.0, body: dict | None = None):
    """(status or -1, seconds, headers, parsed JSON or None) of one request on a new connection."""
    t0 = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        if body is None:
            conn.request("GET", path)
        else:
            conn.request("POST", path, json.dumps(body, ensure_ascii=False).encode(),
                         {"Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
    except (OSError, http.client.HTTPException):
        return -1, time.perf_counter() - t0, {}, None
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    return resp.status, time.perf_counter() - t0, dict(resp.getheaders()), data


def slow_connection(port: int, first: bytes) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if first:
        s.sendall(first)
    return s


def test_healthz_and_search_answer_with_120_slow_connections(site):
    socks = [slow_connection(site, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n") for _ in range(120)]
    try:
        tries = [get(site, "/healthz") for _ in range(10)]
        fast = [t for t in tries if t[0] == 200 and t[1] < 2.0]
        assert len(fast) >= 9, [(t[0], round(t[1], 2)) for t in tries]
        status, _, _, data = get(site, "/api/v1/search?q=%E7%89%A9%E4%B8%9A%E8%B4%B9", timeout=15)
        assert status == 200 and data["hits"]
    finally:
        for s in socks:
            s.close()


def _until_closed(s: socket.socket, drip: bytes | None, every: float, out: dict, key: str) -> None:
    """Drip bytes until the server closes the connection; record when and what it said."""
    t0, got, last = time.monotonic(), b"", 0.0
    s.settimeout(0.2)
    while time.monotonic() - t0 < 30:
        if drip and time.monotonic() - last >= every:
            try:
                s.sendall(drip)
            except OSError:
                break
            last = time.monotonic()
        try:
            chunk = s.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    out[key] = (time.monotonic() - t0, got)


def test_slow_requests_are_closed_after_the_deadline(site):
    out: dict = {}
    upload = (b"POST /api/v1/taskcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              b"Content-Length: 5242880\r\n\r\n")
    cases = {"slowloris": (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-Drip: 1\r\n", 0.5),
             "silent": (b"", None, 0.5),
             "slow body": (upload, b"{", 0.5)}
    threads = [threading.Thread(target=_until_closed, args=(slow_connection(site, first), drip, every, out, name))
               for name, (first, drip, every) in cases.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name, (secs, said) in out.items():
        # the deadline, checked every second, plus slack for a loaded machine; never before it
        assert HEADER_TIMEOUT - 0.5 <= secs < HEADER_TIMEOUT + 10, (name, secs)
        if name == "silent":
            assert said == b""   # nothing asked, nothing answered
        else:
            assert said.startswith(b"HTTP/1.1 408"), (name, said[:80])
            assert "请求超时" in said.decode("utf-8", "replace")
    assert get(site, "/healthz")[0] == 200


def test_forwarded_headers_are_believed_from_the_trusted_proxy_only(site):
    def csrf_cookie(source: str) -> str:
        try:
            sock = socket.create_connection(("127.0.0.1", site), timeout=10, source_address=(source, 0))
        except OSError as exc:
            pytest.skip(f"cannot connect from {source}: {exc}")
        conn = http.client.HTTPConnection("127.0.0.1", site, timeout=10)
        conn.sock = sock
        conn.request("GET", "/lawyer/cite", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        assert resp.status == 200
        return resp.getheader("Set-Cookie") or ""

    # The form's cookie is marked Secure only when the request came over HTTPS: here, as the proxy says.
    assert "Secure" in csrf_cookie("127.0.0.1")
    assert "Secure" not in csrf_cookie("127.0.0.2")   # any other peer's X-Forwarded-* are dropped


def test_heavy_requests_past_their_slot_get_503_while_healthz_answers(site):
    # One heavy slot: the first 500-task check runs for seconds; the others wait 1 s in line, then 503.
    results: list = []

    def check(i: int) -> None:
        tasks = [f"协助做好社区矫正工作（第{i}-{j}项）" for j in range(500)]
        results.append(get(site, "/api/v1/taskcheck", timeout=120, body={"tasks": tasks}))

    heavy = [threading.Thread(target=check, args=(i,), daemon=True) for i in range(5)]
    for t in heavy:
        t.start()
    time.sleep(0.3)
    health = [get(site, "/healthz") for _ in range(10)]
    page = get(site, "/help", timeout=5)
    deadline = time.time() + 30
    while len([r for r in results if r[0] == 503]) < 3 and time.time() < deadline:
        time.sleep(0.2)
    assert sum(1 for st, secs, *_ in health if st == 200 and secs < 2.0) >= 9, [(h[0], round(h[1], 2)) for h in health]
    assert page[0] == 200
    busy = [r for r in results if r[0] == 503]
    assert len(busy) >= 3, [(r[0], round(r[1], 1)) for r in results]
    for _, secs, headers, data in busy:
        assert int(headers["Retry-After"]) > 0
        assert data["error"]["code"] == "unavailable" and data["error"]["message"] == BUSY_MESSAGE
        assert secs < 15   # answered after its time in line, not after the running check
