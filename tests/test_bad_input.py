"""Bad files are reported one by one with their reason; the batch goes on; nothing already in the KB is lost;
a kill in the middle of an ingest leaves the previous state."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lawkb.ingest.blocks import IngestError
from lawkb.ingest.pipeline import ingest
from lawkb.search import open_kb


def _reasons(report) -> dict[str, str]:
    return {Path(f).name: r for f, r in report.failed}


@pytest.fixture()
def good(lawrefbook, tmp_path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    src = lawrefbook / "行政法规/物业管理条例(2018-03-19).md"
    (d / src.name).write_bytes(src.read_bytes())
    return d


def test_each_bad_file_is_reported_and_the_rest_goes_on(good, lawrefbook, tmp_path):
    real = (lawrefbook / "社会法/劳动合同法(2012-12-28).md").read_bytes()
    (good / "empty.md").write_bytes(b"")
    (good / "binary.txt").write_bytes(bytes(range(256)) * 10)
    (good / "misencoded.txt").write_bytes("第一条　".encode() + b"\x80\xff\x80" * 20)
    (good / "notlaw.txt").write_text("今天天气很好，我们去公园散步，然后回家吃饭。\n" * 5, encoding="utf-8")
    (good / "truncated.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog")
    (good / "truncated.docx").write_bytes(b"PK\x03\x04" + os.urandom(200))
    (good / "legacy.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    (good / "pretend.pdf").write_text("这不是PDF", encoding="utf-8")
    (good / "title_only.md").write_text("# 某某条例\n\n2020年1月1日 某某会议通过\n\n<!-- INFO END -->\n", encoding="utf-8")
    big = good / "big.txt"
    big.write_bytes(real * 3)
    (good / "twin.md").write_bytes((good / "物业管理条例(2018-03-19).md").read_bytes())
    kb = open_kb(str(tmp_path / "kb"), create=True)
    report = ingest(kb, [good], max_bytes=len(real) * 2)
    reasons = _reasons(report)
    assert report.added == 1
    assert "empty" in reasons["empty.md"]
    assert "binary" in reasons["binary.txt"]
    assert "decode" in reasons["misencoded.txt"]
    assert "not a legal text" in reasons["notlaw.txt"]
    assert "PDF" in reasons["truncated.pdf"] or "pdf" in reasons["truncated.pdf"].lower()
    assert "corrupt" in reasons["truncated.docx"].lower()
    assert "OLE2" in reasons["legacy.doc"]
    assert "not PDF" in reasons["pretend.pdf"]
    assert "no body" in reasons["title_only.md"]
    assert "too large" in reasons["big.txt"]
    assert any("duplicate" in r for _, r in report.skipped)
    assert len(report.failed) == 10
    assert kb.stats()["articles"] > 60
    kb.close()


def test_strict_mode_aborts_and_writes_nothing(good, tmp_path):
    (good / "empty.txt").write_bytes(b"")
    kb = open_kb(str(tmp_path / "kb"), create=True)
    with pytest.raises(IngestError, match="empty"):
        ingest(kb, [good], strict=True)
    assert kb.stats()["documents"] == 0
    kb.close()


def test_bad_batch_loses_nothing_already_ingested(good, tmp_path):
    kb = open_kb(str(tmp_path / "kb"), create=True)
    ingest(kb, [good])
    before = kb.stats()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.docx").write_bytes(b"PK\x03\x04garbage")
    report = ingest(kb, [bad])
    assert len(report.failed) == 1
    assert kb.stats() == before
    kb.close()


def test_ten_thousand_files(tmp_path):
    d = tmp_path / "many"
    for i in range(10_000):
        sub = d / f"{i // 1000:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        body = "" if i % 1000 == 7 else f"第一条　第{i}号示例规定的内容。\n\n第二条　本规定自公布之日起施行。\n"
        (sub / f"r{i}.md").write_text(f"# 示例管理规定{i}\n\n<!-- INFO END -->\n\n{body}", encoding="utf-8")
    kb = open_kb(str(tmp_path / "kb"), create=True)
    report = ingest(kb, [d])
    assert report.files == 10_000 and report.added == 9_990 and len(report.failed) == 10
    assert kb.stats()["articles"] == 2 * 9_990
    kb.close()


def _fingerprint(db: Path) -> str:
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT article_id, text FROM units ORDER BY unit_id").fetchall()
    docs = conn.execute("SELECT source, sha256 FROM documents ORDER BY doc_id").fetchall()
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    return hashlib.sha256(repr((rows, docs)).encode()).hexdigest()


def test_kill_during_ingest_leaves_previous_kb(lawrefbook, good, tmp_path):
    kb_dir = tmp_path / "kb"
    kb = open_kb(str(kb_dir), create=True)
    ingest(kb, [good])
    kb.close()
    db = kb_dir / "kb.sqlite"
    before = _fingerprint(db)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lawkb.cli", "ingest", str(lawrefbook / "DLC"), "--kb", str(kb_dir), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    wal = kb_dir / "kb.sqlite-wal"
    deadline = time.time() + 120
    # Kill once the ingest has written a good part of its transaction, but long before it commits.
    while time.time() < deadline and proc.poll() is None:
        if wal.exists() and wal.stat().st_size > 4 << 20:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the ingest finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _fingerprint(db) == before
    kb = open_kb(str(kb_dir))
    assert kb.stats()["documents"] == 1
    kb.close()


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(), reason="needs FIFOs and /dev/zero")
def test_pipes_and_devices_are_refused_with_the_reason_not_waited_on(good, tmp_path):
    """A named pipe blocks whoever opens it until a writer comes; /dev/zero never ends. Both, in a folder
    and named directly, are refused one by one with the reason while the real file goes in. Run in a
    child process with a deadline, since the failure being guarded against is a hang."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "law.md").write_bytes(next(good.iterdir()).read_bytes())
    os.mkfifo(src / "pipe.md")
    (src / "zero.md").symlink_to("/dev/zero")
    lone_pipe = tmp_path / "lone.md"
    os.mkfifo(lone_pipe)
    script = ("import json, sys; from lawkb.search import open_kb; from lawkb.ingest.pipeline import ingest;"
              "r = ingest(open_kb(sys.argv[1], create=True), [sys.argv[2], sys.argv[3]], workers=1);"
              "print(json.dumps(r.to_dict(), ensure_ascii=False))")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "kb"), str(src), str(lone_pipe)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    import json

    report = json.loads(out.stdout.strip().splitlines()[-1])
    failed = {Path(f["file"]).name: f["reason"] for f in report["failed"]}
    assert "named pipe" in failed["pipe.md"] and "named pipe" in failed["lone.md"]
    assert "character device" in failed["zero.md"]
    assert report["added"] == 1 and report["articles"] > 0
