"""Hostile files at ingest, end to end: builds a corpus of some 400 hostile files in a temporary folder
(named pipes, links to /dev/zero and /dev/urandom, link loops, dangling links, sockets, zip bombs as
.docx, forged sizes, XML entity bombs, Word files with 100,000 paragraphs and pathological styles, HTML
nested 50,000 deep or with huge attributes, every encoding trap, truncated / encrypted / image-only /
bomb PDFs, an oversized file, long and unprintable names, a folder past PATH_MAX) plus a few good law
texts, runs `lawkb ingest` on it into a fresh knowledge base in a child process, and prints what held.

    python benchmarks/hostile_corpus.py [--keep DIR] [--workers N]

Checks: the whole ingest takes under 10 minutes; every hostile file is named in the report with a
reason, or was ingested where it is a legitimate if odd file; no traceback in the output; every good
file is in the knowledge base; and a `kill -9` of a second ingest, at three moments, leaves the
knowledge base exactly as the first one wrote it, with no parse worker left running. The parse
budgets are the defaults (LAWKB_INGEST_PARSE_SECONDS, LAWKB_INGEST_PARSE_MB) unless set.
"""

from __future__ import annotations

import argparse
import codecs
import hashlib
import io
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAWKB = [sys.executable, "-m", "lawkb.cli"]
LIMIT_S = 600
# either: a legitimate if odd file may go in; hidden: a dot file, passed over unread and unreported


class Corpus:
    """The files made, each with its family and what should become of it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries: list[tuple[Path, str, str]] = []   # (path, family, expect)
        self.not_made: list[tuple[str, str]] = []        # (what, why) for what the file system refused

    def add(self, family: str, name: str | bytes, expect: str, data: bytes | None = None, *,
            folder: str = "") -> Path | None:
        base = self.root / folder if folder else self.root
        base.mkdir(parents=True, exist_ok=True)
        path = Path(os.fsdecode(os.path.join(os.fsencode(base), name if isinstance(name, bytes) else
                                             os.fsencode(name))))
        try:
            if data is not None:
                path.write_bytes(data)
        except OSError as exc:
            self.not_made.append((f"{family}: {name!r}", exc.strerror or str(exc)))
            return None
        self.entries.append((path, family, expect))
        return path

    def special(self, family: str, name: str, make) -> None:
        path = self.root / family.split(":")[0] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        make(path)
        self.entries.append((path, family, "refused"))


# ---- law texts --------------------------------------------------------------------------------------


def law_text(n: int) -> str:
    """A small law in LawRefBook Markdown, different for each n (so none is a duplicate of another)."""
    arts = "\n\n".join(f"第{c}条　业主大会应当依照本条例第{n}号规定履行职责，维护全体业主在物业管理活动中的合法权益。"
                       for c in "一二三四五六")
    return f"# 某某市第{n}号物业服务管理条例\n\n<!-- INFO END -->\n\n{arts}\n"


def law_html(body_wrap: tuple[str, str] = ("", ""), head: str = "") -> str:
    arts = "".join(f"<p>第{c}条　业主大会应当依照本条例的规定履行职责，维护全体业主在物业管理活动中的合法权益，"
                   "接受业主的监督。</p>" for c in "一二三四五六七八")
    return (f"<html><head>{head}<title>某某市物业服务管理条例</title></head><body><h1>某某市物业服务管理条例</h1>"
            f"{body_wrap[0]}{arts}{body_wrap[1]}</body></html>")


# ---- OOXML written by hand -------------------------------------------------------------------------

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
CT = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/'
      'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
      'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/'
      'document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
      '<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.'
      'wordprocessingml.styles+xml"/><Override PartName="/word/numbering.xml" ContentType="application/'
      'vnd.openxmlformats-officedocument.wordprocessingml.numbering+xml"/></Types>')
RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
        '</Relationships>')
DOC_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship '
            'Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/numbering" '
            'Target="numbering.xml"/></Relationships>')
XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'


def para(text: str, style: str | None = None) -> str:
    ppr = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f"<w:p>{ppr}<w:r><w:t>{text}</w:t></w:r></w:p>"


LAW_PARAS = [para("某某市物业服务管理条例")] + [
    para(f"第{c}条　业主大会应当依照本条例的规定履行职责，维护全体业主在物业管理活动中的合法权益。") for c in "一二三四五"]


def docx(paragraphs: list[str] | None = None, *, styles: str = "", numbering: str = "", prolog: str = "",
         tail: bytes = b"", parts: dict[str, bytes] | None = None, document: bytes | None = None,
         compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    if document is None:
        body = "".join(paragraphs if paragraphs is not None else LAW_PARAS)
        document = f"{XML}{prolog}<w:document {W}><w:body>{body}</w:body></w:document>".encode() + tail
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        zf.writestr("[Content_Types].xml", CT)
        zf.writestr("_rels/.rels", RELS)
        zf.writestr("word/_rels/document.xml.rels", DOC_RELS)
        zf.writestr("word/document.xml", document)
        zf.writestr("word/styles.xml", styles or f"{XML}<w:styles {W}/>")
        zf.writestr("word/numbering.xml", numbering or f"{XML}<w:numbering {W}/>")
        for name, data in (parts or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def zeros_member(size: int) -> bytes:
    """A ZIP holding word/document.xml: a real document followed by size bytes of blanks (a ratio bomb)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in (("[Content_Types].xml", CT), ("_rels/.rels", RELS),
                           ("word/_rels/document.xml.rels", DOC_RELS)):
            zf.writestr(name, data)
        with zf.open("word/document.xml", "w", force_zip64=True) as fh:
            fh.write(f"{XML}<w:document {W}><w:body>{''.join(LAW_PARAS)}</w:body></w:document>".encode())
            chunk = b" " * (1 << 20)
            for _ in range(size >> 20):
                fh.write(chunk)
    return buf.getvalue()


def forge_size(data: bytes, member: str, size: int) -> bytes:
    """Rewrite the uncompressed size a member declares (local and central headers): what a hand-made bomb
    claims, which is all a pre-check can see."""
    out = bytearray(data)
    name = member.encode()
    for sig, off_size, off_name_len, off_name in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        pos = 0
        while (pos := out.find(sig, pos)) >= 0:
            n = int.from_bytes(out[pos + off_name_len:pos + off_name_len + 2], "little")
            if out[pos + off_name:pos + off_name + n] == name:
                out[pos + off_size:pos + off_size + 4] = size.to_bytes(4, "little")
            pos += 4
    return bytes(out)


def laughs(depth: int = 10, width: int = 10) -> str:
    ents = '<!ENTITY l0 "lol">' + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * width}">' for i in range(1, depth))
    return f"<!DOCTYPE bomb [{ents}]>"


# ---- PDF written by hand ---------------------------------------------------------------------------


def pdf(content: bytes = b"BT /F1 12 Tf 72 720 Td (Hello) Tj ET", *, flate: bytes | None = None,
        encrypt: bool = False, pages: bool = True) -> bytes:
    """A one-page PDF with correct offsets; flate: an already compressed content stream instead."""
    stream = flate if flate is not None else content
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>" if pages else b"<< /Type /Pages /Kids [] /Count 0 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d%s >>\nstream\n" % (len(stream), b" /Filter /FlateDecode" if flate is not None else b"")
            + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    trailer = b""
    if encrypt:
        objs.append(b"<< /Filter /Standard /V 1 /R 2 /O <" + b"ab" * 32 + b"> /U <" + b"cd" * 32 + b"> /P -4 >>")
        trailer = b"/Encrypt 6 0 R /ID [<" + b"01" * 16 + b"><" + b"01" * 16 + b">] "
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, trailer, xref)
    return bytes(out)


def deflated(data_size: int, byte: bytes = b"\0") -> bytes:
    comp = zlib.compressobj(9)
    chunk = byte * (1 << 20)
    return b"".join(comp.compress(chunk) for _ in range(data_size >> 20)) + comp.flush()


# ---- the families -----------------------------------------------------------------------------------


def special_files(c: Corpus) -> None:
    """Things that are not regular files: each must be refused with its kind, never opened and waited on."""
    exts = ["md", "txt", "html", "pdf", "docx"]
    for i in range(30):
        c.special("special: named pipe", f"pipe{i}.{exts[i % 5]}", os.mkfifo)
    devices = [d for d in ("/dev/zero", "/dev/urandom", "/dev/null", "/dev/full", "/dev/random") if Path(d).exists()]
    for i in range(30):
        target = devices[i % len(devices)]
        c.special("special: link to a device", f"{Path(target).name}{i}.{exts[i % 5]}",
                  lambda p, t=target: p.symlink_to(t))
    for i in range(5):
        fifo = c.root / "special" / f"target{i}.fifo"
        fifo.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(fifo)
        c.entries.append((fifo, "special: named pipe", "refused"))
        c.special("special: link to a pipe", f"to_pipe{i}.md", lambda p, t=fifo: p.symlink_to(t))
    for i in range(10):
        def bind(p: Path) -> None:
            here = os.getcwd()
            os.chdir(p.parent)  # socket paths are limited to 108 bytes: bind relative to the folder
            try:
                s = socket.socket(socket.AF_UNIX)
                s.bind(p.name)
                s.close()
            finally:
                os.chdir(here)
        c.special("special: socket", f"sock{i}.{exts[i % 5]}", bind)


def links(c: Corpus) -> None:
    d = c.root / "links"
    d.mkdir()
    for i in range(8):
        a, b = d / f"loop{i}_a.md", d / f"loop{i}_b.md"
        a.symlink_to(b.name)
        b.symlink_to(a.name)
        c.entries += [(a, "link loop", "refused"), (b, "link loop", "refused")]
    for i in range(8):
        s = d / f"self{i}.txt"
        s.symlink_to(s.name)
        c.entries.append((s, "link loop", "refused"))
    for i in range(3):
        x, y, z = (d / f"ring{i}_{k}.html" for k in "xyz")
        x.symlink_to(y.name)
        y.symlink_to(z.name)
        z.symlink_to(x.name)
        c.entries += [(p, "link loop", "refused") for p in (x, y, z)]
    for i in range(25):
        p = d / f"dangling{i}.{'md' if i % 2 else 'docx'}"
        p.symlink_to(f"/nonexistent/{i}/law.md" if i % 3 else f"gone{i}.md")
        c.entries.append((p, "dangling link", "refused"))
    (d / "up").symlink_to("..")  # a link to a folder above: never followed
    c.entries.append((d / "up", "link to a folder", "refused"))


def names(c: Corpus) -> None:
    junk = "今天天气很好，我们去公园散步，然后回家吃饭。\n".encode() * 5
    odd = ["line\nbreak.md", "two\n\nlines.txt", "tab\there.md", "carriage\rreturn.md", "-rf.md", "--help.txt",
           "   .md", "back\\slash.md", "star*.md", "quote'\".md", "rtl\u202egnp.md", "emoji📜法规.md",
           "esc\x1b[31mred.md", "bell\x07.txt", "FAILED fake.md: injected reason.md", "colon: in name.md",
           "percent%s%n.md", "nbsp\u00a0name.md", "zero\u200bwidth.md", "fullwidth／slash.md",
           "semicolon;rm -rf ~.md", "$(reboot).md", "`id`.md"]
    # Hidden files are passed over without a word, by design (.DS_Store, .git): not named in the report.
    c.add("hidden file (passed over)", "..md", "hidden", junk, folder="names")
    c.add("hidden file (passed over)", ".secret.md", "hidden", junk, folder="names")
    for i, name in enumerate(odd):
        # half junk (refused), half a small law each (ingested under its odd name)
        c.add("odd file name", name, "ingested" if i % 2 else "refused",
              law_text(100 + i).encode() if i % 2 else junk + bytes([65 + i % 26]), folder="names")
    for i, raw in enumerate([b"gbk\xce\xef\xd2\xb5.md", b"latin1-\xe9t\xe9.md", b"\xff\xfe.txt", b"trail\x80.md"]):
        c.add("name not UTF-8", raw, "refused", law_text(200 + i).encode(), folder="names")
    for i in range(6):
        stem = "很长的文件名" * 40
        name = stem[: (250 - 3 - i) // 3] + ".md"  # up to 255 bytes, the most ext4 allows
        c.add("255-byte name", name, "ingested" if i % 2 else "refused",
              law_text(300 + i).encode() if i % 2 else junk, folder=f"long{i}")
    for i in range(2):  # a 300-character name is more than any Linux file system takes: it cannot exist
        c.add("300-character name", "名" * 100 + "x" * (200 + i) + ".md", "refused", junk, folder="names")
    c.add("skipped by name", "README.md", "refused", b"# read me\n", folder="names")
    c.add("skipped by name", "_index.md", "refused", b"# index\n", folder="names")


def deep_folder(c: Corpus) -> None:
    """A file below more than PATH_MAX (4096 bytes) of folders: made with relative steps, reported as an
    unreadable folder by the walk."""
    base = c.root / "deep"
    base.mkdir()
    fd = os.open(base, os.O_RDONLY)
    part = "层" * 80  # 240 bytes
    parts = []
    try:
        for _ in range(20):
            os.mkdir(part, dir_fd=fd)
            new = os.open(part, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = new
            parts.append(part)
        leaf = os.open("law.md", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(leaf, law_text(400).encode())
        os.close(leaf)
    finally:
        os.close(fd)
    c.entries.append((base.joinpath(*parts, "law.md"), "path past PATH_MAX", "refused"))


def encodings(c: Corpus) -> None:
    for i in range(2):
        t = law_text(500 + i)
        c.add("encoding: legitimate", f"utf16le_bom{i}.txt", "ingested", codecs.BOM_UTF16_LE + t.encode("utf-16-le"))
        c.add("encoding: legitimate", f"utf16be_bom{i}.md", "ingested", codecs.BOM_UTF16_BE + t.encode("utf-16-be"))
        c.add("encoding: legitimate", f"utf8_bom{i}.md", "ingested", codecs.BOM_UTF8 + t.encode())
        c.add("encoding: legitimate", f"gb18030_{i}.txt", "ingested", t.encode("gb18030"))
        c.add("encoding: legitimate", f"gbk_{i}.md", "ingested", law_text(510 + i).encode("gbk"))
        c.add("encoding: trap", f"utf16le_nobom{i}.txt", "refused", t.encode("utf-16-le"))
        c.add("encoding: trap", f"utf16be_nobom{i}.md", "refused", t.encode("utf-16-be"))
        c.add("encoding: trap", f"utf32_bom{i}.txt", "either", t.encode("utf-32"))
        c.add("encoding: trap", f"big5_{i}.txt", "either", law_text(520 + i).encode("big5", "replace"))
        c.add("encoding: trap", f"shift_jis{i}.txt", "either", "第一条　日本語の文章です。\n".encode("shift_jis") * 40)
        c.add("encoding: trap", f"mixed{i}.txt", "either", t.encode()[:200] + law_text(530 + i).encode("gbk"))
        c.add("encoding: trap", f"nul_head{i}.md", "refused", b"\0" + t.encode())
        c.add("encoding: trap", f"nul_late{i}.md", "either", t.encode() * 30 + b"\0\0\0" + t.encode())
        c.add("encoding: trap", f"truncated_utf8_{i}.md", "refused", t.rstrip().encode()[:-1 - i])
        c.add("encoding: trap", f"surrogates{i}.txt", "either", t.encode() + b"\xed\xa0\x80\xed\xb0\x80")
        c.add("encoding: trap", f"overlong{i}.txt", "either", t.encode() + b"\xc0\xaf\xe0\x80\xaf")
        c.add("encoding: trap", f"latin1_{i}.txt", "either", "Loi n° 1 - état civil é à è\n".encode("latin-1") * 50)
        c.add("encoding: trap", f"bom_only{i}.md", "refused", codecs.BOM_UTF8 if i else codecs.BOM_UTF16_LE)
        c.add("encoding: trap", f"bom_bad_utf16_{i}.txt", "refused", codecs.BOM_UTF16_LE + b"\x00\xd8" * 3 + b"a")


def junk(c: Corpus) -> None:
    rnd = random.Random(16)
    exts = ["txt", "md", "html", "htm", "pdf", "docx"]
    for i in range(40):
        data = rnd.randbytes(rnd.choice([1, 7, 512, 4096, 65536, 1 << 20]))
        if i % 3 == 0:
            data = bytes(b or 1 for b in data)  # no NUL: gets past the binary check, into the decoders
        c.add("binary junk", f"junk{i}.{exts[i % 6]}", "either" if i % 3 == 0 else "refused", data, folder="junk")
    for name, data in [("elf.md", b"\x7fELF\x02\x01\x01" + bytes(200)),
                       ("png.txt", b"\x89PNG\r\n\x1a\n" + bytes(200)),
                       ("gzip.md", zlib.compress(b"x" * 1000)), ("zip.txt", docx()),
                       ("sqlite.md", b"SQLite format 3\0" + bytes(500)), ("exe.txt", b"MZ\x90\x00" + bytes(300))]:
        c.add("binary junk", name, "either", data, folder="junk")
    for ext in exts + ["json"]:
        c.add("empty file", f"empty.{ext}", "refused", b"", folder="empty")
    for i, ws in enumerate([b"   ", b"\n\n\n", "\u3000\u3000\n".encode(), b"\t \r\n" * 1000]):
        c.add("empty file", f"blank{i}.md", "refused", ws, folder="empty")
    c.add("empty file", "one_byte.txt", "refused", b"x", folder="empty")
    c.add("empty file", "one_cjk.md", "refused", "法".encode(), folder="empty")


def text_structure(c: Corpus) -> None:
    """Files whose size is fine and whose bytes decode, but whose shape once sent a reader quadratic."""
    t = law_text(600)
    c.add("text structure", "one_line_10mb.txt", "either", ("无标点的很长的一行文字" * 350_000).encode())
    c.add("text structure", "million_blank_lines.md", "either", t.encode() + b"\n" * 1_000_000)
    c.add("text structure", "brackets.md", "either", t.encode() + b"[" * 5_000_000 + b"\n")
    c.add("text structure", "comments.md", "either", t.encode() + b"<!--" * 2_000_000 + b"\n")
    c.add("text structure", "bold.md", "either", t.encode() + b"**x" * 2_000_000 + b"\n")
    c.add("text structure", "links.md", "either", t.encode() + b"[a](" * 2_000_000 + b"\n")
    wrapped = "\n".join(["这是一个很长的没有标点的硬换行段落中的一行文字内容"] * 400_000)
    c.add("text structure", "endless_paragraph.txt", "either", ("第一条　" + wrapped).encode())
    c.add("text structure", "many_articles.txt", "ingested",
          "\n".join(f"第{i}条　本条例第{i}项规定。" for i in range(1, 100_001)).encode())


def zips(c: Corpus) -> None:
    f = "docx bomb"
    for mib in (2, 4, 8, 16, 32, 48, 64, 90):
        c.add(f, f"ratio_bomb_{mib}mib.docx", "refused", zeros_member(mib << 20), folder="docx")
    good = docx()
    for size in (0xFFFFFFF0, 3 << 30, 500 << 20, 150 << 20):
        c.add(f, f"declares_{size >> 20}mib.docx", "refused", forge_size(good, "word/document.xml", size),
              folder="docx")
    many = {f"word/media/p{i}.xml": b"<x/>" for i in range(2100)}
    c.add(f, "2100_entries.docx", "refused", docx(parts=many), folder="docx")
    big3 = docx(parts={f"word/media/b{i}.bin": b"x" for i in range(3)})
    for i in range(3):
        big3 = forge_size(big3, f"word/media/b{i}.bin", 90 << 20)
    c.add(f, "declares_270mib_total.docx", "refused", big3, folder="docx")
    c.add(f, "nested_zip_bomb.docx", "either", docx(parts={"word/embeddings/inner.zip": zeros_member(16 << 20)}),
          folder="docx")
    x = "docx XML bomb"
    c.add(x, "laughs_document.docx", "refused", docx(LAW_PARAS + [para("&l9;")], prolog=laughs()), folder="docx")
    c.add(x, "laughs_deep.docx", "refused", docx(LAW_PARAS + [para("&l19;")], prolog=laughs(20, 20)), folder="docx")
    c.add(x, "laughs_styles.docx", "refused",
          docx(styles=f"{XML}{laughs()}<w:styles {W}><w:style w:styleId='a'><w:name w:val='&l9;'/></w:style>"
                      "</w:styles>"), folder="docx")
    c.add(x, "laughs_numbering.docx", "refused", docx(numbering=f"{XML}{laughs()}<w:numbering {W}/>"), folder="docx")
    quad = '<!DOCTYPE q [<!ENTITY a "' + "a" * 100_000 + '">]>'
    c.add(x, "quadratic_blowup.docx", "refused", docx(LAW_PARAS + [para("&a;" * 20_000)], prolog=quad),
          folder="docx")
    xxe = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    c.add(x, "external_entity.docx", "refused", docx(LAW_PARAS + [para("&xxe;")], prolog=xxe), folder="docx")
    c.add(x, "external_dtd.docx", "refused", docx(prolog='<!DOCTYPE x SYSTEM "http://example.invalid/x.dtd">'),
          folder="docx")
    c.add(x, "deep_xml_300.docx", "refused", docx(["<w:sdt>" * 300 + LAW_PARAS[1] + "</w:sdt>" * 300]),
          folder="docx")


def docx_structure(c: Corpus) -> None:
    f = "docx pathological"
    n_styles = 3000
    chain = f"{XML}<w:styles {W}>" + "".join(
        f'<w:style w:type="paragraph" w:styleId="S{i}"><w:name w:val="s{i}"/>'
        + (f'<w:basedOn w:val="S{i - 1}"/>' if i else "") + "</w:style>" for i in range(n_styles)) + "</w:styles>"
    paras = [para("某某市物业服务管理条例")] + [para(f"第{i + 1}条　本条例第{i + 1}项规定的内容。", f"S{n_styles - 1 - i % 7}")
                                         for i in range(100_000)]
    c.add(f, "100k_paragraphs_3000_styles.docx", "ingested", docx(paras, styles=chain), folder="docx2")
    plain = [para("某某市物业服务管理条例")] + [para(f"第{i + 1}条　本条例第{i + 1}项规定的内容。") for i in range(100_000)]
    c.add(f, "100k_paragraphs.docx", "ingested", docx(plain), folder="docx2")
    cycle = (f"{XML}<w:styles {W}>" + "".join(f'<w:style w:type="paragraph" w:styleId="C{i}"><w:basedOn w:val='
                                              f'"C{(i + 1) % 500}"/></w:style>' for i in range(500)) + "</w:styles>")
    styled = [LAW_PARAS[0]] + [p.replace("<w:p>", '<w:p><w:pPr><w:pStyle w:val="C3"/></w:pPr>') for p in LAW_PARAS[1:]]
    c.add(f, "style_cycle.docx", "ingested", docx(styled, styles=cycle), folder="docx2")
    odd_ids = (f"{XML}<w:styles {W}>" + '<w:style w:type="paragraph" w:styleId="a&quot;b"><w:name w:val="x"/>'
               "</w:style>" * 3 + "</w:styles>")
    c.add(f, "style_id_quotes.docx", "ingested",
          docx([LAW_PARAS[0]] + [p.replace("<w:p>", '<w:p><w:pPr><w:pStyle w:val="a&quot;b"/></w:pPr>')
                                 for p in LAW_PARAS[1:]], styles=odd_ids), folder="docx2")
    levels = "".join(f'<w:lvl w:ilvl="{i}"><w:numFmt w:val="decimal"/><w:lvlText w:val="%1."/></w:lvl>'
                     for i in range(100_000))
    numbering = (f'{XML}<w:numbering {W}><w:abstractNum w:abstractNumId="0">{levels}</w:abstractNum>'
                 + "".join(f'<w:num w:numId="{i}"><w:abstractNumId w:val="0"/></w:num>' for i in range(1, 5000))
                 + "</w:numbering>")
    c.add(f, "100k_list_levels.docx", "ingested", docx(numbering=numbering), folder="docx2")
    breaks = "<w:p><w:r><w:t>某某市物业服务管理条例</w:t></w:r></w:p><w:p><w:r>" + "<w:t>第一条　内容</w:t><w:br/>" * 100_000 + "</w:r></w:p>"
    c.add(f, "100k_soft_breaks.docx", "either", docx([breaks]), folder="docx2")
    b = "docx broken"
    good = docx()
    for i, cut in enumerate([0.1, 0.3, 0.5, 0.7, 0.9, 0.99]):
        c.add(b, f"truncated{i}.docx", "refused", good[: int(len(good) * cut)], folder="docx3")
    crc = bytearray(good)
    pos = crc.find(b"word/document.xml") + 40
    crc[pos] ^= 0xFF
    c.add(b, "crc_damage.docx", "refused", bytes(crc), folder="docx3")
    enc = bytearray(good)
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        p = 0
        while (p := enc.find(sig, p)) >= 0:
            enc[p + off] |= 1  # the "encrypted" flag
            p += 4
    c.add(b, "zip_encrypted_flag.docx", "refused", bytes(enc), folder="docx3")
    c.add(b, "ole2.docx", "refused", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000), folder="docx3")
    c.add(b, "rtf.docx", "refused", b"{\\rtf1\\ansi hello}", folder="docx3")
    c.add(b, "not_word.docx", "refused", zip_of({"hello.txt": b"hi"}), folder="docx3")
    c.add(b, "not_xml.docx", "refused", docx(document=b"this is not xml <<<"), folder="docx3")
    c.add(b, "stored_not_deflated.docx", "ingested", docx(compression=zipfile.ZIP_STORED), folder="docx3")
    c.add(b, "bzip2_members.docx", "either", docx(compression=zipfile.ZIP_BZIP2), folder="docx3")


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def html(c: Corpus) -> None:
    f = "html pathological"
    for i, n in enumerate([50_000, 50_000]):
        tag = ["div", "span"][i]
        c.add(f, f"nested_{n}_{tag}.html", "ingested", law_html((f"<{tag}>" * n, f"</{tag}>" * n)).encode(),
              folder="html")
    c.add(f, "nested_200k_div.html", "ingested", law_html(("<div>" * 200_000, "</div>" * 200_000)).encode(),
          folder="html")
    c.add(f, "nested_20k_tables.html", "ingested",
          law_html(("<table><tr><td>" * 20_000, "</td></tr></table>" * 20_000)).encode(), folder="html")
    c.add(f, "nested_20k_links.html", "refused", law_html(('<a href="x">' * 20_000, "")).encode(), folder="html")
    c.add(f, "unclosed_100k_font.html", "ingested", law_html(("<font>" * 100_000, "")).encode(), folder="html")
    c.add(f, "nested_widgets.html", "ingested",
          law_html(('<div class="nav">' * 30_000, "</div>" * 30_000)).encode(), folder="html")
    c.add(f, "nested_label_cells.html", "ingested",
          law_html(("<table><tr><td>" * 10_000 + "发文字号：", "</td></tr></table>" * 10_000)).encode(), folder="html")
    a = "html huge attributes"
    c.add(a, "class_10mb.html", "ingested", law_html((f'<div class="{"a" * 10_000_000}">', "</div>")).encode(),
          folder="html")
    c.add(a, "style_9mb.html", "ingested", law_html((f'<div style="{"display :" * 1_000_000}">', "</div>")).encode(),
          folder="html")
    c.add(a, "300k_attributes.html", "ingested",
          law_html(("<div " + " ".join(f"a{i}=x" for i in range(300_000)) + ">", "</div>")).encode(), folder="html")
    c.add(a, "unclosed_attribute.html", "either", law_html(('<div title="' + "x" * 5_000_000, "")).encode(),
          folder="html")
    c.add(a, "meta_5000.html", "ingested", ("<meta " * 5000).encode() + law_html().encode(), folder="html")
    t = "html token soup"
    for name, junk in [("comments", "<!--"), ("lt", "<"), ("amp", "&"), ("cdata", "<![CDATA["), ("decl", "<!"),
                       ("pi", "<?"), ("endtags", "</"), ("tagopen", "<a")]:
        c.add(t, f"{name}.html", "either", law_html((junk * (2_000_000 // len(junk)), "")).encode(), folder="html")
    c.add(t, "million_br.html", "either", law_html(("<br>" * 1_000_000, "")).encode(), folder="html")
    c.add(t, "tag_soup_45mb.html", "refused", law_html(("<i>" * 15_000_000, "")).encode(), folder="html")
    e = "html charset trap"
    c.add(e, "declares_utf16.html", "ingested", law_html(head='<meta charset="utf-16">').encode("gb18030"),
          folder="html")
    c.add(e, "declares_nonsense.html", "ingested", law_html(head='<meta charset="x-klingon">').encode(), folder="html")
    c.add(e, "bom_utf16_broken.html", "refused", codecs.BOM_UTF16_LE + b"\x00\xd8\x00\xd8" * 10, folder="html")
    c.add(e, "gbk_as_latin1.html", "ingested", law_html(head='<meta charset="iso-8859-1">').encode("gbk"),
          folder="html")
    c.add(e, "script_only.html", "refused", b"<html><body><script>" + b"var a=1;" * 10000 + b"</script></body></html>",
          folder="html")
    c.add(e, "html_named_txt.txt", "ingested", law_html().replace("某某市", "某某县").encode(), folder="html")


def pdfs(c: Corpus, samples: Path | None) -> None:
    f = "pdf"
    sample = (samples / "pdf" / "npc-word_中华人民共和国民营经济促进法.pdf").read_bytes() if samples else pdf()
    for i, cut in enumerate([0.05, 0.25, 0.5, 0.75, 0.95, 0.999]):
        c.add(f, f"truncated{i}.pdf", "refused", sample[: int(len(sample) * cut)], folder="pdf")
    c.add(f, "header_only.pdf", "refused", b"%PDF-1.7\n", folder="pdf")
    c.add(f, "junk_with_header.pdf", "refused", b"%PDF-1.4\n" + random.Random(3).randbytes(50_000) + b"\n%%EOF\n",
          folder="pdf")
    c.add(f, "encrypted.pdf", "refused", pdf(encrypt=True), folder="pdf")
    c.add(f, "no_pages.pdf", "refused", pdf(pages=False), folder="pdf")
    c.add(f, "latin_text_only.pdf", "refused", pdf(), folder="pdf")
    c.add(f, "flate_bomb_300mb.pdf", "refused", pdf(flate=deflated(300 << 20)), folder="pdf")
    c.add(f, "nested_arrays.pdf", "refused", pdf(b"[" * 200_000), folder="pdf")
    c.add(f, "pdf_named_txt.txt", "refused", pdf(), folder="pdf")
    try:
        from PIL import Image

        for i in range(2):
            buf = io.BytesIO()
            Image.new("RGB", (400 + i, 600), "white").save(buf, "PDF")
            c.add(f, f"image_only{i}.pdf", "refused", buf.getvalue(), folder="pdf")
    except ImportError:
        c.not_made.append(("pdf: image-only", "Pillow is not installed"))


def sizes(c: Corpus) -> None:
    for name in ("oversized.md", "oversized.pdf", "oversized.docx"):
        path = c.add("oversized (sparse 60 MiB)", name, "refused", b"", folder="size")
        if path is not None:
            os.truncate(path, 60 << 20)
    side = c.add("sidecar trap", "law_big_sidecar.md", "refused", law_text(700).encode(), folder="sidecar")
    if side is not None:
        big = side.with_name(side.name + ".meta.json")
        big.write_bytes(b"")
        os.truncate(big, 60 << 20)
    pipe_side = c.add("sidecar trap", "law_pipe_sidecar.md", "ingested", law_text(701).encode(), folder="sidecar")
    if pipe_side is not None:
        os.mkfifo(pipe_side.with_name(pipe_side.name + ".meta.json"))  # not a file: no sidecar
    zero_side = c.add("sidecar trap", "law_zero_sidecar.md", "ingested", law_text(702).encode(), folder="sidecar")
    if zero_side is not None:
        zero_side.with_name(zero_side.name + ".meta.json").symlink_to("/dev/zero")
    bad_side = c.add("sidecar trap", "law_bad_sidecar.md", "refused", law_text(703).encode(), folder="sidecar")
    if bad_side is not None:
        bad_side.with_name(bad_side.name + ".meta.json").write_bytes(b"\xff{not json")


def good_files(c: Corpus, samples: Path | None) -> list[Path]:
    out = []
    for i in range(3):
        out.append(c.add("good", f"law{i}.md", "ingested", law_text(i).encode(), folder="good"))
    if samples:
        for rel in ("pdf/npc-word_中华人民共和国民营经济促进法.pdf", "docx/flk_中华人民共和国监察法_20241225.docx",
                    "html/govcn-fragment_专利代理条例_国令706.html", "txt/pdf-extracted_中华人民共和国民营经济促进法.txt"):
            out.append(c.add("good", Path(rel).name, "ingested", (samples / rel).read_bytes(), folder="good"))
    return [p for p in out if p is not None]


def build(root: Path, samples: Path | None) -> tuple[Corpus, list[Path]]:
    c = Corpus(root)
    for make in (special_files, links, names, deep_folder, encodings, junk, text_structure, zips, docx_structure,
                 html, sizes):
        make(c)
    pdfs(c, samples)
    good = good_files(c, samples)
    return c, good


# ---- running and watching ----------------------------------------------------------------------------


def printable(path: str) -> str:
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def descendants(pid: int) -> dict[int, int]:
    """pid's descendants and their resident memory in KiB (Linux /proc)."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children[int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])].append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out[child] = rss_kib(child)
            todo.append(child)
    return out


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Watch(threading.Thread):
    """Samples the resident memory of a process and its descendants (the parse workers) 4 times a second."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_main, self.peak_child, self.stop = pid, 0, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.25):
            self.peak_main = max(self.peak_main, rss_kib(self.pid))
            self.peak_child = max([self.peak_child, *descendants(self.pid).values()])


def fingerprint(db: Path) -> str:
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = conn.execute("SELECT article_id, text FROM units ORDER BY unit_id").fetchall()
    docs = conn.execute("SELECT source, sha256 FROM documents ORDER BY doc_id").fetchall()
    laws = conn.execute("SELECT * FROM laws ORDER BY 1").fetchall()
    conn.close()
    return hashlib.sha256(repr((rows, docs, laws)).encode()).hexdigest()


def run_ingest(corpus: Path, kb: Path, workers: int | None) -> tuple[float, dict, str, Watch]:
    cmd = [*LAWKB, "ingest", str(corpus), "--kb", str(kb), "--json", "--no-index"]
    if workers:
        cmd += ["--workers", str(workers)]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    watch = Watch(proc.pid)
    watch.start()
    try:
        out, err = proc.communicate(timeout=LIMIT_S + 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    elapsed = time.monotonic() - t0
    watch.stop.set()
    text = out.decode("utf-8", "replace") + err.decode("utf-8", "replace")
    try:
        report = json.loads(out)
    except ValueError:
        report = {}
    return elapsed, report, text, watch


def kill_checks(corpus: Path, kb: Path, extra: Path) -> list[tuple[str, bool, str]]:
    """Kill -9 a second ingest (new good files first, then the hostile corpus again) at three moments."""
    before = fingerprint(kb / "kb.sqlite")
    wal = kb / "kb.sqlite-wal"
    moments = [("at 1 s (starting, digests)", lambda t: t > 1.0),
               ("while writing (WAL > 1 MiB)", lambda t: wal.exists() and wal.stat().st_size > 1 << 20),
               ("at 25 s (workers deep in hostile files)", lambda t: t > 25.0)]
    results = []
    for label, reached in moments:
        proc = subprocess.Popen([*LAWKB, "ingest", str(extra), str(corpus), "--kb", str(kb), "--no-index"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
        t0 = time.monotonic()
        while proc.poll() is None and not reached(time.monotonic() - t0) and time.monotonic() - t0 < 120:
            time.sleep(0.02)
        if proc.poll() is not None:
            results.append((label, False, "the ingest ended before the moment came"))
            continue
        helpers = descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while any(running(p) for p in helpers) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [p for p in helpers if running(p)]
        same = fingerprint(kb / "kb.sqlite") == before
        stats = subprocess.run([*LAWKB, "stats", "--kb", str(kb), "--json"], capture_output=True, text=True, cwd=REPO)
        ok = same and not left and stats.returncode == 0
        results.append((label, ok, f"KB {'unchanged' if same else 'CHANGED'}, {len(helpers)} helper processes, "
                                   f"{len(left)} left running, `lawkb stats` exit {stats.returncode}"))
    return results


# ---- main -------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="build the corpus and KB here and keep them")
    ap.add_argument("--workers", type=int, default=None, help="parse workers (default: lawkb's)")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from lawkb.core import settings

    samples = settings.shared_dir() / "corpus" / "samples"
    samples = samples if samples.is_dir() else None
    work = args.keep or Path(tempfile.mkdtemp(prefix="hostile-"))
    if args.keep and work.exists():
        shutil.rmtree(work)
    corpus, kb, extra = work / "corpus", work / "kb", work / "extra"
    corpus.mkdir(parents=True)
    t0 = time.monotonic()
    c, good = build(corpus, samples)
    extra.mkdir()
    for i in range(400):
        (extra / f"extra{i}.md").write_text(law_text(1000 + i), encoding="utf-8")
    hostile = [e for e in c.entries if e[1] != "good"]
    print(f"built {len(hostile)} hostile files and {len(good)} good ones in {time.monotonic() - t0:.0f} s "
          f"under {corpus}", flush=True)
    for what, why in c.not_made:
        print(f"  not made: {what} ({why})")

    elapsed, report, text, watch = run_ingest(corpus, kb, args.workers)
    (work / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    named: dict[str, str] = {f["file"]: f["reason"] for f in report.get("failed", [])}
    named.update({f["file"]: f["reason"] for f in report.get("skipped", [])})
    try:
        conn = sqlite3.connect(kb / "kb.sqlite")
        in_kb = {row[0] for row in conn.execute("SELECT source FROM documents")}
        conn.close()
    except sqlite3.Error:
        in_kb = set()

    rows: dict[str, Counter] = defaultdict(Counter)
    lost, wrong, example = [], [], {}
    for path, family, expect in c.entries:
        key = printable(str(path))
        reason = named.get(key) or next((r for f, r in named.items() if key.startswith(f + os.sep)), None)
        outcome = ("refused" if reason else "ingested" if str(path) in in_kb else
                   "hidden" if expect == "hidden" else "lost")
        rows[family][outcome] += 1
        example.setdefault(family, reason or ("passed over unread, by design" if outcome == "hidden" else ""))
        if outcome == "lost":
            lost.append((family, key))
        elif expect != "either" and outcome != expect:
            wrong.append((family, key, outcome, reason or ""))

    print(f"\n{'family':34} {'files':>5} {'refused':>8} {'ingested':>8} {'lost':>5}  example reason")
    for family, counts in rows.items():
        print(f"{family:34} {sum(counts.values()):5} {counts['refused']:8} {counts['ingested']:8} {counts['lost']:5}  "
              f"{example[family][:70]}")
    traceback = "Traceback" in text
    good_in = [p for p in good if str(p) in in_kb]
    kills = kill_checks(corpus, kb, extra)
    held = [
        (f"total ingest time {elapsed:.0f} s (limit {LIMIT_S} s)", elapsed < LIMIT_S),
        (f"every hostile file named with a reason or ingested: {len(hostile) - len(lost)}/{len(hostile)}", not lost),
        (f"outcome as expected where one is: {len(wrong)} not", not wrong),
        ("no traceback in the output", not traceback and bool(report)),
        (f"good files ingested: {len(good_in)}/{len(good)}", len(good_in) == len(good)),
        *((f"kill -9 {label}: {detail}", ok) for label, ok, detail in kills),
        (f"peak memory: ingest process {watch.peak_main >> 10} MiB, largest parse worker {watch.peak_child >> 10} MiB",
         True),
    ]
    print(f"\n{len(hostile)} hostile files, {len(report.get('failed', []))} failed and {len(report.get('skipped', []))} "
          f"skipped in the report, {report.get('added', 0)} documents added")
    for what, ok in held:
        print(f"  {'held' if ok else 'FAILED'}  {what}")
    trips = Counter("time" if "took longer" in r else "memory" for r in named.values() if "stopped" in r)
    print(f"  budgets: {trips['time']} parse(s) stopped at the time budget, {trips['memory']} at the memory budget: "
          + ", ".join(Path(f).name for f, r in named.items() if r.endswith("stopped")))
    for family, key in lost[:20]:
        print(f"  lost: {family}: {key!r}")
    for family, key, outcome, reason in wrong[:20]:
        print(f"  unexpected: {family}: {key!r} was {outcome} {reason[:100]}")
    if traceback:
        print(text[text.index("Traceback"):][:3000])
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if all(ok for _, ok in held) else 1)


if __name__ == "__main__":
    main()
