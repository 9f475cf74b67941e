"""Hostile input at ingest: every file that cannot be read is named with its reason while the batch goes
on, nothing hangs, each parse runs under a time and a memory budget, and a kill -9 at any moment leaves
the previous knowledge base as it was. Real files throughout: pipes, devices, sockets, links, bombs and
pathological documents are made on disk, and the budgets are tripped by real parses."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from lawkb.ingest.budget import Budget
from lawkb.ingest.pipeline import ingest
from lawkb.search import open_kb

LAW = "行政法规/物业管理条例(2018-03-19).md"
BIG_TEXT = "docx-extracted-no-header_中华人民共和国刑法.txt"
needs_posix = pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(),
                                 reason="needs FIFOs, sockets and /dev/zero")


@pytest.fixture()
def src(lawrefbook, tmp_path) -> Path:
    """A folder holding one good law text."""
    d = tmp_path / "src"
    d.mkdir()
    (d / "law.md").write_bytes((lawrefbook / LAW).read_bytes())
    return d


def _failed(report) -> dict[str, str]:
    return {Path(f).name: r for f, r in report.failed}


def _cli(*args: str, timeout: float = 90, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lawkb.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


# --- files that are not files -------------------------------------------------------------------


@needs_posix
def test_pipes_devices_and_sockets_in_a_folder_are_refused_one_line_each(src, tmp_path, monkeypatch):
    """Opening a FIFO waits for a writer; /dev/zero and /dev/urandom never end. Run through the CLI in a
    child with a deadline, since the failure guarded against is a hang."""
    os.mkfifo(src / "pipe.md")
    (src / "zero.md").symlink_to("/dev/zero")
    (src / "random.txt").symlink_to("/dev/urandom")
    (src / "to_pipe.md").symlink_to(src / "pipe.md")
    monkeypatch.chdir(src)  # a socket path must be short: bind it relative to the folder
    sock = socket.socket(socket.AF_UNIX)
    sock.bind("sock.md")
    try:
        out = _cli("ingest", str(src), "--kb", str(tmp_path / "kb"), "--no-index", timeout=60)
    finally:
        sock.close()
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    lines = {Path(line.split(": ")[0].split()[-1]).name: line for line in out.stderr.splitlines() if "FAILED" in line}
    assert "named pipe" in lines["pipe.md"] and "named pipe" in lines["to_pipe.md"]
    assert "character device" in lines["zero.md"] and "character device" in lines["random.txt"]
    assert "socket" in lines["sock.md"]
    assert len(lines) == 5
    assert "1 added" in out.stdout


def test_link_loops_and_dangling_links_are_reported_with_the_reason(src, tmp_path):
    (src / "loop_a.md").symlink_to(src / "loop_b.md")
    (src / "loop_b.md").symlink_to(src / "loop_a.md")
    (src / "self.md").symlink_to(src / "self.md")
    (src / "dangling.md").symlink_to(tmp_path / "nowhere.md")
    (src / "folder_link").symlink_to(tmp_path)  # would walk back up into src
    lone_loop = tmp_path / "lone.md"
    lone_loop.symlink_to(lone_loop)
    kb = open_kb(str(tmp_path / "kb"), create=True)
    report = ingest(kb, [src, lone_loop], workers=1)
    failed = _failed(report)
    for name in ("loop_a.md", "loop_b.md", "self.md", "lone.md"):
        assert "symbolic link loop" in failed[name], failed
    assert "broken symbolic link" in failed["dangling.md"] and "nowhere.md" in failed["dangling.md"]
    assert len(failed) == 5
    assert [Path(f).name for f, r in report.skipped if "link to a folder" in r] == ["folder_link"]
    assert report.added == 1
    kb.close()


def test_file_name_that_is_not_utf8_is_reported_and_the_batch_goes_on(src, tmp_path):
    """os.walk hands such a name over with surrogates, which SQLite refuses: once the whole batch died."""
    bad = os.fsencode(src) + b"/\xce\xef\xd2.md"
    with open(bad, "wb") as fh:
        fh.write((src / "law.md").read_bytes().replace("物业".encode(), "物管".encode()))
    kb = open_kb(str(tmp_path / "kb"), create=True)
    report = ingest(kb, [src], workers=1)
    assert report.added == 1
    [(name, reason)] = report.failed
    assert "not valid UTF-8" in reason and "\\xce\\xef\\xd2.md" in name
    name.encode("utf-8")  # printable and storable
    kb.close()


# --- bombs ---------------------------------------------------------------------------------------

_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_CT = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
       '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
       '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
       '<Default Extension="xml" ContentType="application/xml"/>'
       '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
       'wordprocessingml.document.main+xml"/>'
       '<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.'
       'wordprocessingml.styles+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
         'officeDocument" Target="word/document.xml"/></Relationships>')
_DOC_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
             '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
             'styles" Target="styles.xml"/></Relationships>')


def _docx(paragraphs: list[str], styles: str = "", prolog: str = "", tail: bytes = b"") -> bytes:
    """A Word package: paragraphs are w:p elements; prolog goes before the root (a DTD), tail after it."""
    document = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{prolog}'
                f'<w:document {_W}><w:body>{"".join(paragraphs)}</w:body></w:document>').encode() + tail
    styles = styles or f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:styles {_W}/>'
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CT)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("word/_rels/document.xml.rels", _DOC_RELS)
        zf.writestr("word/document.xml", document)
        zf.writestr("word/styles.xml", styles)
    return buf.getvalue()


def _p(text: str, style: str | None = None) -> str:
    ppr = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f"<w:p>{ppr}<w:r><w:t>{text}</w:t></w:r></w:p>"


LAW_PARAGRAPHS = [_p("某某市物业服务管理条例")] + [
    _p(f"第{n}条　业主大会应当依照本条例的规定履行职责，维护全体业主在物业管理活动中的合法权益。")
    for n in ("一", "二", "三", "四", "五")]


def test_zip_bomb_docx_is_refused_before_it_is_unpacked(src, tmp_path):
    """A valid Word file whose document part is padded to 8 MiB of blanks that pack into a few KiB: only
    the declared sizes are read, so the refusal costs nothing."""
    (src / "bomb.docx").write_bytes(_docx(LAW_PARAGRAPHS, tail=b" " * (8 << 20)))
    assert (src / "bomb.docx").stat().st_size < 100_000
    kb = open_kb(str(tmp_path / "kb"), create=True)
    report = ingest(kb, [src], workers=1)
    reason = _failed(report)["bomb.docx"]
    assert "zip bomb" in reason and "word/document.xml" in reason
    assert report.added == 1
    kb.close()


def test_xml_entity_bomb_docx_is_refused(src, tmp_path):
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
    paragraphs = LAW_PARAGRAPHS + [_p("&lol9;")]
    (src / "laughs.docx").write_bytes(_docx(paragraphs, prolog=f"<!DOCTYPE lolz [{entities}]>"))
    kb = open_kb(str(tmp_path / "kb"), create=True)
    t0 = time.monotonic()
    report = ingest(kb, [src], workers=1)
    assert time.monotonic() - t0 < 30
    assert "DTD" in _failed(report)["laughs.docx"]
    assert report.added == 1
    kb.close()


# --- pathological structure parses in linear time ------------------------------------------------

_BODY = "".join(f"<p>第{n}条　业主大会应当依照本条例的规定履行职责，维护全体业主在物业管理活动中的合法权益，"
                "接受业主的监督，定期公布物业服务资金的收支情况。</p>" for n in ("一", "二", "三", "四", "五", "六"))


def _articles(kb) -> list[str]:
    rows = kb.conn.execute("SELECT text FROM units WHERE kind='article' ORDER BY unit_id").fetchall()
    return [r[0] for r in rows]


def test_html_nested_50000_deep_parses_in_bounded_time(tmp_path):
    """50,000 nested <div>s held a worker for more than 15 minutes (an ancestor walk per element, a
    recursive walk). Now it parses within the budget, to the same articles as the flat page."""
    flat, deep = tmp_path / "flat", tmp_path / "deep"
    flat.mkdir()
    deep.mkdir()
    head = "<html><head><title>某某市物业服务管理条例</title></head><body><h1>某某市物业服务管理条例</h1>"
    (flat / "page.html").write_text(f"{head}<div>{_BODY}</div></body></html>", encoding="utf-8")
    n = 50_000
    (deep / "page.html").write_text(f"{head}{'<div>' * n}{_BODY}{'</div>' * n}</body></html>", encoding="utf-8")
    got = {}
    for folder in (flat, deep):
        kb = open_kb(str(tmp_path / f"kb-{folder.name}"), create=True)
        report = ingest(kb, [folder], workers=1, budget=Budget(seconds=40, mib=2048))
        assert report.added == 1, report.failed
        got[folder.name] = _articles(kb)
        kb.close()
    assert len(got["flat"]) == 6 and got["deep"] == got["flat"]


def test_docx_with_pathological_styles_parses_in_bounded_time(tmp_path):
    """Every paragraph on the last of 3,000 chained styles: python-docx's style lookup per paragraph
    made 2,000 paragraphs take over a minute; 20,000 now take seconds, with the same text."""
    n_styles, n_paras = 3000, 20_000
    styles = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:styles {_W}>' + "".join(
        f'<w:style w:type="paragraph" w:styleId="S{i}"><w:name w:val="s{i}"/>'
        + (f'<w:basedOn w:val="S{i - 1}"/>' if i else "") + "</w:style>" for i in range(n_styles))
        + "</w:styles>")
    paragraphs = [_p("某某市物业服务管理条例")] + [
        _p(f"第{i + 1}条　本条例第{i + 1}项规定的内容。", f"S{n_styles - 1 - i % 5}") for i in range(n_paras)]
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "styles.docx").write_bytes(_docx(paragraphs, styles))
    kb = open_kb(str(tmp_path / "kb"), create=True)
    report = ingest(kb, [folder], workers=1, budget=Budget(seconds=40, mib=2048))
    assert report.added == 1, report.failed
    texts = _articles(kb)
    assert len(texts) == n_paras and texts[-1] == f"本条例第{n_paras}项规定的内容。"
    kb.close()


# --- budgets -------------------------------------------------------------------------------------


@pytest.fixture()
def big_law(samples, src) -> Path:
    """An ordinary big text: the 刑法 forty times over (8.5 MB), a parse of seconds and hundreds of MiB."""
    path = src / "big.txt"
    path.write_bytes((samples / "txt" / BIG_TEXT).read_bytes() * 40)
    return path


def test_parse_over_the_time_budget_is_stopped_and_the_batch_goes_on(big_law, src, tmp_path, monkeypatch):
    monkeypatch.setenv("LAWKB_INGEST_PARSE_SECONDS", "0.7")  # through the setting, as a user would
    kb = open_kb(str(tmp_path / "kb"), create=True)
    t0 = time.monotonic()
    report = ingest(kb, [src], workers=2)
    elapsed = time.monotonic() - t0
    assert _failed(report) == {"big.txt": "parse took longer than 0.7 s (LAWKB_INGEST_PARSE_SECONDS): stopped"}
    assert report.added == 1 and elapsed < 10
    monkeypatch.setenv("LAWKB_INGEST_PARSE_SECONDS", "120")
    report = ingest(kb, [src], workers=2)  # the same file under the default budget goes in
    assert report.added == 1 and not report.failed
    kb.close()


def test_parse_over_the_memory_budget_is_stopped_and_the_batch_goes_on(big_law, src, tmp_path, monkeypatch):
    monkeypatch.setenv("LAWKB_INGEST_PARSE_MB", "48")
    kb = open_kb(str(tmp_path / "kb"), create=True)
    report = ingest(kb, [src], workers=2)
    assert _failed(report) == {"big.txt": "parse needed more than 48 MiB of memory (LAWKB_INGEST_PARSE_MB): stopped"}
    assert report.added == 1
    kb.close()


# --- kill -9 -------------------------------------------------------------------------------------


def _fingerprint(db: Path) -> str:
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = conn.execute("SELECT article_id, text FROM units ORDER BY unit_id").fetchall()
    docs = conn.execute("SELECT source, sha256 FROM documents ORDER BY doc_id").fetchall()
    laws = conn.execute("SELECT * FROM laws ORDER BY 1").fetchall()
    conn.close()
    return hashlib.sha256(repr((rows, docs, laws)).encode()).hexdigest()


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_kill_9_at_several_moments_leaves_the_previous_kb_intact(lawrefbook, src, tmp_path):
    """A second, larger ingest is killed at four moments: starting up, while the workers parse, early in
    its write and deep into it. Each time the KB reads back exactly as the first ingest left it, and no
    parse worker is left behind."""
    kb_dir = tmp_path / "kb"
    kb = open_kb(str(kb_dir), create=True)
    ingest(kb, [src])
    before, stats, article = _fingerprint(kb_dir / "kb.sqlite"), kb.stats(), _articles(kb)[0]
    kb.close()
    wal = kb_dir / "kb.sqlite-wal"
    moments = {
        "starting": lambda proc, t: t > 0.3,
        "parsing": lambda proc, t: len(_descendants(proc.pid)) >= 2,  # the forkserver and a worker
        "writing": lambda proc, t: wal.exists() and wal.stat().st_size > 1 << 20,
        "deep in the write": lambda proc, t: wal.exists() and wal.stat().st_size > 6 << 20,
    }
    for moment, reached in moments.items():
        proc = subprocess.Popen([sys.executable, "-m", "lawkb.cli", "ingest", str(lawrefbook / "DLC"),
                                 "--kb", str(kb_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.monotonic()
        while proc.poll() is None and time.monotonic() - t0 < 60 and not reached(proc, time.monotonic() - t0):
            time.sleep(0.02)
        assert proc.poll() is None, f"the ingest ended before the moment '{moment}'"
        helpers = _descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while any(_running(pid) for pid in helpers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_running(pid) for pid in helpers), f"parse workers outlived the kill ({moment})"
        assert _fingerprint(kb_dir / "kb.sqlite") == before, moment
        kb = open_kb(str(kb_dir))
        assert kb.stats() == stats and _articles(kb)[0] == article, moment
        kb.close()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_kill_9_during_a_long_parse_leaves_no_worker_behind(samples, tmp_path):
    """The worker on a long parse (the 刑法 190 times over, 40 MB, some seconds) dies with the killed
    ingest instead of parsing on with nobody to stop it."""
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "big.txt").write_bytes((samples / "txt" / BIG_TEXT).read_bytes() * 190)
    proc = subprocess.Popen([sys.executable, "-m", "lawkb.cli", "ingest", str(folder), "--kb", str(tmp_path / "kb")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    while proc.poll() is None and len(_descendants(proc.pid)) < 2 and time.monotonic() - t0 < 30:
        time.sleep(0.02)
    time.sleep(1.0)  # the worker is well into the file
    assert proc.poll() is None
    helpers = _descendants(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 2
    while any(_running(pid) for pid in helpers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_running(pid) for pid in helpers)


def test_cli_report_names_every_refused_file_in_json(src, tmp_path):
    """--json carries every refused file with its reason, whatever its name holds."""
    (src / "line\nbreak.md").write_bytes(b"\x00\x01binary")
    (src / "empty.txt").write_bytes(b"")
    out = _cli("ingest", str(src), "--kb", str(tmp_path / "kb"), "--json", "--no-index")
    report = json.loads(out.stdout)
    reasons = {Path(f["file"]).name: f["reason"] for f in report["failed"]}
    assert set(reasons) == {"line\nbreak.md", "empty.txt"} and all(reasons.values())
    assert report["added"] == 1


def test_display_path_keeps_a_refused_file_on_one_line():
    """For a text report: a name cannot break its line, forge another, or send a terminal escape."""
    from lawkb.ingest.pipeline import display_path

    names = ["/in/line\nbreak.md", "/in/x.md: fine\n  FAILED  /in/y.md", "/in/esc\x1b[31mred.md", "/in/rtl\u202egnp.md",
             "/in/\udcce\udcef.md"]
    shown = [display_path(n) for n in names]
    assert all(s.isprintable() for s in shown)
    assert shown[0] == "/in/line\\nbreak.md" and shown[2] == "/in/esc\\x1b[31mred.md"
    assert display_path("/in/中华人民共和国　民法典.md") == "/in/中华人民共和国　民法典.md"
