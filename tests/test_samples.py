"""Every real file in ../shared/corpus/samples ingests with the article count its source shows, or is
reported with a precise reason."""

from __future__ import annotations

import pytest

from lawkb.core.model import KIND_ARTICLE
from lawkb.ingest.blocks import IngestError
from lawkb.ingest.pipeline import ingest, read_document
from lawkb.search import open_kb
from lawkb.search.lookup import find_law

# file -> (articles, title, level, version date). Counts were read off each source: contiguous numbers
# from 第一条, the last one being the text's own closing article.
EXPECTED = {
    "conventions/cn-jl_碧桂园江山名筑_业主大会议事规则.md": (43, "吉林省住宅小区业主大会议事规则", "自治规约", None),
    "conventions/cn-jl_碧桂园江山名筑_小区管理规约.docx": (34, "吉林省住宅小区管理规约", "自治规约", None),
    "conventions/cn-jl_碧桂园江山名筑_小区管理规约.md": (34, "吉林省住宅小区管理规约", "自治规约", None),
    "conventions/tw_椰城社區規約_rules.md": (23, "椰城社區規約", "自治规约", None),
    "conventions/tw_椰城社區規約及管理辦法113-05-10.pdf": (23, "社區規約", "自治规约", None),
    "docx/flk2016tpl_中华人民共和国劳动合同法.docx": (98, "中华人民共和国劳动合同法", "法律", "2012-12-28"),
    "docx/flk_中华人民共和国全国人民代表大会和地方各级人民代表大会代表法_20250311.docx":
        (65, "中华人民共和国全国人民代表大会和地方各级人民代表大会代表法", "法律", "2025-03-11"),
    "docx/flk_中华人民共和国监察法_20241225.docx": (78, "中华人民共和国监察法", "法律", "2024-12-25"),
    "docx/flk_人大常委会关于授权国务院在新疆自贸区暂时调整适用种子法有关规定的决定_20250430.docx": (
        0, "全国人民代表大会常务委员会关于授权国务院在中国（新疆）自由贸易试验区暂时调整适用《中华人民共和国种子法》有关规定的决定",
        "法律", "2025-04-30"),
    "docx/flk_工伤保险条例.docx": (67, "工伤保险条例", "行政法规", "2010-12-20"),
    "docx/mislabeled_中华人民共和国劳动法_实为劳动合同法.docx": (97, "中华人民共和国劳动法", "法律", "2007-06-29"),
    "docx/webpaste_劳动合同法实施条例.docx": (38, "劳动合同法实施条例", None, None),
    "html/govcn-fragment_专利代理条例_国令706.html": (32, "专利代理条例", "行政法规", "2018-09-06"),
    "html/govcn-fragment_国务院关于印发个人所得税专项附加扣除暂行办法的通知_国发2018-41.html":
        (32, "个人所得税专项附加扣除暂行办法", None, "2018-12-22"),
    "html/govcn-fragment_国务院关于印发国务院工作规则的通知_国发2004-18.html": (0, "国务院工作规则", None, "2004-06-16"),
    "html/wikijs-export_中华人民共和国合伙企业法.html": (109, "中华人民共和国合伙企业法", "法律", None),
    "pdf/chrome-print_中华人民共和国劳动合同法实施条例.pdf": (38, "中华人民共和国劳动合同法实施条例", "行政法规", None),
    "pdf/flk-itext_上海市劳动合同条例.pdf": (62, "上海市劳动合同条例", "地方性法规", "2001-11-15"),
    "pdf/npc-word_中华人民共和国民营经济促进法.pdf": (78, "中华人民共和国民营经济促进法", "法律", "2025-04-30"),
    "pdf/tw-moj-itext_公寓大廈管理條例_111-05-11.pdf": (66, "公寓大廈管理條例", None, "2022-05-11"),
    "pdf/word-webcopy_中华人民共和国网络安全法.pdf": (79, "中华人民共和国网络安全法", "法律", "2016-11-07"),
    "pdf/word2016_中华人民共和国个人信息保护法.pdf": (74, "中华人民共和国个人信息保护法", "法律", "2021-08-20"),
    "pdf/wps-quartz_中华人民共和国劳动合同法.pdf": (98, "中华人民共和国劳动合同法", "法律", "2012-12-28"),
    "pdf/wps_中华人民共和国宪法_2018.pdf": (143, "中华人民共和国宪法", "宪法", "2018-03-11"),
    "txt/docx-extracted-no-header_中华人民共和国刑法.txt": (504, "中华人民共和国刑法", "法律", None),
    "txt/pdf-extracted_中华人民共和国民营经济促进法.txt": (78, "中华人民共和国民营经济促进法", "法律", "2025-04-30"),
}
REJECTED = {
    "html/flk-detail2-shell_中华人民共和国增值税法.html": "JavaScript",
}


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_sample(samples, rel):
    path = samples / rel
    doc = read_document(path.read_bytes(), path)
    count, title, level, version_date = EXPECTED[rel]
    numbers = [a.number for a in doc.articles if a.kind == KIND_ARTICLE]
    assert len(numbers) == count
    assert numbers == sorted(numbers), "articles come in order"
    assert sorted(set(numbers)) == list(range(1, (max(numbers) if numbers else 0) + 1)), "no gaps"
    assert doc.title == title
    if level:
        assert doc.level == level
    assert doc.version_date == version_date
    assert all(a.line_start or a.page_start for a in doc.articles), "every unit keeps its provenance"
    if rel.endswith(".pdf"):
        assert all(a.page_start for a in doc.articles)


@pytest.mark.parametrize("rel", sorted(REJECTED))
def test_rejected_sample(samples, rel):
    path = samples / rel
    with pytest.raises(IngestError, match=REJECTED[rel]):
        read_document(path.read_bytes(), path)


def test_every_sample_is_covered(samples):
    files = {str(p.relative_to(samples)) for p in samples.rglob("*") if p.is_file() and p.name != "SOURCES.md"}
    assert files == set(EXPECTED) | set(REJECTED)


def test_constitution_pdf_keeps_preamble_and_sections(samples):
    path = samples / "pdf/wps_中华人民共和国宪法_2018.pdf"
    doc = read_document(path.read_bytes(), path)
    assert doc.articles[0].number_text == "序言" and "中国是世界上历史最悠久的国家之一" in doc.articles[0].text
    a = next(a for a in doc.articles if a.number == 57)
    assert a.path[0].startswith("第三章") and a.path[1].startswith("第一节")


def test_notice_is_split_from_the_document_it_carries(samples):
    path = samples / "html/govcn-fragment_国务院关于印发个人所得税专项附加扣除暂行办法的通知_国发2018-41.html"
    doc = read_document(path.read_bytes(), path)
    assert doc.articles[0].number_text == "印发通知" and "印发给你们" in doc.articles[0].text
    assert "国务院关于印发个人所得税专项附加扣除暂行办法的通知" in doc.aliases
    assert doc.doc_number == "国发〔2018〕41号"


def test_mislabeled_file_is_identified_by_its_text(samples, lawrefbook, tmp_path):
    kb = open_kb(str(tmp_path / "kb"), create=True)
    report = ingest(kb, [samples / "docx/mislabeled_中华人民共和国劳动法_实为劳动合同法.docx",
                         lawrefbook / "社会法/劳动合同法(2012-12-28).md"])
    assert not report.failed
    law = find_law(kb, "劳动合同法")
    versions = kb.law(law["law_id"])["versions"]
    assert [(v["version_date"], v["status"]) for v in versions] == [("2007-06-29", "已修改"),
                                                                     ("2012-12-28", "现行有效")]
    assert kb.find_laws("中华人民共和国劳动法") == []
    kb.close()


def test_all_samples_ingest_together(samples, tmp_path):
    kb = open_kb(str(tmp_path / "kb"), create=True)
    report = ingest(kb, [samples])
    assert [r for _, r in report.failed] == [next(iter(REJECTED.values()))] or len(report.failed) == 1
    assert report.added == len(EXPECTED)
    kb.close()
