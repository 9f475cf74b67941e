"""Writes the fixtures in this folder (run it from anywhere; the output is byte-for-byte deterministic, and
tests/test_ingest_titles_clauses.py checks that the committed files are what it writes).

PDFs: what a Word document printed through Acrobat Distiller looks like (PScript5.dll): /Title is the
name of the Word file, "Microsoft Word - 中华人民共和国民法典.doc", written as a hex string of GBK bytes;
the text uses the non-embedded Adobe font STSong-Light with the UniGB-UCS2-H encoding (as flk's iText
PDFs do), lines broken at the right margin in mid-sentence, a page number －N－ at the foot of each page.
The article text is 民法典 第一条 to 第九条, copied from the LawRefBook snapshot (民法典/总则.md).

TXT: four short conventions written for these tests (示例, fictional: not any real community's rules),
each numbered in one of the ways conventions are numbered instead of 第X条; the first one also as a PDF.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent

TITLE = "中华人民共和国民法典"
HISTORY = "（2020年5月28日第十三届全国人民代表大会第三次会议通过）"
ARTICLES = [
    "第一条\u3000为了保护民事主体的合法权益，调整民事关系，维护社会和经济秩序，适应中国特色社会主义发展要求，"
    "弘扬社会主义核心价值观，根据宪法，制定本法。",
    "第二条\u3000民法调整平等主体的自然人、法人和非法人组织之间的人身关系和财产关系。",
    "第三条\u3000民事主体的人身权利、财产权利以及其他合法权益受法律保护，任何组织或者个人不得侵犯。",
    "第四条\u3000民事主体在民事活动中的法律地位一律平等。",
    "第五条\u3000民事主体从事民事活动，应当遵循自愿原则，按照自己的意思设立、变更、终止民事法律关系。",
    "第六条\u3000民事主体从事民事活动，应当遵循公平原则，合理确定各方的权利和义务。",
    "第七条\u3000民事主体从事民事活动，应当遵循诚信原则，秉持诚实，恪守承诺。",
    "第八条\u3000民事主体从事民事活动，不得违反法律，不得违背公序良俗。",
    "第九条\u3000民事主体从事民事活动，应当有利于节约资源、保护生态环境。",
]



def word_title(file_name: str) -> str:
    """/Title as Word-era Distiller writes it: 'Microsoft Word - <file name>' as a hex string of GBK bytes."""
    return "<" + ("Microsoft Word - " + file_name).encode("gbk").hex().upper() + ">"


WORD_TITLE_GBK = word_title(TITLE + ".doc")

# --- PDF writing -----------------------------------------------------------------------------------

# A5, so that nine articles run onto a second page.
PAGE_W, PAGE_H = 420, 595
LEFT, RIGHT, TOP, BOTTOM = 60, 360, 530, 80
SIZE, LEADING = 12, 22


def _ucs2(text: str) -> str:
    return "<" + text.encode("utf-16-be").hex().upper() + ">"


def _layout(lines_in: list[tuple[str, str]]) -> list[list[tuple[float, float, float, str]]]:
    """(kind, text) paragraphs -> pages of (x, y, size, text) lines. kind: 'title' (centred, 18pt),
    'center' (centred), 'note' (centred, 10.5pt) or 'para' (first line indented two characters, wrapped
    at the right margin)."""
    pages: list[list[tuple[float, float, float, str]]] = [[]]
    y = TOP

    def put(x: float, size: float, text: str) -> None:
        nonlocal y
        if y < BOTTOM:
            pages.append([])
            y = TOP
        pages[-1].append((x, y, size, text))
        y -= 34 if size > SIZE else LEADING

    for kind, text in lines_in:
        if kind in ("title", "center", "note"):
            size = {"title": 18, "center": SIZE, "note": 10.5}[kind]
            put((PAGE_W - len(text) * size) / 2, size, text)
            continue
        per_line = int((RIGHT - LEFT) / SIZE)
        first, rest = text[: per_line - 2], text[per_line - 2:]
        put(LEFT + 2 * SIZE, SIZE, first)
        while rest:
            put(LEFT, SIZE, rest[:per_line])
            rest = rest[per_line:]
    return pages


def pdf(info: str, paragraphs: list[tuple[str, str]]) -> bytes:
    """A PDF with the /Info dictionary `info` and the paragraphs laid out by `_layout`."""
    pages = _layout(paragraphs)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, filled in below
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light-UniGB-UCS2-H /Encoding /UniGB-UCS2-H "
        b"/DescendantFonts [4 0 R] >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /DW 1000 "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> /FontDescriptor 5 0 R >>",
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] "
        b"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
        info.encode("latin-1"),
    ]
    kids = []
    for n, lines in enumerate(pages, start=1):
        ops = [f"BT /F1 {size} Tf 1 0 0 1 {x:.2f} {y:.2f} Tm {_ucs2(text)} Tj ET" for x, y, size, text in lines]
        folio = f"－{n}－"
        ops.append(f"BT /F1 10.5 Tf 1 0 0 1 {(PAGE_W - 3 * 10.5) / 2:.2f} 40 Tm {_ucs2(folio)} Tj ET")
        content = "\n".join(ops).encode("ascii")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 3 0 R >> >> >>" % (PAGE_W, PAGE_H, len(objects)))
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def info(title: str) -> str:
    """An /Info dictionary whose /Title is `title`, written as PDF source (a hex or literal string)."""
    return (f"<< /Title {title} /Author (lawkb) /Creator (PScript5.dll Version 5.2.2) "
            "/Producer (Acrobat Distiller 9.0.0 \\(Windows\\)) /CreationDate (D:20200601093000+08'00') >>")


BODY = [("center", "第一编\u3000总\u3000\u3000则"), ("center", "第一章\u3000基本规定")] + [("para", a) for a in ARTICLES]
PDFS = {
    # The title printed on page 1 and, as the Word file name, in /Title (a hex string of GBK bytes).
    "word_titled.pdf": pdf(info(WORD_TITLE_GBK), [("title", TITLE), ("note", HISTORY)] + BODY),
    # The title on page 1, and a different Word file name (a draft's) in /Title: page 1 wins.
    "word_draft_filename.pdf": pdf(info(word_title("民法典草案第三次审议稿定稿.doc")),
                                    [("title", TITLE), ("note", HISTORY)] + BODY),
    # No title line at all: only /Title names the law.
    "word_untitled.pdf": pdf(info(WORD_TITLE_GBK), [("note", HISTORY)] + BODY),
    # /Title whose *text* is the hex string: "(<4D6963…>)" (the form that was ingested as the law's title).
    "word_hextext_title.pdf": pdf(info("(" + WORD_TITLE_GBK + ")"), [("note", HISTORY)] + BODY),
}

# --- TXT conventions -------------------------------------------------------------------------------

# (file name, encoding, line ending, text)
TXTS = [
    ("示例村村规民约.txt", "gbk", "\r\n", """\
示例村村规民约
（2024年1月20日示例村村民会议讨论通过）

为了推进村民自治，维护本村社会秩序和公共利益，根据《中华人民共和国村民委员会组织法》等法律法规，经村民会议讨论，制定本村规民约。

1. 村民应当遵守宪法、法律、法规和国家政策，自觉维护社会治安秩序。
2. 村民之间应当团结友爱、互谅互让，发生纠纷的，可以申请村人民调解委员会调解。
3. 村民应当爱护村内道路、路灯、水渠等公共设施，不得擅自占用、损坏。
4. 村民应当做好下列防火工作：
（一）不在山林、田间野外用火；
（二）不在房前屋后堆放易燃杂物；
（三）发现火情及时报告。
5. 村民应当将生活垃圾分类投放到指定地点，不乱倒垃圾、污水。
6. 本村规民约由村民委员会负责解释，自村民会议通过之日起施行。
"""),
    ("示例社区居民公约.txt", "utf-8", "\n", """\
示例社区居民公约
（2024年3月15日示例社区居民会议讨论通过）
一、居民应当遵守法律法规，维护社区的公共秩序和安全。
二、居民之间应当相互尊重、守望相助，邻里之间出现矛盾的，应当心平气和地沟通。
三、饲养犬只的居民应当做到：
1.带犬出户时为犬只拴系牵引绳；
2.及时清理犬只在公共区域留下的粪便。
四、居民应当保持消防车通道、安全出口和疏散楼梯畅通。
五、本公约经居民会议讨论通过，自公布之日起施行。
"""),
    ("示例小区管理规约.txt", "utf-8", "\n", """\
示例小区管理规约

为了维护全体业主和物业使用人的合法权益，根据《中华人民共和国民法典》和有关物业管理的法律法规，制定本规约。

（一）本规约对全体业主和物业使用人具有约束力。

（二）业主装修房屋，应当在开工前告知物业服务企业。

（三）业主和物业使用人不得占用消防车通道，不得在楼道内堆放杂物。

（四）业主应当按时交纳物业服务费用。

（五）本规约自业主大会会议表决通过之日起生效。
"""),
    ("示例小区业主大会议事规则.txt", "utf-8", "\n", """\
示例小区业主大会议事规则
（2024年5月18日示例小区首次业主大会会议表决通过）
一、总则
１．为了规范业主大会的议事活动，维护业主的合法权益，根据《中华人民共和国民法典》和有关物业管理的法律法规，制定本规则。
２．业主大会由示例小区全体业主组成，代表和维护全体业主在物业管理活动中的合法权益。
二、业主大会会议
３．业主大会会议分为定期会议和临时会议。定期会议每年召开一次。
４．有下列情形之一的，业主委员会应当组织召开业主大会临时会议：
（一）经专有部分面积占比百分之二十以上且人数占比百分之二十以上的业主提议的；
（二）发生重大事故或者紧急事件需要及时处理的。
三、附则
５．本规则自业主大会会议表决通过之日起施行。
"""),
]

# The village convention as a Word PDF: its clauses must come out of the PDF reader the same as from TXT.
_VILLAGE = [line for line in TXTS[0][3].split("\n") if line.strip()]
PDFS["word_village_convention.pdf"] = pdf(info(word_title("村规民约（修改稿）.doc")),
                                          [("title", _VILLAGE[0]), ("note", _VILLAGE[1])]
                                          + [("para", line) for line in _VILLAGE[2:]])


def fixtures() -> dict[str, bytes]:
    """Every fixture file's name and bytes."""
    out = dict(PDFS)
    for name, encoding, newline, text in TXTS:
        out[name] = text.replace("\n", newline).encode(encoding)
    return out


if __name__ == "__main__":
    for name, data in fixtures().items():
        (HERE / name).write_bytes(data)
        print(f"wrote {name} ({len(data)} bytes)")
