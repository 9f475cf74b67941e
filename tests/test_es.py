"""Elasticsearch-only behaviour on a real node: zero-downtime rebuilds, builds that die leave the live
index alone, and connection faults give one clear line."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
from click.testing import CliRunner

from lawkb.cli import main
from lawkb.core.errors import KBError
from lawkb.ingest.pipeline import ingest
from lawkb.search import open_kb, open_searcher
from lawkb.search.contract import Query


@pytest.fixture
def small_es(es_url, small_corpus, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(small_corpus / "宪法", corpus / "宪法")
    shutil.copytree(small_corpus / "DLC", corpus / "DLC")
    kb = open_kb(f"{es_url}/t{uuid.uuid4().hex[:10]}", create=True)
    kb.encoder_provider = None
    ingest(kb, [corpus])
    yield kb, corpus
    for g in kb.generations():
        kb.es.indices.delete(index=g["index"])
    kb.close()


def test_searches_keep_succeeding_during_a_rebuild(small_es):
    kb, _ = small_es
    searcher = open_searcher(kb, use_model=False)
    before = kb.current_index()
    failures, done, stop = [], [0], threading.Event()

    def load():
        while not stop.is_set():
            try:
                assert searcher.search(Query("物业 业主大会", k=5)).hits
                done[0] += 1
            except Exception as exc:  # noqa: BLE001 - counted, the test fails on any
                failures.append(repr(exc))

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        kb.rebuild(progress=False)
        kb.rebuild(progress=False)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert kb.current_index() != before
    assert not failures and done[0] > 0, failures[:3]


def test_failed_build_leaves_the_alias_and_drops_its_index(small_es):
    kb, corpus = small_es
    live = kb.current_index()
    with pytest.raises(RuntimeError), kb.batch() as batch:
        batch.remove(kb.sources_matching("中华人民共和国宪法")[0])
        raise RuntimeError("build died")
    assert kb.current_index() == live
    assert [g["index"] for g in kb.generations()] == [live]


def test_killed_build_leaves_the_alias_and_cleanup_removes_it(small_es, small_corpus):
    kb, corpus = small_es
    live = kb.current_index()
    articles = kb.stats()["articles"]
    shutil.copytree(small_corpus / "民法典", corpus / "民法典")
    script = ("import sys; from lawkb.search import open_kb; from lawkb.ingest.pipeline import ingest;"
              "kb = open_kb(sys.argv[1]); kb.encoder_provider = None; ingest(kb, [sys.argv[2]], workers=1)")
    proc = subprocess.Popen([sys.executable, "-c", script, kb.locator, str(corpus)], env=os.environ.copy())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(kb.generations()) < 2 and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert kb.current_index() == live and kb.stats()["articles"] == articles
    orphans = [g["index"] for g in kb.generations() if not g["live"]]
    assert orphans, "the build had not started before it was killed"
    assert kb.cleanup() == orphans and [g["index"] for g in kb.generations()] == [live]


class _FakeServer(http.server.BaseHTTPRequestHandler):
    status = 200
    body: dict = {}

    def do_GET(self):  # noqa: N802 - http.server's naming
        data = json.dumps(self.body).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    servers = []

    def start(status: int, body: dict) -> str:
        handler = type("H", (_FakeServer,), {"status": status, "body": body})
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}"

    yield start
    for srv in servers:
        srv.shutdown()


def _one_line_error(*args) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    lines = [line for line in result.output.strip().splitlines() if line]
    assert len(lines) == 1, result.output
    return lines[0]


def test_fault_messages(http_server):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    assert "connection refused" in _one_line_error("stats", "--kb", f"http://127.0.0.1:{free}")
    assert "not a valid Elasticsearch URL" in _one_line_error("stats", "--kb", "http://")
    assert "index prefix" in _one_line_error("stats", "--kb", "http://127.0.0.1:9200/Bad Prefix")
    denied = http_server(401, {"error": {"type": "security_exception", "reason": "missing authentication"}})
    assert "refused the credentials (401)" in _one_line_error("stats", "--kb", denied)
    old = http_server(200, {"version": {"number": "7.17.0"}, "tagline": "You Know, for Search"})
    assert "version 7.17.0; lawkb needs 8.x" in _one_line_error("stats", "--kb", old)


def test_missing_kb_is_a_clear_error(es_url):
    with pytest.raises(KBError, match="no knowledge base at"):
        open_kb(f"{es_url}/nothing{uuid.uuid4().hex[:6]}")


def test_node_stopped_mid_ingest_leaves_the_previous_index(small_corpus, tmp_path):
    """The server going away in the middle of a build: the ingest ends with one clear line, and once the
    node is back (same data directory) the alias still names the last complete index."""
    from lawkb import esnode

    reason = esnode.available()
    if reason:
        pytest.skip(f"needs a node of its own to stop: {reason}")
    data = tmp_path / "esdata"
    proc, url = esnode.start_background(0, data, log=tmp_path / "node.log")
    port = int(url.rsplit(":", 1)[1])
    try:
        corpus = tmp_path / "corpus"
        shutil.copytree(small_corpus / "宪法", corpus / "宪法")
        kb = open_kb(f"{url}/stopped", create=True)
        kb.encoder_provider = None
        ingest(kb, [corpus])
        live, articles = kb.current_index(), kb.stats()["articles"]
        shutil.copytree(small_corpus / "民法典", corpus / "民法典")
        env = {**os.environ, "LAWKB_MODEL": "", "LAWKB_SHARED": str(tmp_path / "none"), "LAWKB_OFFLINE": "1"}
        ingesting = subprocess.Popen(
            [sys.executable, "-c", "from lawkb.cli import main; main()", "ingest", str(corpus), "--kb",
             kb.locator, "--workers", "1"], env=env, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(kb.generations()) < 2 and ingesting.poll() is None:
            time.sleep(0.1)
        assert ingesting.poll() is None, "the ingest finished before the node could be stopped"
        kb.close()
        esnode.stop(proc)
        _, err = ingesting.communicate(timeout=120)
        assert ingesting.returncode != 0
        assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("Error:"), err[-2000:]

        proc, url = esnode.start_background(port, data, log=tmp_path / "node.log")
        from elasticsearch import Elasticsearch

        # A restarted node answers before it has re-opened its shards from disk.
        Elasticsearch(url).cluster.health(wait_for_status="green", timeout="60s")
        kb = open_kb(f"{url}/stopped")
        assert kb.current_index() == live and kb.stats()["articles"] == articles
        kb.close()
    finally:
        esnode.stop(proc)
