"""Change reports and watch lists (lawkb.tools.changes, `lawkb changes`, /lawyer/changes) on the tools KB's
real versions: 治安管理处罚法 2012 → 2025 (in force 2026-01-01), 城市居民委员会组织法 2018 → 2025, the
生态环境法典 adopted 2026-03-12 that repeals 噪声污染防治法 and others from 2026-08-15. Today is pinned to
2026-11-28 (conftest), so the default window starts 2025-11-28."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from lawkb.cli import main
from lawkb.core.lineage import ADDED, CHANGED, DELETED, RENUMBERED, RENUMBERED_CHANGED, UNCHANGED
from lawkb.tools.changes import NEW_LAW, REPEALED, bracket_diff, default_since, report, to_csv, to_docx

CJK = re.compile(r"[\u4e00-\u9fff]")
REPO = Path(__file__).resolve().parent.parent
ZHIAN = "中华人民共和国治安管理处罚法"
WATCH = """关于本案的法律意见：根据《中华人民共和国治安管理处罚法》第四十三条，殴打他人的应予处罚。
刑法第一百条
民法典1032
《噪声污染防治法》第二条
《环境影响评价法》第十条
《不存在法》第三条
治安管理处罚法第九百条
"""


@pytest.fixture(scope="module")
def full(tools_kb):
    return report(tools_kb)


@pytest.fixture(scope="module")
def watched(tools_kb):
    return report(tools_kb, watch_text=WATCH)


def pick(rep: dict, law_title: str, *, old_no: str | None = None, new_no: str | None = None) -> list[dict]:
    return [e for e in rep["entries"] if e["law_title"] == law_title
            and (old_no is None or (e["old"] or {}).get("article_no") == old_no)
            and (new_no is None or (e["new"] or {}).get("article_no") == new_no)]


# ---- the report ---------------------------------------------------------------------------------------

def test_default_window_is_the_last_twelve_months(full):
    assert full["since"] == "2025-11-28" == default_since("2026-11-28") and full["today"] == "2026-11-28"
    assert default_since("2028-02-29") == "2027-02-28"


def test_renumbered_and_changed_articles_with_verbatim_texts_and_diff(tools_kb, full):
    (e,) = pick(full, ZHIAN, old_no="第四十三条")
    assert e["change"] == RENUMBERED_CHANGED and e["new"]["article_no"] == "第五十一条"
    assert (e["version_date"], e["effective"], e["prev_version_date"]) == ("2025-06-27", "2026-01-01", "2012-10-26")
    # the texts are the KB's own, unaltered; the diff holds both
    assert e["old"]["text"] == tools_kb.article_by_id(e["old"]["article_id"])["text"]
    assert e["new"]["text"] == tools_kb.article_by_id(e["new"]["article_id"])["text"]
    assert "并处[-二-]{+五+}百元以上[-五百-]{+一千+}元以下罚款" in e["diff"]
    assert e["diff"] == bracket_diff(e["old"]["text"], e["new"]["text"])
    kinds = {x["change"] for x in pick(full, ZHIAN)}
    assert {CHANGED, RENUMBERED, RENUMBERED_CHANGED, ADDED, DELETED} <= kinds
    moved = next(x for x in pick(full, ZHIAN) if x["change"] == RENUMBERED)
    assert moved["old"]["text"] == moved["new"]["text"] and moved["diff"] is None
    assert moved["old"]["article_no"] != moved["new"]["article_no"]


def test_unchanged_articles_are_counted_not_listed(full):
    assert full["summary"][UNCHANGED] > 0
    assert not [e for e in full["entries"] if e["change"] == UNCHANGED]


def test_repeals_come_with_the_repealing_provision(tools_kb, full):
    (e,) = [x for x in full["entries"] if x["law_title"] == "中华人民共和国噪声污染防治法"]
    assert e["change"] == REPEALED and e["repealed_on"] == "2026-08-15"
    assert e["replaced_by"] == "中华人民共和国生态环境法典"
    source = tools_kb.article_by_id(e["repeal"]["article_id"])
    assert e["repeal"]["text"] == source["text"] and "《中华人民共和国噪声污染防治法》" in source["text"]
    # a law the KB holds no text of, repealed by the same code, is reported from its clause
    unheld = [x for x in full["entries"] if x["law_title"] == "中华人民共和国环境影响评价法"]
    assert unheld and unheld[0]["change"] == REPEALED and unheld[0]["law_id"] is None
    # 环境噪声污染防治法 was repealed in 2022, before the window
    assert not [x for x in full["entries"] if x["law_title"] == "中华人民共和国环境噪声污染防治法"]


def test_new_laws_and_the_window(tools_kb, full):
    (code,) = [x for x in full["entries"] if x["law_title"] == "中华人民共和国生态环境法典"]
    assert code["change"] == NEW_LAW and code["version_date"] == "2026-03-12"
    # 刑法's 2023 amendment is before the window, and inside one that starts earlier
    assert not pick(full, "中华人民共和国刑法")
    earlier = report(tools_kb, since="2023-01-01")
    assert [e for e in pick(earlier, "中华人民共和国刑法") if e["change"] == CHANGED]
    later = report(tools_kb, since="2026-09-01")
    assert not pick(later, ZHIAN) and not pick(later, "中华人民共和国噪声污染防治法")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        report(tools_kb, since="2025/01/01")


# ---- watch lists --------------------------------------------------------------------------------------

def test_watch_follows_a_renumbered_article(watched):
    (e,) = pick(watched, ZHIAN)
    assert e["change"] == RENUMBERED_CHANGED and e["old"]["article_no"] == "第四十三条"
    assert e["new"]["article_no"] == "第五十一条"
    assert e["watched"] == ["《中华人民共和国治安管理处罚法》第四十三条"]
    assert all(x["watched"] for x in watched["entries"])


def test_watch_reports_unchanged_repealed_and_unresolved(watched):
    (crim,) = pick(watched, "中华人民共和国刑法")
    assert crim["change"] == UNCHANGED and crim["new"]["article_no"] == "第一百条" and "没有修改" in crim["note"]
    (civil,) = pick(watched, "中华人民共和国民法典")       # a bare line: 民法典1032
    assert civil["change"] == UNCHANGED and civil["new"]["article_no"] == "第一千零三十二条"
    (noise,) = pick(watched, "中华人民共和国噪声污染防治法")
    assert noise["change"] == REPEALED and noise["repeal"]["article_no"] == "第一千二百四十二条"
    (eia,) = pick(watched, "中华人民共和国环境影响评价法")
    assert eia["change"] == REPEALED and eia["law_id"] is None
    cites = {c["span"]: c for c in watched["watch"]["citations"]}
    assert not cites["《不存在法》第三条"]["found"] and "没有《不存在法》" in cites["《不存在法》第三条"]["note"]
    assert not cites["治安管理处罚法第九百条"]["found"] and cites["治安管理处罚法第九百条"]["entries"] == 0
    assert "没有第九百条" in cites["治安管理处罚法第九百条"]["note"]


def test_watch_reports_a_law_repealed_before_the_window(tools_kb):
    rep = report(tools_kb, since="2027-01-01", watch_text="《噪声污染防治法》第二条\n《治安管理处罚法》第五十一条")
    (noise,) = pick(rep, "中华人民共和国噪声污染防治法")
    assert noise["change"] == REPEALED and "早于2027-01-01" in noise["note"]
    (zhian,) = pick(rep, ZHIAN)   # read in the 2025 text, in force the day before the window
    assert zhian["change"] == UNCHANGED and zhian["new"]["article_no"] == "第五十一条"
    assert zhian["new"]["text"].startswith("殴打他人的")


def test_watching_a_whole_law(tools_kb, full):
    rep = report(tools_kb, watch_text="《城市居民委员会组织法》")
    law = "中华人民共和国城市居民委员会组织法"
    assert len(pick(rep, law)) == len(pick(full, law)) > 20
    assert {e["change"] for e in rep["entries"]} == {RENUMBERED_CHANGED, ADDED, DELETED}


# ---- exports ------------------------------------------------------------------------------------------

def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def _docx_text(data: bytes):
    from docx import Document

    doc = Document(io.BytesIO(data))
    return doc, "\n".join(p.text for p in doc.paragraphs)


def test_csv_and_docx_exports_hold_every_entry(watched):
    rows = _csv_rows(to_csv(watched))
    assert rows[0][:3] == ["变动", "法律名称", "条文"] and len(rows) == len(watched["entries"]) + 1
    row = next(r for r in rows if r[1] == ZHIAN)
    assert row[0] == RENUMBERED_CHANGED and row[2] == "第五十一条（原第四十三条）"
    entry = pick(watched, ZHIAN)[0]
    assert entry["old"]["text"] in row and entry["new"]["text"] in row and entry["diff"] in row
    doc, text = _docx_text(to_docx(watched))
    assert "第五十一条（原第四十三条）" in text and "不存在法" in text and "不构成法律意见" in text
    struck = "".join(r.text for p in doc.paragraphs for r in p.runs if r.font.strike)
    underlined = "".join(r.text for p in doc.paragraphs for r in p.runs if r.font.underline)
    assert "二" in struck and "一千" in underlined
    assert "修改后的条文：" + entry["new"]["text"] in text


def test_csv_cells_never_start_a_formula(watched):
    """A cell that starts like a formula (here a watched citation as a hostile list could name it) is
    written with a leading apostrophe, so a spreadsheet shows it as text."""
    rep = {**watched, "entries": [{**e, "watched": ['=HYPERLINK("http://x")', "-1"]} for e in watched["entries"]]}
    rows = _csv_rows(to_csv(rep))[1:]
    assert rows and all(cell[:1] not in ("=", "+", "-", "@") for r in rows for cell in r)
    assert rows[0][-1] == "'=HYPERLINK(\"http://x\")；-1"


# ---- the command --------------------------------------------------------------------------------------

def test_cli_json_text_and_files(tools_kb, tmp_path):
    kb = ["--kb", tools_kb.locator]
    r = CliRunner().invoke(main, ["changes", *kb, "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert set(rep) == {"since", "today", "watch", "summary", "laws", "entries"} and rep["watch"] is None
    assert set(rep["entries"][0]) == set(report(tools_kb)["entries"][0])

    from docx import Document

    advice = Document()
    advice.add_paragraph("根据《中华人民共和国治安管理处罚法》第四十三条，对殴打他人的行为应予处罚。")
    advice.add_paragraph("刑法第一百条")
    advice.save(tmp_path / "advice.docx")
    r = CliRunner().invoke(main, ["changes", *kb, "--since", "2025-11-28", "--watch", str(tmp_path / "advice.docx"),
                                  "--out", str(tmp_path / "report.csv")])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    head = next(line for line in lines if line.startswith(RENUMBERED_CHANGED))
    assert "《中华人民共和国治安管理处罚法》第五十一条（原第四十三条）" in head and "2026-01-01施行" in head
    assert any("并处[-二-]{+五+}百元以上" in line for line in lines)
    assert any(line.startswith(UNCHANGED) and "第一百条" in line for line in lines)
    assert len(_csv_rows((tmp_path / "report.csv").read_bytes())) == 3

    r = CliRunner().invoke(main, ["changes", *kb, "--brief", "--out", str(tmp_path / "all.docx")])
    assert r.exit_code == 0 and "[-" not in r.output
    _, text = _docx_text((tmp_path / "all.docx").read_bytes())
    assert "法律变动报告" in text and "生态环境法典" in text

    bad = CliRunner().invoke(main, ["changes", *kb, "--since", "2025-13-01"])
    assert bad.exit_code != 0 and "不是日历上存在的日期" in bad.output
    assert CliRunner().invoke(main, ["changes", *kb, "--out", str(tmp_path / "x.pdf")]).exit_code != 0
    (tmp_path / "w.exe").write_bytes(b"MZ")
    refused = CliRunner().invoke(main, ["changes", *kb, "--watch", str(tmp_path / "w.exe")])
    assert refused.exit_code != 0 and "不支持的文件类型" in refused.output


# ---- the page -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(tools_kb):
    from lawkb.search import open_searcher
    from lawkb.web import create_app

    return create_app({"KB": tools_kb, "SEARCHER": open_searcher(tools_kb, use_model=False),
                       "RATE_LIMIT_PER_MINUTE": 0}).test_client()


def _token(client) -> str:
    page = client.get("/lawyer/changes").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page).group(1)


def test_page_form_report_and_exports(client):
    page = client.get("/lawyer/changes").get_data(as_text=True)
    assert "法律变动报告" in page and 'value="2025-11-28"' in page and "关注清单" in page
    assert "/lawyer/changes" in client.get("/lawyer/").get_data(as_text=True)
    resp = client.get("/lawyer/changes", query_string={"since": "2025-11-28"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "条号变动且有修改" in page and "原<a" in page
    assert "<del>二</del><ins>五</ins>" in page and "生态环境法典" in page and "废止依据" in page
    csv_resp = client.get("/lawyer/changes", query_string={"since": "2025-11-28", "format": "csv"})
    assert csv_resp.status_code == 200 and "attachment" in csv_resp.headers["Content-Disposition"]
    assert any(r[2] == "第五十一条（原第四十三条）" for r in _csv_rows(csv_resp.data))
    docx_resp = client.get("/lawyer/changes", query_string={"since": "2025-11-28", "format": "docx"})
    assert "第五十一条（原第四十三条）" in _docx_text(docx_resp.data)[1]


@pytest.mark.parametrize("args", [{"since": "2025-02-30"}, {"since": "昨天"}, {"since": "2025-11-28", "format": "pdf"}])
def test_page_refuses_bad_arguments_in_chinese(client, args):
    resp = client.get("/lawyer/changes", query_string=args)
    message = re.search(r'<p class="error-message" role="alert">([^<]+)</p>', resp.get_data(as_text=True)).group(1)
    assert resp.status_code == 400 and CJK.search(message)


def test_page_watch_list_pasted_uploaded_and_exported(client):
    resp = client.post("/lawyer/changes", data={"csrf_token": _token(client), "since": "2025-11-28", "watch": WATCH})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "第五十一条" in page and "已核对" in page and "无法核对" in page
    assert "城市居民委员会组织法" not in page   # not on the list
    upload = io.BytesIO("《治安管理处罚法》第四十三条\n".encode())
    resp = client.post("/lawyer/changes", content_type="multipart/form-data",
                       data={"csrf_token": _token(client), "since": "2025-11-28", "file": (upload, "清单.txt")})
    assert resp.status_code == 200 and "<del>二</del><ins>五</ins>" in resp.get_data(as_text=True)
    resp = client.post("/lawyer/changes", data={"csrf_token": _token(client), "since": "2025-11-28",
                                                "watch": WATCH, "format": "docx"})
    assert resp.status_code == 200 and "不存在法" in _docx_text(resp.data)[1]
    assert client.post("/lawyer/changes", data={"watch": WATCH}).status_code == 400    # no CSRF token
    empty = client.post("/lawyer/changes", data={"csrf_token": _token(client), "watch": "  "})
    assert empty.status_code == 400 and "关注的条文引用" in empty.get_data(as_text=True)


def _probes():
    spec = importlib.util.spec_from_file_location("upload_probes", REPO / "benchmarks" / "upload_probes.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


HOSTILE = ["docx entity expansion", "docx external entity", "docx not a zip", "txt binary junk"]


@pytest.mark.parametrize("name", HOSTILE + ["program", "control character in name"])
def test_hostile_watch_uploads_are_refused_in_chinese(client, name):
    if name == "program":
        data, filename, status = b"MZ\x90\x00", "清单.exe", 415
    elif name == "control character in name":
        data, filename, status = "刑法第一百条".encode(), "\x07.txt", 400
    else:
        _, filename, status, _, build = _probes().PROBES[name]
        data = build()
    resp = client.post("/lawyer/changes", content_type="multipart/form-data",
                       data={"csrf_token": _token(client), "file": (io.BytesIO(data), filename)})
    page = resp.get_data(as_text=True)
    assert resp.status_code == status, page[:300]
    message = re.search(r'<p class="error-message" role="alert">([^<]+)</p>', page).group(1)
    assert CJK.search(message) and "Traceback" not in page
