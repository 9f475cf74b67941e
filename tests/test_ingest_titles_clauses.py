"""Titles from PDF metadata (Word's "Microsoft Word - X.doc" as GBK hex, UTF-16 with a BOM, a hex string
written as text) and conventions numbered 1. / 一、 / （一） / １． instead of 第X条.

The fixtures are real files in tests/data/ingest_fixtures, written by make_fixtures.py there (the first
test checks that they are what it writes): PDFs made the way Acrobat Distiller prints a Word document,
holding 民法典 第一条–第九条, and four short TXT conventions written for these tests.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pdfplumber
import pytest

from lawkb.core.model import KIND_ARTICLE, KIND_PREAMBLE, unit_keys
from lawkb.ingest.blocks import Block, Extracted
from lawkb.ingest.pdf_reader import read_pdf
from lawkb.ingest.pipeline import ingest, read_document
from lawkb.ingest.structure import build_document
from lawkb.search import open_kb
from lawkb.search.lookup import citation, find_law, lookup_article

FIXTURES = Path(__file__).resolve().parent / "data" / "ingest_fixtures"
CIVIL_CODE = "中华人民共和国民法典"


def _maker():
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make = _maker()


def parse(name: str):
    path = FIXTURES / name
    return read_document(path.read_bytes(), path)


def articles(doc):
    return [a for a in doc.articles if a.kind == KIND_ARTICLE]


def test_committed_fixtures_are_what_the_script_writes():
    for name, data in make.fixtures().items():
        assert (FIXTURES / name).read_bytes() == data, f"{name}: run tests/data/ingest_fixtures/make_fixtures.py"


# --- PDF titles ------------------------------------------------------------------------------------


def test_pdfplumber_alone_garbles_the_gbk_title():
    """Why the reader decodes the raw /Title: pdfplumber takes the GBK bytes for PDFDocEncoding."""
    with pdfplumber.open(FIXTURES / "word_untitled.pdf") as pdf:
        garbled = pdf.metadata["Title"]
    assert garbled.startswith("Microsoft Word - ") and "民法典" not in garbled
    assert read_pdf(FIXTURES / "word_untitled.pdf").meta["title"] == CIVIL_CODE


# Pages where each of 第一条–第九条 starts: with a title line 第八条 runs over onto page 2, without one
# 第九条 does. Either way the article is one paragraph across the page break.
TITLED, UNTITLED = [1] * 8 + [2], [1] * 9


@pytest.mark.parametrize("name, title_source, pages", [
    ("word_titled.pdf", "body", TITLED),            # page 1 prints the title; /Title agrees
    ("word_draft_filename.pdf", "body", TITLED),    # page 1 prints the title; /Title names a draft: page 1 wins
    ("word_untitled.pdf", "metadata", UNTITLED),    # only /Title (GBK hex) names the law
    ("word_hextext_title.pdf", "metadata", UNTITLED),  # /Title's text is '<4D6963…>' (the reported symptom)
])
def test_word_pdf_is_the_civil_code(name, title_source, pages, lawrefbook):
    doc = parse(name)
    assert doc.title == CIVIL_CODE and doc.extra["title_source"] == title_source
    assert doc.level == "法律" and doc.adopted == "2020-05-28"
    assert ("no title line in the text" in " ".join(doc.warnings)) == (title_source == "metadata")
    arts = articles(doc)
    assert [a.number_text for a in arts][:2] == ["第一条", "第二条"] and [a.number for a in arts] == list(range(1, 10))
    assert arts[0].path == ["第一编 总则", "第一章 基本规定"]
    assert [a.page_start for a in arts] == pages
    # Legal text is sacred: each article reads exactly as LawRefBook prints it.
    source = (lawrefbook / "民法典" / "总则.md").read_text(encoding="utf-8")
    for a in arts:
        assert f"{a.number_text} {a.text}\n" in source, a.number_text


def test_the_draft_file_name_is_still_read_from_the_metadata():
    assert read_pdf(FIXTURES / "word_draft_filename.pdf").meta["title"] == "民法典草案第三次审议稿定稿"


def _hex(data: bytes) -> str:
    return "<" + data.hex().upper() + ">"


@pytest.mark.parametrize("title, expected", [
    (make.word_title(CIVIL_CODE + ".doc"), CIVIL_CODE),                                        # GBK
    (_hex("Microsoft Word - 中华人民共和国民法典.docx".encode("gb18030")), CIVIL_CODE),
    (_hex(b"\xfe\xff" + "中华人民共和国民法典".encode("utf-16-be")), CIVIL_CODE),              # UTF-16BE, BOM
    (_hex(b"\xff\xfe" + "Microsoft Word - 中华人民共和国民法典.doc".encode("utf-16-le")), CIVIL_CODE),
    (_hex(b"\xef\xbb\xbf" + "中华人民共和国民法典".encode()), CIVIL_CODE),             # UTF-8, BOM
    ("(" + make.word_title(CIVIL_CODE + ".doc") + ")", CIVIL_CODE),                          # hex as text
    ("(" + _hex(b"\xfe\xff" + "示例村村规民约".encode("utf-16-be")) + ")", "示例村村规民约"),
    ("(Microsoft Word - Document1)", None),                                                   # Word's default
    (_hex("Microsoft Word - 文档1.doc".encode("gbk")), None),
    (_hex("法规修改决定电子报备格式标准及示例".encode("gbk")), None),                          # template left-over
    ("(R\\350glement int\\351rieur)", "Règlement intérieur"),                                # PDFDocEncoding
])
def test_metadata_title_decoding(tmp_path, title, expected):
    path = tmp_path / "t.pdf"
    path.write_bytes(make.pdf(make.info(title), [("para", "第一条\u3000正文。")]))
    assert read_pdf(path).meta.get("title") == expected


def test_a_title_after_a_cover_page_is_still_the_body_title():
    # A compilation's cover page, then the law on page 2: the printed title beats /Title.
    blocks = [Block("劳动法律汇编", page=1), Block("中华人民共和国劳动法", page=2),
              Block("第一条\u3000为了保护劳动者的合法权益，制定本法。", page=2)]
    doc = build_document(Extracted(blocks, "pdf", meta={"title": "劳动法.doc"}), source="x.pdf", filename="x.pdf")
    assert doc.title == "中华人民共和国劳动法" and doc.extra["title_source"] == "body"
    assert doc.extra["front_matter"] == ["劳动法律汇编"]


def test_a_title_like_file_name_beats_a_metadata_title_that_names_nothing():
    blocks = [Block("第一条\u3000为了保护劳动者的合法权益，制定本法。", page=1)]
    doc = build_document(Extracted(blocks, "pdf", meta={"title": "附件2"}), source="x", filename="中华人民共和国劳动法.pdf")
    assert doc.title == "中华人民共和国劳动法" and doc.extra["title_source"] == "filename"


# --- conventions numbered without 第X条 -------------------------------------------------------------

# file -> (title, labels, first source line of each clause, path of each clause, history date)
CONVENTIONS = {
    "示例村村规民约.txt": ("示例村村规民约", ["1.", "2.", "3.", "4.", "5.", "6."], [6, 7, 8, 9, 13, 14],
                         [[]] * 6, "2024-01-20"),
    "示例社区居民公约.txt": ("示例社区居民公约", ["一、", "二、", "三、", "四、", "五、"], [3, 4, 5, 8, 9],
                           [[]] * 5, "2024-03-15"),
    "示例小区管理规约.txt": ("示例小区管理规约", ["（一）", "（二）", "（三）", "（四）", "（五）"], [5, 7, 9, 11, 13],
                           [[]] * 5, None),
    "示例小区业主大会议事规则.txt": (
        "示例小区业主大会议事规则", ["１．", "２．", "３．", "４．", "５．"], [4, 5, 7, 8, 12],
        [["一、总则"]] * 2 + [["二、业主大会会议"]] * 2 + [["三、附则"]], "2024-05-18"),
}


def _source_lines(name: str) -> list[str]:
    raw = (FIXTURES / name).read_bytes()
    text = raw.decode("gbk") if name == "示例村村规民约.txt" else raw.decode("utf-8")
    return text.replace("\r\n", "\n").split("\n")


@pytest.mark.parametrize("name", sorted(CONVENTIONS))
def test_numbered_convention_becomes_clauses(name):
    title, labels, lines, paths, adopted = CONVENTIONS[name]
    doc = parse(name)  # read_document: a text with no 第X条 is no longer refused
    assert doc.title == title and doc.extra["title_source"] == "body" and doc.level == "自治规约"
    assert doc.adopted == adopted
    clauses = articles(doc)
    assert [a.number_text for a in clauses] == labels
    assert [a.number for a in clauses] == list(range(1, len(labels) + 1))
    assert [a.line_start for a in clauses] == lines
    assert [a.path for a in clauses] == paths
    assert doc.extra["clauses"] == {"numbering": labels[0], "count": len(labels)}
    assert not any("restarts" in w or "skip" in w or "truncated" in w for w in doc.warnings)
    # The clause's source lines are its label and its text, character for character.
    source = _source_lines(name)
    for a in clauses:
        printed = "\n".join(source[a.line_start - 1:a.line_end])
        assert printed.endswith(a.text) and re.sub(r"\s", "", printed[:-len(a.text)]) == a.number_text


def test_pdf_convention_has_the_same_clauses_as_its_txt():
    pdf, txt = parse("word_village_convention.pdf"), parse("示例村村规民约.txt")
    assert pdf.title == txt.title == "示例村村规民约" and pdf.extra["title_source"] == "body"
    assert [(a.kind, a.number_text, a.number, a.text) for a in pdf.articles] == [
        (a.kind, a.number_text, a.number, a.text) for a in txt.articles]
    assert all(a.page_start == 1 for a in pdf.articles) and pdf.extra["clauses"]["count"] == 6


def test_items_inside_clauses_stay_items():
    village = articles(parse("示例村村规民约.txt"))[3]
    assert village.line_end == 12 and village.paragraphs[0].items == [
        "（一）不在山林、田间野外用火；", "（二）不在房前屋后堆放易燃杂物；", "（三）发现火情及时报告。"]
    residents = articles(parse("示例社区居民公约.txt"))[2]
    assert residents.text.startswith("饲养犬只的居民应当做到：\n1.带犬出户")
    assert residents.paragraphs[0].items == ["1.带犬出户时为犬只拴系牵引绳；", "2.及时清理犬只在公共区域留下的粪便。"]
    rules = articles(parse("示例小区业主大会议事规则.txt"))[3]
    assert len(rules.paragraphs[0].items) == 2 and rules.line_end == 10


def test_preamble_before_the_first_clause_is_kept():
    doc = parse("示例村村规民约.txt")
    assert doc.articles[0].kind == KIND_PREAMBLE and doc.articles[0].line_start == 4
    assert doc.articles[0].text.startswith("为了推进村民自治")


def _doc(title: str, texts: list[str]):
    blocks = [Block(title, line=1)] + [Block(t, line=i) for i, t in enumerate(texts, start=2)]
    return build_document(Extracted(blocks, "text"), source="x.txt", filename="x.txt")


def test_clauses_restarting_under_each_heading():
    doc = _doc("示例村村规民约", ["一、社会治安", "1. 村民应当遵守法律。", "2. 村民应当互谅互让。",
                               "二、环境卫生", "1. 村民不乱倒垃圾。"])
    clauses = articles(doc)
    assert [(a.number_text, a.number, a.path, a.line_start) for a in clauses] == [
        ("1.", 1, ["一、社会治安"], 3), ("2.", 2, ["一、社会治安"], 4), ("1.", 1, ["二、环境卫生"], 6)]
    assert unit_keys(doc.articles) == ["1", "2", "1~2"]
    chaptered = _doc("示例村村规民约", ["第一章　总则", "一、社会治安", "1. 村民应当遵守法律。", "二、环境卫生",
                                     "1. 村民不乱倒垃圾。", "第二章　附则", "一、施行", "1. 本村规民约自通过之日起施行。"])
    assert [a.path for a in articles(chaptered)] == [
        ["第一章 总则", "一、社会治安"], ["第一章 总则", "二、环境卫生"], ["第二章 附则", "一、施行"]]


def test_a_number_out_of_sequence_is_text_of_its_clause():
    doc = _doc("示例社区居民公约", ["1. 居民应当做到：", "1) 不喧哗；", "3. 不在楼道堆放杂物。",
                                "2. 居民应当爱护绿地。", "3. 本公约自公布之日起施行。"])
    clauses = articles(doc)
    assert [a.number_text for a in clauses] == ["1.", "2.", "3."]
    assert clauses[0].text == "居民应当做到：\n1) 不喧哗；\n3. 不在楼道堆放杂物。"


def test_only_conventions_are_cut_into_clauses():
    # A State Council 规则 numbered 一、 keeps its layout (the gov.cn sample 国务院工作规则 has no 条).
    doc = _doc("示例机关工作规则", ["一、本规则适用于示例机关。", "二、本规则自发布之日起施行。"])
    assert articles(doc) == [] and "clauses" not in doc.extra


def test_a_convention_with_articles_keeps_them():
    path = Path(__file__).resolve().parent.parent / "corpus" / "community" / "示例社区居民公约.md"
    doc = read_document(path.read_bytes(), path)
    assert articles(doc)[0].number_text == "第一条" and "clauses" not in doc.extra
    assert articles(doc)[3].paragraphs[0].items[0].startswith("（一）")


# --- lookups ---------------------------------------------------------------------------------------


def test_lookups_find_the_civil_code_and_the_clauses(tmp_path):
    kb = open_kb(str(tmp_path / "kb"), create=True)
    # The village convention's PDF is left out: it would be merged with the TXT as the same convention.
    files = sorted(p for p in FIXTURES.iterdir() if p.suffix in (".pdf", ".txt") and "village" not in p.name)
    report = ingest(kb, files, workers=1)
    assert not report.failed and report.added == len(files)
    assert find_law(kb, "民法典")["title"] == CIVIL_CODE
    art = lookup_article(kb, "民法典第三条")
    assert citation(art) == "《中华人民共和国民法典》第三条" and art["text"].startswith("民事主体的人身权利")
    # A clause is cited by its own label; 第4条 finds the clause numbered 4.
    clause = lookup_article(kb, "示例村村规民约第4条")
    assert citation(clause) == "《示例村村规民约》4." and clause["line_start"] == 9
    assert clause["source"].endswith("示例村村规民约.txt")
    assert citation(lookup_article(kb, "示例社区居民公约第三条")) == "《示例社区居民公约》三、"
    assert lookup_article(kb, "示例小区业主大会议事规则第5条")["path"] == ["三、附则"]
    assert find_law(kb, "示例村村规民约")["level"] == "自治规约"
    kb.close()
