"""The structurer on real LawRefBook files and on the layouts that fool naive splitters."""

from pathlib import Path

import pytest
from conftest import reproduction_gap

from lawkb.core.model import KIND_ARTICLE
from lawkb.ingest.blocks import Block, Extracted
from lawkb.ingest.pipeline import read_document
from lawkb.ingest.structure import build_document
from lawkb.ingest.text_reader import decode_text, read_text_file


def parse(path: Path):
    return read_document(path.read_bytes(), path)


@pytest.mark.parametrize("rel", [
    "诉讼与非诉讼程序法/民事诉讼法(2021-12-24).md",
    "宪法/宪法.md",
    "刑法/刑法.md",
    "民法典/合同编.md",
    "案例/劳动人事",
    "DLC/北京地方法规/地方性法规/北京/北京市物业管理条例(2024-03-29).md",
])
def test_units_reproduce_the_body(lawrefbook, rel):
    paths = sorted((lawrefbook / rel).glob("*.md")) if (lawrefbook / rel).is_dir() else [lawrefbook / rel]
    for path in paths:
        if path.name != "_index.md":
            assert reproduction_gap(path, parse(path)) is None, path


def test_civil_procedure_law(lawrefbook):
    doc = parse(lawrefbook / "诉讼与非诉讼程序法/民事诉讼法(2021-12-24).md")
    arts = [a for a in doc.articles if a.kind == KIND_ARTICLE]
    assert len(arts) == 291
    assert [a.number for a in arts] == list(range(1, 292))
    assert doc.version_date == "2021-12-24" and doc.adopted == "1991-04-09"
    assert [ev.action for ev in doc.history] == ["通过", "修正", "修正", "修正", "修正"]
    assert doc.level == "法律" and doc.issuing_body
    first = arts[0]
    assert first.path == ["第一编 总则", "第一章 任务、适用范围和基本原则"]
    assert first.line_start == 19
    # 款 and 项 stay distinct: 第一百二十二条 has a lead paragraph with four items
    a122 = next(a for a in arts if a.number == 122)
    assert len(a122.paragraphs) == 1 and len(a122.paragraphs[0].items) == 4
    assert a122.paragraphs[0].items[0].startswith("（一）")


def test_constitution_keeps_its_preamble(lawrefbook):
    doc = parse(lawrefbook / "宪法/宪法.md")
    assert doc.articles[0].number_text == "序言"
    assert doc.articles[0].text.startswith("中国是世界上历史最悠久的国家之一")
    assert sum(a.kind == KIND_ARTICLE for a in doc.articles) == 143
    assert doc.level == "宪法"


def test_criminal_law_articles_with_zhi_yi(lawrefbook):
    doc = parse(lawrefbook / "刑法/刑法.md")
    keys = {a.key for a in doc.articles if a.kind == KIND_ARTICLE}
    assert {"260-1", "262-1", "262-2", "120-1"} <= keys
    assert doc.version_date == "2023-12-29"


def test_real_gap_is_reported(lawrefbook):
    doc = parse(lawrefbook / "民法商法/农民专业合作社法(2017-12-27).md")
    assert doc.extra["gaps"] == [54]
    assert any("skip 1: 第五十四条" in w for w in doc.warnings)


def test_malformed_label_is_read_and_reported(lawrefbook):
    # LawRefBook prints '第一百二十八 条侦查人员…': the article is there, its label is broken.
    doc = parse(lawrefbook / "诉讼与非诉讼程序法/刑事诉讼法(2018-10-26).md")
    numbers = [a.number for a in doc.articles if a.kind == KIND_ARTICLE]
    assert numbers == list(range(1, 309))
    assert any("malformed article label" in w and "第一百二十八条" in w for w in doc.warnings)


def test_truncated_law_is_reported(lawrefbook):
    doc = parse(lawrefbook / "经济法/长江保护法(2020-12-26).md")
    numbers = [a.number for a in doc.articles if a.kind == KIND_ARTICLE]
    assert max(numbers) == 79
    assert any("truncated" in w for w in doc.warnings)


def test_cross_references_do_not_split_articles():
    text = "\n".join([
        "# 示例条例", "", "<!-- INFO END -->", "",
        "第一条　为了规范示例，制定本条例。", "",
        "第二条　有下列情形之一的，依照本条例第五条的规定处理：", "",
        "第五条规定的期限届满的，适用前款。", "",
        "第三条、第四条规定的情形除外。", "",
        "第三条　本条例自公布之日起施行。",
    ])
    doc = build_document(read_text_file(text.encode()), source="x", filename="x.md")
    arts = [a for a in doc.articles if a.kind == KIND_ARTICLE]
    assert [a.number for a in arts] == [1, 2, 3]
    assert "第五条规定的期限届满的" in arts[1].text and "第三条、第四条规定的情形除外" in arts[1].text


def test_table_of_contents_is_skipped():
    blocks = [Block(t) for t in [
        "中华人民共和国示例法", "（2020年1月1日第十三届全国人民代表大会常务委员会第一次会议通过）", "目　　录",
        "第一章　总　　则", "第二章　附　　则", "第一章　总　　则", "第一条　为了示例，制定本法。",
        "第二章　附　　则", "第二条　本法自2020年6月1日起施行。",
    ]]
    doc = build_document(Extracted(blocks, "docx"), source="x", filename="x.docx")
    arts = [a for a in doc.articles if a.kind == KIND_ARTICLE]
    assert [a.path for a in arts] == [["第一章 总则"], ["第二章 附则"]]
    assert doc.extra["toc"] and doc.effective == "2020-06-01" and doc.adopted == "2020-01-01"


def test_gb18030_file_decodes_to_the_same_articles(lawrefbook, tmp_path):
    src = lawrefbook / "行政法规/物业管理条例(2018-03-19).md"
    gbk = tmp_path / src.name
    gbk.write_bytes(src.read_text(encoding="utf-8").replace("\u200b", "").encode("gb18030"))
    assert decode_text(gbk.read_bytes())[1] == "gb18030"
    a, b = parse(src), parse(gbk)
    assert [x.text for x in a.articles] == [x.text for x in b.articles]
    assert len(a.articles) > 60


def test_traditional_characters_are_kept(samples):
    doc = parse(samples / "conventions/tw_椰城社區規約_rules.md")
    arts = [a for a in doc.articles if a.kind == KIND_ARTICLE]
    assert arts and arts[0].number_text == "第一條"
    assert "區分所有權人" in arts[0].text
    assert doc.level == "自治规约"
