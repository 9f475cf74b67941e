"""The site under attack, end to end: starts a real `lawkb serve` on a small KB and sends it the probes of
the hardening issue (bombs disguised as task lists and drafts, hostile arguments, forged Host headers,
cross-site posts), then prints what held: status, stable error code, seconds, and how far the server's
peak memory rose for each.

    python benchmarks/hostile_probes.py [--port 8791] [--keep DIR]

A probe holds when it is answered (no 500, no time-out) with the status it should get, in under 30 s, and
the server's peak memory grew by under 400 MB. Slow clients are measured by benchmarks/slow_clients.py;
hostile files at ingest by benchmarks/hostile_corpus.py.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAWKB = [sys.executable, "-m", "lawkb.cli"]
CJK = re.compile(r"[\u4e00-\u9fff]")
SECONDS = 30
PEAK_MB = 400


# ---- hostile OOXML, written by hand: the point is what a real file may declare ---------------------------

XLSX_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
    'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType='
    '"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="任务" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.'
    'org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    'Target="sharedStrings.xml"/></Relationships>',
}
SHEET = '<?xml version="1.0" encoding="UTF-8"?>{doctype}<worksheet xmlns="http://schemas.openxmlformats.org/' \
        'spreadsheetml/2006/main">{dimension}<sheetData>{rows}</sheetData></worksheet>'
SST = '<?xml version="1.0" encoding="UTF-8"?>{doctype}<sst xmlns="http://schemas.openxmlformats.org/' \
      'spreadsheetml/2006/main" count="{n}" uniqueCount="{n}">{items}</sst>'
LAUGHS = ('<!DOCTYPE lolz [<!ENTITY lol "lollollollollollollollollollol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
          + "]>")


def zipped(parts: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, body in parts.items():
            zf.writestr(name, body if isinstance(body, bytes) else body.encode("utf-8"))
    return buf.getvalue()


def xlsx(rows: str, *, dimension: str = "", strings: list[str] = (), doctype: str = "", sst_doctype: str = "") -> bytes:
    items = "".join(f"<si><t>{s}</t></si>" for s in strings)
    return zipped({**XLSX_PARTS, "xl/worksheets/sheet1.xml": SHEET.format(doctype=doctype, dimension=dimension, rows=rows),
                   "xl/sharedStrings.xml": SST.format(doctype=sst_doctype, n=len(strings), items=items)})


def inline_row(r: int, text: str) -> str:
    return f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>{text}</t></is></c></row>'


def docx(body: str) -> bytes:
    return zipped({
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.'
        'org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
        'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
        '"/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.'
        'document.main+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.'
        'org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
        "word/document.xml": '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.'
        f'openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>',
    })


def para(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def bomb_zip(name: str, size: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open(name, "w", force_zip64=True) as fh:
            block = b"\0" * (1 << 20)
            for _ in range(size >> 20):
                fh.write(block)
    return buf.getvalue()


def upload_probes() -> list[tuple[str, str, str, bytes, str, tuple[int, ...]]]:
    """(name, endpoint, field, data, filename, statuses that count as held)."""
    two_cells = inline_row(1, "调解民间纠纷") + inline_row(200000, "开展普法宣传")
    # shared strings keep a million rows inside the 5 MB upload limit, as the 0.5 MB file was
    million = "".join(f'<row r="{r}"><c r="A{r}" t="s"><v>0</v></c></row>' for r in range(1, 1_000_001))
    return [
        ("XLSX declaring A1:XFD200000, two cells", "/api/v1/taskcheck", "file",
         xlsx(two_cells, dimension='<dimension ref="A1:XFD200000"/>'), "tasks.xlsx", (200,)),
        ("XLSX of a million rows", "/api/v1/taskcheck", "file", xlsx(million, strings=["开展普法宣传"]),
         "tasks.xlsx", (413,)),
        ("XLSX with entity expansion in the sheet", "/api/v1/taskcheck", "file",
         xlsx(inline_row(1, "&lol9;"), doctype=LAUGHS), "tasks.xlsx", (400, 413)),
        ("XLSX with entity expansion in shared strings", "/api/v1/taskcheck", "file",
         xlsx('<row r="1"><c r="A1" t="s"><v>0</v></c></row>', strings=["&lol9;"], sst_doctype=LAUGHS),
         "tasks.xlsx", (400, 413)),
        ("XLSX with a bad shared-string index", "/api/v1/taskcheck", "file",
         xlsx('<row r="1"><c r="A1" t="s"><v>99999</v></c></row>', strings=["调解民间纠纷"]), "tasks.xlsx", (400,)),
        ("XLSX zip bomb (1 GB of zeros)", "/api/v1/taskcheck", "file", bomb_zip("xl/worksheets/sheet1.xml", 1 << 30),
         "tasks.xlsx", (400, 413)),
        ("CSV of a million empty-ish lines", "/api/v1/taskcheck", "file", b"\n,\n" * 1_500_000, "tasks.csv", (400, 413)),
        ("a 300-character file name", "/api/v1/taskcheck", "file", "调解民间纠纷\n".encode(), "任" * 300 + ".csv",
         (200, 400)),
        ("DOCX of a million paragraphs", "/api/v1/convention", "file", docx(para("第一条 居民应当爱护环境。") * 1_000_000),
         "draft.docx", (413,)),
        ("DOCX with entity expansion", "/api/v1/convention", "file", docx(para("&lol9;")).replace(
            b'<?xml version="1.0" encoding="UTF-8"?><w:document', b'<?xml version="1.0" encoding="UTF-8"?>'
            + LAUGHS.encode() + b"<w:document"), "draft.docx", (400, 413)),
        ("DOCX zip bomb (1 GB of zeros)", "/api/v1/convention", "file", bomb_zip("word/document.xml", 1 << 30),
         "draft.docx", (400, 413)),
        ("DOCX of 100,000-deep nesting", "/api/v1/convention", "file",
         docx("<w:p>" + "<w:r>" * 100_000 + "</w:r>" * 100_000 + "</w:p>"), "draft.docx", (200, 400, 413)),
    ]


def request_probes() -> list[tuple[str, str, str, dict, bytes | None, tuple[int, ...]]]:
    """(name, method, path, headers, body, statuses that count as held)."""
    js = {"Content-Type": "application/json"}
    return [
        ("pager fed _anchor", "GET", "/?q=%E7%89%A9%E4%B8%9A&_anchor=x", {}, None, (200,)),
        ("pager fed _external and _scheme", "GET", "/?q=%E7%89%A9%E4%B8%9A&_external=1&_scheme=https", {}, None, (200,)),
        ("export k=²", "GET", "/lawyer/export?q=%E7%89%A9%E4%B8%9A&k=%C2%B2", {}, None, (400,)),
        ("as_of=20231201", "GET", "/api/v1/lookup?ref=%E6%85%88%E5%96%84%E6%B3%95%E7%AC%AC%E4%B8%80%E6%9D%A1"
         "&as_of=20231201", {}, None, (400,)),
        ("as_of ISO week date", "GET", "/api/v1/search?q=x&as_of=2023-W48-5", {}, None, (400,)),
        ("JSON nested 1,000 deep", "POST", "/api/v1/citecheck", js, b"[" * 1000 + b"]" * 1000, (400,)),
        ("JSON nested 100,000 deep", "POST", "/api/v1/citecheck", js, b'{"text":' + b"[" * 100000 + b"]" * 100000
         + b"}", (400,)),
        ("lone surrogate", "POST", "/api/v1/citecheck", js, b'{"text": "\\ud800\xe6\xb0\x91"}', (400,)),
        ("region as a list", "POST", "/api/v1/taskcheck", js,
         json.dumps({"tasks": ["调解民间纠纷"], "region": ["北京"]}).encode(), (400,)),
        ("region repeated in the query", "GET", "/api/v1/search?q=x&region=%E5%8C%97%E4%BA%AC&region=x", {}, None,
         (200, 400)),
        ("law filter of 60,000 characters", "GET", "/api/v1/search?q=x&law=" + "%E6%B3%95" * 60000, {}, None,
         (400, 414, 431)),
        ("laws?q= of 60,000 characters", "GET", "/api/v1/laws?q=" + "%E6%B3%95" * 60000, {}, None, (400, 414, 431)),
        ("unknown region", "GET", "/api/v1/search?q=x&region=%E7%81%AB%E6%98%9F", {}, None, (400,)),
        ("article that does not exist", "GET", "/api/v1/lookup?ref=%E6%B0%91%E6%B3%95%E5%85%B8%E7%AC%AC1500%E6%9D%A1",
         {}, None, (404,)),
        ("not an article reference", "GET", "/api/v1/lookup?ref=%E6%B0%91%E6%B3%95%E5%85%B8", {}, None, (400,)),
        ("cross-site POST (Origin)", "POST", "/api/v1/convention", {**js, "Origin": "http://evil.example"},
         json.dumps({"text": "第一条 居民应当爱护环境。"}).encode(), (403,)),
        ("cross-site POST (Sec-Fetch-Site)", "POST", "/api/v1/taskcheck", {**js, "Sec-Fetch-Site": "cross-site"},
         json.dumps({"tasks": ["调解民间纠纷"]}).encode(), (403,)),
        ("page POST without form token", "POST", "/staff/tasks", {"Content-Type": "application/x-www-form-urlencoded"},
         "tasks=调解".encode(), (400,)),
    ]


# ---- the server --------------------------------------------------------------------------------------------

def rss_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak(pid: int) -> None:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")   # resets VmHWM (Linux 4.0+)
    except OSError:
        pass


def send(port: int, method: str, path: str, headers: dict, body: bytes | None) -> tuple[int, dict | str, float]:
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=SECONDS + 30)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read().decode("utf-8", "replace")
        status = resp.status
    except (OSError, http.client.HTTPException) as exc:
        return 0, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0
    finally:
        conn.close()
    try:
        payload: dict | str = json.loads(raw)
    except ValueError:
        payload = raw
    return status, payload, time.perf_counter() - t0


def multipart(field: str, filename: str, data: bytes) -> tuple[dict, bytes]:
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}, head + data + f"\r\n--{boundary}--\r\n".encode()


def forged_host_held(port: int) -> bool:
    """A Host header naming another site appears in no redirect, API url or permalink."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=SECONDS)
    conn.request("GET", "/lawyer", headers={"Host": "evil.example"})
    resp = conn.getresponse()
    resp.read()
    location = resp.getheader("Location") or ""
    conn.close()
    status, found, _ = send(port, "GET", "/api/v1/search?q=%E4%B8%9A%E4%B8%BB&level=%E8%87%AA%E6%B2%BB%E8%A7%84%E7%BA%A6&k=1", {"Host": "evil.example"}, None)
    ids = [h["article_id"].replace("#", "%23") for h in found.get("hits", [])] if isinstance(found, dict) else []
    if status != 200 or not ids:
        return False
    art = send(port, "GET", f"/api/v1/articles/{ids[0]}", {"Host": "evil.example"}, None)[1]
    page = send(port, "GET", f"/a/{ids[0]}", {"Host": "evil.example"}, None)[1]
    return ("evil" not in location and location.startswith("/") and isinstance(art, dict)
            and "evil" not in art.get("url", "evil") and "evil.example" not in str(page))


def message_of(payload: dict | str) -> str:
    if isinstance(payload, dict):
        return (payload.get("error") or {}).get("message", "") if "error" in payload else "(answer)"
    text = re.sub(r"<[^>]+>", " ", payload.split("<main", 1)[-1])
    return re.sub(r"\s+", " ", text).strip()[:80]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8791)
    ap.add_argument("--keep", help="keep the KB in this folder")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="lawkb-probes-"))
    kb = work / "kb"
    env = {**os.environ, "LAWKB_OFFLINE": "1", "LAWKB_WEB_RATE_LIMIT": "0"}
    if not (kb / "kb.sqlite").exists():
        subprocess.run([*LAWKB, "ingest", str(REPO / "corpus" / "community"), "--kb", str(kb)], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    log = (work / "server.log").open("w")
    server = subprocess.Popen([*LAWKB, "serve", "--kb", str(kb), "--port", str(args.port), "--no-embed"], env=env,
                              stdout=log, stderr=log, text=True)
    try:
        for _ in range(120):
            if send(args.port, "GET", "/healthz", {}, None)[0] == 200:
                break
            time.sleep(0.5)
        else:
            print("server did not start:", (work / "server.log").read_text()[-2000:])
            return 1
        rows = []
        probes = [(n, "POST", ep, *multipart(f, fn, d), ok) for n, ep, f, d, fn, ok in upload_probes()]
        probes += [(n, m, p, h, b, ok) for n, m, p, h, b, ok in request_probes()]
        for name, method, path, headers, body, ok in probes:
            base = rss_mb(server.pid, "VmRSS")
            reset_peak(server.pid)
            status, payload, secs = send(args.port, method, path, headers, body)
            peak = rss_mb(server.pid, "VmHWM") - base
            msg = message_of(payload)
            code = payload.get("error", {}).get("code", "") if isinstance(payload, dict) else ""
            chinese = status < 400 or bool(CJK.search(msg))
            held = status in ok and secs < SECONDS and peak < PEAK_MB and chinese and server.poll() is None
            rows.append((name, status, code, secs, peak, held, msg))
        print(f"{'probe':46} {'status':>6} {'code':18} {'s':>6} {'+MB':>6}  held  message")
        for name, status, code, secs, peak, held, msg in rows:
            print(f"{name[:46]:46} {status:>6} {code[:18]:18} {secs:6.2f} {peak:6.0f}  {'yes ' if held else 'NO  '}  "
                  f"{msg[:60]}")
        failed = [r for r in rows if not r[5]]
        forged = forged_host_held(args.port)
        tracebacks = (work / "server.log").read_text().count("Traceback")
        print(f"\n{len(rows) - len(failed)} of {len(rows)} probes held; forged Host kept out of redirects and "
              f"links: {forged}; tracebacks in the server log: {tracebacks}; server still up: {server.poll() is None}")
        return 1 if failed or tracebacks or not forged else 0
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
