"""DOCX reader on the real sample files (via LAWKB_SHARED) and on fault fixtures built here."""

from __future__ import annotations

import os
import random
import re
import zipfile
from pathlib import Path

import docx
import pytest
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from lawkb.ingest.blocks import IngestError
from lawkb.ingest.docx_reader import read_docx

SAMPLES = Path(os.environ.get("LAWKB_SHARED", "/work/shared")) / "corpus" / "samples"
ARTICLE = re.compile(r"^第[一二三四五六七八九十百千零〇两\d]+[条條]")
PAGE_NUMBER = re.compile(r"^[\s　]*[－—-]+\s*\d+\s*[－—-]+[\s　]*$|－\d+－|—\s*\d+\s*—")

DAIBIAOFA = "docx/flk_中华人民共和国全国人民代表大会和地方各级人民代表大会代表法_20250311.docx"
JIANCHAFA = "docx/flk_中华人民共和国监察法_20241225.docx"
JUEDING = "docx/flk_人大常委会关于授权国务院在新疆自贸区暂时调整适用种子法有关规定的决定_20250430.docx"
HETONGFA_2016 = "docx/flk2016tpl_中华人民共和国劳动合同法.docx"
GONGSHANG = "docx/flk_工伤保险条例.docx"
MISLABELED = "docx/mislabeled_中华人民共和国劳动法_实为劳动合同法.docx"
WEBPASTE = "docx/webpaste_劳动合同法实施条例.docx"
GUIYUE = "conventions/cn-jl_碧桂园江山名筑_小区管理规约.docx"
ALL_SAMPLES = [DAIBIAOFA, JIANCHAFA, JUEDING, HETONGFA_2016, GONGSHANG, MISLABELED, WEBPASTE, GUIYUE]


def sample(rel: str) -> Path:
    path = SAMPLES / rel
    if not path.is_file():
        pytest.skip(f"sample corpus file not found: {path} (set LAWKB_SHARED to the shared folder)")
    return path


def articles(blocks) -> int:
    """Paragraphs that open an article; table rows quoting `第三十一条第一款` are not articles."""
    return sum(1 for b in blocks if b.style != "table" and ARTICLE.match(b.text))


# Counts checked by reading each file: labels run 第一条…第N条 without gaps.
@pytest.mark.parametrize("rel, expected", [
    (JIANCHAFA, 78),       # 2024 revision, ends 第七十八条 本法自公布之日起施行
    (DAIBIAOFA, 65),       # 2025 revision, ends 第六十五条
    (JUEDING, 0),          # a 决定: three body paragraphs and an annex table, no 条
    (HETONGFA_2016, 98),   # body indented with two U+3000
    (GONGSHANG, 67),
    (MISLABELED, 97),      # the file is cut short: 第九十八条 is missing from the body itself
    (WEBPASTE, 38),
    (GUIYUE, 34),
])
def test_article_counts(rel: str, expected: int) -> None:
    ex = read_docx(sample(rel))
    assert ex.source_kind == "docx"
    assert articles(ex.blocks) == expected


def _footer_page_numbers(path: Path) -> set[str]:
    """The cached page-number texts printed in the file's headers/footers (`－6－`, `—27—`, `— 14 —`)."""
    with zipfile.ZipFile(path) as zf:
        xml = "".join(zf.read(n).decode("utf-8") for n in zf.namelist() if re.match(r"word/(footer|header)", n))
    xml = re.sub(r"<w:instrText[^>]*>.*?</w:instrText>", "", xml)
    return set(re.findall(r"[－—]+\s*\d+\s*[－—]+", re.sub(r"<[^>]+>", "", xml)))


@pytest.mark.parametrize("rel", ALL_SAMPLES)
def test_no_page_furniture_and_no_empty_blocks(rel: str) -> None:
    path = sample(rel)
    stale = _footer_page_numbers(path)
    if rel in (JIANCHAFA, DAIBIAOFA, HETONGFA_2016, GUIYUE):
        assert stale, "these footers carry stale PAGE results; the test would not prove anything otherwise"
    for block in read_docx(path).blocks:
        assert block.text and block.text == block.text.strip()
        assert not PAGE_NUMBER.search(block.text), block.text
        assert not any(s in block.text for s in stale), block.text


def test_daibiaofa_title_is_one_line_and_toc_is_kept() -> None:
    ex = read_docx(sample(DAIBIAOFA))
    assert ex.blocks[0].text == "中华人民共和国全国人民代表大会和地方各级人民代表大会代表法"
    assert ex.blocks[0].style == "title"
    assert ex.blocks[1].text.startswith("（1992年4月3日第七届全国人民代表大会第五次会议通过\u3000根据")
    # TOC line and body heading are both present; the structurer skips the TOC.
    assert [b.text for b in ex.blocks].count("第一章\u3000总\u3000\u3000则") == 2
    assert ex.blocks[2].text == "目\u3000\u3000录" and ex.blocks[2].style == "center"


def test_jianchafa_toc_and_headings() -> None:
    texts = [b.text for b in read_docx(sample(JIANCHAFA)).blocks]
    assert texts[0] == "中华人民共和国监察法"
    for heading in ("第一章\u3000总\u3000\u3000则", "第六章\u3000反腐败国际合作", "第九章\u3000附\u3000\u3000则"):
        assert texts.count(heading) == 2, heading


def test_2016_template_indent_stripped_inside_kept() -> None:
    ex = read_docx(sample(HETONGFA_2016))
    texts = [b.text for b in ex.blocks]
    assert texts[0] == "中华人民共和国劳动合同法"
    assert not any(t.startswith("\u3000") for t in texts)
    assert texts.count("第一节\u3000集体合同") == 2  # TOC (four U+3000 indent) and body
    assert "第九十八条\u3000本法自2008年1月1日起施行。" in texts
    assert "《关于修改<中华人民共和国劳动合同法>的决定》" in texts[1]
    assert ex.meta["core_title"] == "法规修改决定电子报备格式标准及示例"
    assert "title" not in ex.meta
    assert ex.meta["author"] == "Lenovo"


def test_gongshang_heading_styles() -> None:
    ex = read_docx(sample(GONGSHANG))
    headings = [b for b in ex.blocks if b.style == "heading"]
    assert len(headings) == 8
    assert all(b.level == 2 and re.match(r"^第[一二三四五六七八]章\u3000", b.text) for b in headings)
    assert ex.blocks[0].text == "工伤保险条例" and ex.blocks[0].style == "title"
    assert ex.blocks[1].text.startswith("(2003年4月27日中华人民共和国国务院令第375号公布\u3000根据")


def test_jueding_table_rows_and_annex_title() -> None:
    ex = read_docx(sample(JUEDING))
    rows = [b for b in ex.blocks if b.style == "table"]
    assert [r.text.split(" | ")[0] for r in rows] == ["法律规定", "第三十一条第一款\u3000从事种子进出口业务的种子生产经营许可证，"
                                                     "由国务院农业农村、林业草原主管部门核发。国务院农业农村、林业草原主管部门"
                                                     "可以委托省、自治区、直辖市人民政府农业农村、林业草原主管部门接收申请材料。"]
    assert rows[0].text == "法律规定 | 调整内容"
    # The annex title is split by two w:br; it is one line, and the table follows it.
    annex = "授权国务院在中国（新疆）自由贸易试验区暂时调整适用《中华人民共和国种子法》有关规定目录"
    i = [b.text for b in ex.blocks].index(annex)
    assert ex.blocks[i].style == "center" and ex.blocks[i + 1].style == "table"
    assert ex.blocks[4].text == "本决定自2025年5月1日起施行。"


def test_mislabeled_core_title_not_trusted_and_smarttag_text_kept() -> None:
    ex = read_docx(sample(MISLABELED))
    assert ex.meta["core_title"] == "中华人民共和国劳动法(最新版)"
    assert "title" not in ex.meta
    assert any("does not occur in the body" in w for w in ex.warnings)
    # The adoption date sits in a w:smartTag (python-docx's paragraph.text drops it); the header's
    # `中华人民共和国劳动法(最新版)` is never read.
    assert ex.blocks[0].text == "(2007年6月29日第十届全国人民代表大会常务委员会第二十八次会议通过)"
    assert not any("最新版" in b.text for b in ex.blocks)


def test_webpaste_hyperlink_fields_keep_their_text() -> None:
    texts = [b.text for b in read_docx(sample(WEBPASTE)).blocks]
    assert texts[0] == "劳动合同法实施条例"
    assert "第三十条 劳务派遣单位不得以非全日制用工形式招用被派遣劳动者。" in texts
    assert "第二十一条 劳动者达到法定退休年龄的，劳动合同终止。" in texts
    assert not any("HYPERLINK" in t for t in texts)


def test_convention_numbering_tables_and_junk_core_title() -> None:
    ex = read_docx(sample(GUIYUE))
    texts = [b.text for b in ex.blocks]
    assert texts[0] == "吉林省住宅小区管理规约" and ex.blocks[0].style == "title"
    # Word auto-numbering `（%1）` (chineseCounting, starting at 7) is printed text.
    assert any(t.startswith("（七）物业服务办公用房建筑面积为") for t in texts)
    assert "（一）不得将没有防水要求的房间或者阳台改为卫生间、厨房间；" in texts
    assert "（二）不得扩大承重墙上原有的门窗尺寸，拆除连接阳台的砖、混凝土墙体；" in texts
    assert "类  型 | 幢  数 | 套（单元）数 | 建筑面积（平方米）" in texts
    assert "物业管理区域内房屋建筑本体之外的共用设施设备情况 | 本物业管理区域车辆出入口 | 个 | 人行出入口 | 个" in texts
    assert ex.meta["core_title"].startswith("深圳市")
    assert "title" not in ex.meta


# --- fixtures built with python-docx -------------------------------------------------------------

def _field(paragraph, instr: str, cached: str) -> None:
    """Append a complex field (begin / instr / separate / cached result / end) to a paragraph."""
    def run_with(child):
        r = OxmlElement("w:r")
        r.append(child)
        paragraph._p.append(r)

    for kind, text in (("begin", None), ("instr", instr), ("separate", None), ("text", cached), ("end", None)):
        if kind == "instr":
            el = OxmlElement("w:instrText")
            el.text = text
        elif kind == "text":
            el = OxmlElement("w:t")
            el.text = text
        else:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        run_with(el)


def _build(tmp_path: Path) -> Path:
    d = docx.Document()
    d.core_properties.title = "测试物业管理规定(最新版)"
    d.core_properties.author = "tester"
    title = d.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.add_run("测试物业").add_break()
    title.add_run("管理规定")
    toc = d.add_paragraph("第一章\u3000总则\t")
    _field(toc, " PAGEREF _Toc1 \\h ", "1")
    d.add_heading("第一章\u3000总则", level=1)
    pasted = d.add_paragraph()
    pasted.add_run("第一条\u3000为了测试，制定本规定。").add_break()
    pasted.add_run("第二条\u3000本规定适用于测试。")
    wrapped = d.add_paragraph()
    wrapped.add_run("依照本规定").add_break()
    wrapped.add_run("第三十条规定处理。Word").add_break()
    wrapped.add_run("break")
    d.add_paragraph("")
    d.add_paragraph("\u3000\u3000第三条\u3000本规定自公布之日起施行。\u3000")
    d.sections[0].footer.paragraphs[0].text = "－6－"
    table = d.add_table(rows=2, cols=3)
    table.rows[0].cells[0].text = "甲"
    table.rows[0].cells[2].text = "丙"
    path = tmp_path / "built.docx"
    d.save(path)
    return path


def test_built_document(tmp_path: Path) -> None:
    ex = read_docx(_build(tmp_path))
    texts = [b.text for b in ex.blocks]
    assert texts == [
        "测试物业管理规定",
        "第一章\u3000总则",          # TOC line: the PAGEREF page number is dropped
        "第一章\u3000总则",
        "第一条\u3000为了测试，制定本规定。",
        "第二条\u3000本规定适用于测试。",  # split: a label with a space after a soft break
        "依照本规定第三十条规定处理。Word break",  # joined: no label-plus-space, Latin words get a space
        "第三条\u3000本规定自公布之日起施行。",
        "甲 | 丙",
    ]
    assert [b.style for b in ex.blocks] == ["title", None, "heading", None, None, None, None, "table"]
    assert ex.blocks[2].level == 1
    assert ex.meta == {"author": "tester", "core_title": "测试物业管理规定(最新版)", "title": "测试物业管理规定"}


# --- faults --------------------------------------------------------------------------------------

def test_truncated_docx(tmp_path: Path) -> None:
    data = sample(JIANCHAFA).read_bytes()
    bad = tmp_path / "truncated.docx"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(IngestError, match=r"^corrupt DOCX: truncated or damaged ZIP"):
        read_docx(bad)


def test_random_bytes(tmp_path: Path) -> None:
    bad = tmp_path / "random.docx"
    bad.write_bytes(random.Random(7).randbytes(4096))
    with pytest.raises(IngestError, match=r"^corrupt DOCX: not a ZIP archive"):
        read_docx(bad)


def test_ole2_file(tmp_path: Path) -> None:
    bad = tmp_path / "encrypted.docx"
    bad.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4088))
    with pytest.raises(IngestError, match=r"^password-protected or legacy \.doc \(OLE2\) file, save as \.docx$"):
        read_docx(bad)


def test_zip_that_is_not_word(tmp_path: Path) -> None:
    bad = tmp_path / "other.docx"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(IngestError, match=r"^corrupt DOCX: .*without word/document\.xml"):
        read_docx(bad)


def test_empty_file(tmp_path: Path) -> None:
    bad = tmp_path / "empty.docx"
    bad.write_bytes(b"")
    with pytest.raises(IngestError, match=r"^corrupt DOCX: empty file"):
        read_docx(bad)


def test_document_without_text(tmp_path: Path) -> None:
    d = docx.Document()
    d.add_paragraph("")
    d.add_paragraph("\u3000\u3000 ")
    d.sections[0].footer.paragraphs[0].text = "－1－"  # footer text is not document text
    path = tmp_path / "blank.docx"
    d.save(path)
    with pytest.raises(IngestError, match=r"^no text in document$"):
        read_docx(path)
