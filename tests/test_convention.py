"""The convention check on real drafts: 68 labelled clauses (tests/data/convention.tsv), the project's own
lawful example documents, and the provisions it cites (all from the KB)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lawkb.tools.convention import RULES, check_convention, split_clauses

DATA = Path(__file__).parent / "data" / "convention.tsv"
COMMUNITY = Path(__file__).resolve().parent.parent / "corpus" / "community"
TARGET = 0.9


def labelled() -> list[tuple[str, bool, set[str]]]:
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            text, flag, kinds = (line.split("\t") + ["", "", ""])[:3]
            rows.append((text, flag == "1", {k for k in kinds.split(",") if k}))
    return rows


@pytest.fixture(scope="module")
def results(tools_kb):
    return [(text, flag, kinds, check_convention(tools_kb, text)) for text, flag, kinds in labelled()]


def test_precision_and_recall(results):
    tp = fp = fn = 0
    misses = []
    for text, flag, _kinds, res in results:
        assert len(res["clauses"]) == 1, text
        got = res["clauses"][0]["flagged"]
        tp += got and flag
        fp += got and not flag
        fn += flag and not got
        if got != flag:
            misses.append(text)
    tn = len(results) - tp - fp - fn
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    print(f"convention flags: precision {precision:.3f}, recall {recall:.3f} ({tp} tp, {fp} fp, {fn} fn, {tn} tn); "
          f"misses: {misses}")
    assert precision >= TARGET and recall >= TARGET
    # on enough of both kinds: at least 10 overreaching clauses flagged and 10 lawful ones passed
    assert tp >= 10 and tn >= 10, (tp, tn)


def test_flagged_clauses_name_the_right_kind_and_cite_the_kb(results, tools_kb):
    for text, flag, kinds, res in results:
        clause = res["clauses"][0]
        if not (flag and clause["flagged"]):
            assert clause["citations"] == [] and clause["reasons"] == []
            continue
        assert kinds <= set(clause["kinds"]), text
        assert clause["reasons"] and clause["citations"]
        for cite in clause["citations"]:
            law = tools_kb.find_laws(cite["law_title"])
            assert law, cite
            number = int(next(a["number"] for a in tools_kb.articles(law[0]["current_version"])
                              if a["article_no"] == cite["article_no"]))
            # Cited words are the statute's own, from the version in force.
            assert tools_kb.article(law[0]["law_id"], number)["text"] == cite["text"]


def test_every_rule_cites_only_provisions_the_kb_holds(tools_kb):
    res = check_convention(tools_kb, "对违规者罚款并没收其财物，关押在活动室，停水停电，公开其姓名和住址，强制捐款，"
                                     "入户搜查，查看其手机聊天记录，剥夺其选举权，游街示众。")
    (clause,) = res["clauses"]
    assert set(clause["kinds"]) == {r.key for r in RULES}
    titles = {(c["law_title"], c["article_no"]) for c in clause["citations"]}
    assert ("中华人民共和国行政处罚法", "第九条") in titles
    assert ("中华人民共和国立法法", "第十一条") in titles
    assert ("中华人民共和国民法典", "第九百四十四条") in titles
    assert ("中华人民共和国个人信息保护法", "第二十五条") in titles
    assert ("中华人民共和国城市居民委员会组织法", "第三十一条") in titles


@pytest.mark.parametrize("name", ["示例社区居民公约.md", "示例小区管理规约.md", "示例社区居民自治章程.md"])
def test_lawful_example_documents_are_not_flagged(tools_kb, name):
    res = check_convention(tools_kb, (COMMUNITY / name).read_text(encoding="utf-8"))
    assert len(res["clauses"]) >= 20
    assert [c["text"] for c in res["clauses"] if c["flagged"]] == []


def test_split_numbered_draft():
    draft = ("# 某某小区居民公约\n\n第一章 总则\n第一条　为了……制定本公约。\n第二条　居民应当遵守本公约。\n"
             "违反的，由居民小组长劝导。\n第二章 附则\n第三条　本公约自通过之日起施行。\n")
    assert split_clauses(draft) == ["第一条　为了……制定本公约。", "第二条　居民应当遵守本公约。\n违反的，由居民小组长劝导。",
                                    "第三条　本公约自通过之日起施行。"]
    assert split_clauses("居民公约\n爱护公物。不乱扔垃圾，违者罚款五十元。") == ["爱护公物。", "不乱扔垃圾，违者罚款五十元。"]


def test_cli_convention_check(tools_kb, tmp_path):
    from lawkb.cli import main

    f = tmp_path / "draft.txt"
    f.write_text("第一条　居民应当爱护公共设施。\n第二条　拖欠物业费的，停水停电。\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["convention-check", str(f), "--kb", tools_kb.locator, "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert [c["flagged"] for c in data["clauses"]] == [False, True]
    assert {"text", "flagged", "reasons", "citations"} <= set(data["clauses"][1])
    assert {"law_title", "article_no"} <= set(data["clauses"][1]["citations"][0])
    r = CliRunner().invoke(main, ["convention-check", "-", "--kb", tools_kb.locator], input="第一条 罚款一百元。\n第二条 表扬好人好事。\n")
    assert r.exit_code == 0 and "[需修改]" in r.output and "行政处罚法" in r.output
