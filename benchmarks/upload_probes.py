"""Hostile uploads against the site: each probe posted to its endpoint in a fresh process.

    .venv/bin/python benchmarks/upload_probes.py [--only NAME ...] [--json]

Each probe is a real file built here (XLSX and DOCX written part by part with zipfile, so they can be as
broken as an attacker makes them): declared dimensions far beyond the cells, a million rows or
paragraphs, entity expansion, external entities, deep nesting, huge cells and shared strings, zip bombs,
a 300-character name, gigantic and countless lines, binary junk. A child process per probe builds the
site (Flask test client over an empty embedded KB, lexical search), reads the probe from disk, notes its
peak resident memory, posts the file, and reports the status, the error code, the seconds the answer took
and the growth of peak memory during the request
(the peak resident set, reset just before the post, less the resident set then). The goal: a 4xx with a Chinese message for
each probe (or a 200 where the file is in fact fine), never a 500, within 30 s and 400 MB.

tests/test_upload_limits.py loads PROBES from here, so the test suite and this table use the same files.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
WORD_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"

# ---- building files -----------------------------------------------------------------------------------


def zip_parts(parts: dict[str, str | bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method, compresslevel=9) as zf:
        for name, body in parts.items():
            zf.writestr(name, body)
    return buf.getvalue()


def content_types(overrides: dict[str, str]) -> str:
    """[Content_Types].xml as Office writes it, so openpyxl and python-docx open the files too."""
    parts = "".join(f'<Override PartName="{name}" ContentType="application/vnd.openxmlformats-officedocument.'
                    f'{kind}+xml"/>' for name, kind in overrides.items())
    return ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>' + parts + "</Types>")


def xlsx(sheet_data: str, *, strings: str | None = None, head: str = "", sheets: int = 1,
         prolog: str = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>') -> bytes:
    """A workbook whose first sheet's XML is `prolog` + <worksheet>`head`<sheetData>`sheet_data`</…>."""
    sheet_list = "".join(f'<sheet name="S{i}" sheetId="{i}" r:id="rId{i}"/>' for i in range(1, sheets + 1))
    rels = "".join(f'<Relationship Id="rId{i}" Type="{REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
                   for i in range(1, sheets + 1))
    types = {"/xl/workbook.xml": "spreadsheetml.sheet.main", "/xl/worksheets/sheet1.xml": "spreadsheetml.worksheet"}
    if strings is not None:
        rels += f'<Relationship Id="rIdS" Type="{REL_NS}/sharedStrings" Target="sharedStrings.xml"/>'
        types["/xl/sharedStrings.xml"] = "spreadsheetml.sharedStrings"
    parts: dict[str, str | bytes] = {
        "[Content_Types].xml": content_types(types),
        "_rels/.rels": f'<Relationships xmlns="{PKG_REL}"><Relationship Id="rId1" Type="{OFFICE_DOC}" '
                       'Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{SHEET_NS}" xmlns:r="{REL_NS}"><sheets>{sheet_list}</sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{PKG_REL}">{rels}</Relationships>',
        "xl/worksheets/sheet1.xml": f'{prolog}<worksheet xmlns="{SHEET_NS}">{head}<sheetData>{sheet_data}'
                                    '</sheetData></worksheet>',
    }
    if strings is not None:
        parts["xl/sharedStrings.xml"] = strings
    return zip_parts(parts)


def sst(body: str, prolog: str = "") -> str:
    return f'{prolog}<sst xmlns="{SHEET_NS}">{body}</sst>'


def docx(body: str, prolog: str = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>') -> bytes:
    return zip_parts({
        "[Content_Types].xml": content_types({"/word/document.xml": "wordprocessingml.document.main"}),
        "_rels/.rels": f'<Relationships xmlns="{PKG_REL}"><Relationship Id="rId1" Type="{OFFICE_DOC}" '
                       'Target="word/document.xml"/></Relationships>',
        "word/document.xml": f'{prolog}<w:document xmlns:w="{WORD_NS}"><w:body>{body}</w:body></w:document>',
    })


def inline(text: str) -> str:
    return f'<c t="inlineStr"><is><t>{text}</t></is></c>'


LAUGHS = ('<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
          + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(2, 10)) + "]>")
XXE = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'


def _random_cjk(n: int, seed: int) -> str:
    rnd = random.Random(seed)
    return "".join(chr(rnd.randrange(0x4E00, 0x9FA5)) for _ in range(n))


# name -> (endpoint, file name, expected status, expected error code, builder). Endpoint "taskcheck" reads
# a table, "convention" a document. A 200 is expected where the file, however built, holds a fine list.
PROBES: dict[str, tuple[str, str, int, str, Callable[[], bytes]]] = {
    # The issue's own probes.
    "xlsx declares A1:XFD200000, 2 cells": ("taskcheck", "dim.xlsx", 413, "too_many_columns", lambda: xlsx(
        '<row r="1">' + inline("任务").replace("<c ", '<c r="A1" ') + '</row><row r="200000">'
        + inline("协助开展征兵工作").replace("<c ", '<c r="XFD200000" ') + "</row>",
        head='<dimension ref="A1:XFD200000"/>')),
    "xlsx 1,000,000 rows": ("taskcheck", "rows.xlsx", 413, "too_many_tasks", lambda: xlsx(
        "".join(f"<row><c><v>{i}</v></c></row>" for i in range(1_000_000)))),
    "docx 1,000,000 paragraphs": ("convention", "paras.docx", 413, "too_many_paragraphs", lambda: docx(
        "".join(f"<w:p><w:r><w:t>{i}</w:t></w:r></w:p>" for i in range(1_000_000)))),
    "xlsx entity expansion in sheet": ("taskcheck", "laughs.xlsx", 400, "xml_doctype", lambda: xlsx(
        f'<row r="1">{inline("&lol9;")}</row>', prolog='<?xml version="1.0"?>' + LAUGHS.replace("lolz", "worksheet"))),
    "xlsx entity expansion in sharedStrings": ("taskcheck", "laughs2.xlsx", 400, "xml_doctype", lambda: xlsx(
        '<row r="1"><c t="s"><v>0</v></c></row>', strings=sst("<si><t>&lol9;</t></si>", LAUGHS.replace("lolz", "sst")))),
    "xlsx external entity": ("taskcheck", "xxe.xlsx", 400, "xml_doctype", lambda: xlsx(
        f'<row r="1">{inline("&e;")}</row>', prolog=XXE.replace("x [", "worksheet ["))),
    "xlsx bad shared-string index": ("taskcheck", "badidx.xlsx", 400, "bad_shared_string", lambda: xlsx(
        '<row r="1"><c t="s"><v>0</v></c></row><row r="2"><c t="s"><v>7</v></c></row>',
        strings=sst("<si><t>任务</t></si>"))),
    "xlsx shared-string index not a number": ("taskcheck", "badidx2.xlsx", 400, "bad_shared_string", lambda: xlsx(
        '<row r="1"><c t="s"><v>-1</v></c></row>', strings=sst("<si><t>任务</t></si>"))),
    "zip bomb (256 MB of zeros)": ("taskcheck", "bomb.xlsx", 413, "member_too_large", lambda: _zero_bomb()),
    "zip that understates a part's size": ("taskcheck", "liar.xlsx", 400, "unreadable", lambda: _liar()),
    "bzip2 part that understates its size": ("taskcheck", "bz2.xlsx", 400, "compression", lambda: _liar(bz2=True)),
    "300-character file name": ("taskcheck", "任" * 296 + ".csv", 400, "filename_too_long", lambda: "任务\n调解邻里纠纷\n".encode()),
    "csv one 4.9 MB line": ("taskcheck", "line.csv", 413, "line_too_long", lambda: b"a" * (4_900_000) + b"\n"),
    "csv 4,000,000 empty lines": ("taskcheck", "empty.csv", 413, "too_many_lines", lambda: b"\n" * 4_000_000),
    "non-UTF-8 junk": ("taskcheck", "junk.csv", 400, "encoding", lambda: random.Random(1).randbytes(2_000_000)),
    # Held-out kinds of the same attacks.
    "xlsx sharedStrings of 600,000, the last used": ("taskcheck", "sst.xlsx", 413, "too_many_shared_strings", lambda: xlsx(
        '<row r="1"><c t="s"><v>599999</v></c></row>',
        strings=sst("".join(f"<si><t>{i}</t></si>" for i in range(600_000))))),
    "xlsx sharedStrings of 1,000,000, the 400,000th used": ("taskcheck", "sst2.xlsx", 200, "", lambda: xlsx(
        '<row r="1"><c t="s"><v>399999</v></c></row>',
        strings=sst("".join(f"<si><t>{i}</t></si>" for i in range(1_000_000))))),
    "xlsx 1,000,000 empty rows": ("taskcheck", "emptyrows.xlsx", 400, "no_tasks", lambda: xlsx(
        "".join(f'<row r="{i}"/>' for i in range(1, 1_000_001)))),
    "xlsx 2 MB single cell": ("taskcheck", "cell.xlsx", 413, "cell_too_long", lambda: xlsx(f'<row r="1">{inline(_random_cjk(700_000, 2))}</row>')),
    "xlsx 40,000-character cell": ("taskcheck", "cell2.xlsx", 413, "cell_too_long", lambda: xlsx(
        f'<row r="1">{inline(_random_cjk(40_000, 3))}</row>')),
    "xlsx inline strings in 16,384 columns": ("taskcheck", "wide.xlsx", 413, "too_many_columns", lambda: xlsx(
        '<row r="1">' + inline("任务") * 16_384 + "</row>")),
    "xlsx 1,500 sheets": ("taskcheck", "sheets.xlsx", 200, "", lambda: xlsx(
        f'<row r="1">{inline("任务")}</row><row r="2">{inline("调解邻里纠纷")}</row>', sheets=1500)),
    "xlsx nested 100,000 deep": ("taskcheck", "deep.xlsx", 413, "too_deep", lambda: xlsx("<x>" * 100_000 + "</x>" * 100_000)),
    "xlsx 200,000 attributes on one cell": ("taskcheck", "attrs.xlsx", 413, "span_too_large", lambda: xlsx(
        '<row r="1"><c ' + " ".join(f'a{i}="{i}"' for i in range(200_000)) + "/></row>")),
    "xlsx 300,000 comments in a row": ("taskcheck", "comments.xlsx", 200, "", lambda: xlsx(
        '<row r="1">' + "".join(f"<!--{random.Random(i).getrandbits(40):x}-->" for i in range(300_000))
        + inline("调解邻里纠纷") + "</row>")),
    "xlsx 2,500 zip entries": ("taskcheck", "entries.xlsx", 413, "too_many_entries", lambda: zip_parts(
        {f"xl/media/{i}.bin": b"" for i in range(2500)})),
    "xlsx not a zip": ("taskcheck", "fake.xlsx", 400, "bad_zip", lambda: b"PK\x03\x04 not really a workbook"),
    "docx entity expansion": ("convention", "laughs.docx", 400, "xml_doctype", lambda: docx(
        "<w:p><w:r><w:t>&lol9;</w:t></w:r></w:p>", prolog=LAUGHS.replace("lolz", "w:document"))),
    "docx external entity": ("convention", "xxe.docx", 400, "xml_doctype", lambda: docx(
        "<w:p><w:r><w:t>&e;</w:t></w:r></w:p>", prolog=XXE.replace("x [", "w:document ["))),
    "docx one paragraph of 1,000,000 runs": ("convention", "runs.docx", 413, "too_many_chars", lambda: docx(
        "<w:p>" + "".join(f"<w:r><w:t>{i}</w:t></w:r>" for i in range(1_000_000)) + "</w:p>")),
    "csv unclosed quote over 2,000,000 lines": ("taskcheck", "quote.csv", 413, "cell_too_long", lambda: b'"' + b"a\n" * 2_000_000),
    "csv 1,000 tasks": ("taskcheck", "many.csv", 413, "too_many_tasks", lambda: "".join(f"任务{i}\n" for i in range(1000)).encode()),
    "docx 1,000,000 empty paragraphs": ("convention", "empty.docx", 413, "ratio", lambda: docx("<w:p/>" * 1_000_000)),
    "docx not a zip": ("convention", "fake.docx", 400, "bad_zip", lambda: b"PK\x03\x04 not really a document"),
    "txt 5 MB of text": ("convention", "big.txt", 413, "too_many_chars", lambda: _random_cjk(1_600_000, 4).encode()),
    "txt 4,000,000 lines": ("convention", "lines.txt", 413, "too_many_paragraphs", lambda: b"\n" * 4_000_000),
    "txt binary junk": ("convention", "junk.txt", 400, "encoding", lambda: random.Random(5).randbytes(2_000_000)),
}


def _zero_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            block = b"\0" * (1 << 20)
            for _ in range(256):
                fh.write(block)
    return buf.getvalue()


def _liar(bz2: bool = False) -> bytes:
    """A workbook whose sheet inflates to 30 MB (deflate) or 300 MB (bzip2, spaces) while its headers say
    1,000 bytes, so that no ratio shows."""
    if bz2:
        buf = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(xlsx(""))) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_BZIP2) as zf:
            for name in src.namelist():
                if name != "xl/worksheets/sheet1.xml":
                    zf.writestr(name, src.read(name))
            with zf.open("xl/worksheets/sheet1.xml", "w") as fh:
                for _ in range(300):
                    fh.write(b" " * (1 << 20))
        data = bytearray(buf.getvalue())
    else:
        data = bytearray(xlsx("".join(f"<row><c><v>{i}</v></c></row>" for i in range(1_000_000))))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    data[info.header_offset + 22:info.header_offset + 26] = (1000).to_bytes(4, "little")
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:   # the central directory entry of that member: its name follows the 46-byte header
        name_len = int.from_bytes(data[pos + 28:pos + 30], "little")
        if bytes(data[pos + 46:pos + 46 + name_len]) == b"xl/worksheets/sheet1.xml":
            data[pos + 24:pos + 28] = (1000).to_bytes(4, "little")
        pos = data.find(b"PK\x01\x02", pos + 4)
    return bytes(data)


# ---- running one probe in a fresh process -------------------------------------------------------------

CHILD = r"""
import io, json, sys, tempfile, time
from lawkb.search import open_kb, open_searcher
from lawkb.web import create_app

endpoint, name, path = sys.argv[1:4]
kb = open_kb(tempfile.mkdtemp(prefix="probe-kb-"), create=True)
app = create_app({"KB": kb, "SEARCHER": open_searcher(kb, use_model=False), "RATE_LIMIT_PER_MINUTE": 0,
                  "QUERY_LOG": "", "ADMIN_TOKEN": ""})
client = app.test_client()
client.get("/healthz")
data = open(path, "rb").read()
def status(key):
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(key))
# The peak is reset now (Linux: clear_refs 5 resets VmHWM), so imports and setup do not hide the request.
open("/proc/self/clear_refs", "w").write("5")
before = status("VmRSS:")
t0 = time.perf_counter()
resp = client.post(f"/api/v1/{endpoint}", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")
seconds = time.perf_counter() - t0
after = status("VmHWM:")
body = resp.get_json(silent=True) or {}
err = body.get("error") or {}
print(json.dumps({"status": resp.status_code, "code": err.get("code", ""), "message": err.get("message", ""),
                  "seconds": seconds, "mb": (after - before) / 1024}, ensure_ascii=False))
"""


def run_probe(name: str, folder: Path, timeout: float = 120) -> dict:
    """Build the probe, post it from a fresh process, and return what came back with its cost."""
    endpoint, filename, status, code, build = PROBES[name]
    path = folder / f"probe{list(PROBES).index(name)}"
    path.write_bytes(build())
    row = {"probe": name, "endpoint": endpoint, "bytes": path.stat().st_size, "expected": f"{status} {code}".strip(),
           "status": None, "code": "", "message": "", "seconds": float("nan"), "mb": float("nan")}
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, endpoint, filename, str(path)], capture_output=True,
                              text=True, timeout=timeout, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {**row, "status": "timeout", "seconds": timeout}
    finally:
        path.unlink()
    if proc.returncode != 0:
        return {**row, "status": f"crash {proc.returncode}", "message": proc.stderr.strip()[-300:]}
    return {**row, **json.loads(proc.stdout.strip().splitlines()[-1])}


def acceptable(row: dict) -> bool:
    """The goal for every probe: the expected answer (never a 500), within 30 s and 400 MB."""
    return (f"{row['status']} {row['code']}".strip() == row["expected"] and row["seconds"] < 30
            and row["mb"] < 400)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="probe names (substrings) to run")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = ap.parse_args()
    names = [n for n in PROBES if not args.only or any(o in n for o in args.only)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if not args.json:
            print(f"{'probe':52} {'endpoint':10} {'upload':>7} {'status':>6} {'code':24} {'seconds':>7} {'MB':>5}")
        for name in names:
            row = run_probe(name, Path(tmp))
            rows.append(row)
            if not args.json:
                flag = "" if acceptable(row) else f"  <- expected {row['expected']}"
                print(f"{name:52} {row['endpoint']:10} {row['bytes'] / 1e6:6.2f}M {row['status']!s:>6} "
                      f"{row['code']:24} {row['seconds']:7.2f} {row['mb']:5.0f}{flag}", flush=True)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    bad = [r["probe"] for r in rows if not acceptable(r)]
    print(f"{len(rows) - len(bad)} of {len(rows)} probes got the expected answer within 30 s and 400 MB"
          + (f"; not: {', '.join(bad)}" if bad else ""))


if __name__ == "__main__":
    main()
