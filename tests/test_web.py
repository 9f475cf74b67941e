"""The site and JSON API through Flask's test client, on the real small corpus with the real model
(the `search_kb` fixture): every route and endpoint, the errors, and the security rules."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from lawkb.search import open_searcher
from lawkb.tools.taskcheck import CLASSES
from lawkb.web import create_app

REPO = Path(__file__).resolve().parent.parent


def make_app(kb, encoder=None, **config):
    searcher = open_searcher(kb, encoder=encoder, use_model=encoder is not None)
    base = {"KB": kb, "SEARCHER": searcher, "RATE_LIMIT_PER_MINUTE": 0, "QUERY_LOG": "", "ADMIN_TOKEN": ""}
    return create_app({**base, **config})


@pytest.fixture(scope="module")
def app(search_kb):
    kb, encoder = search_kb
    return make_app(kb, encoder)


@pytest.fixture()
def client(app):
    return app.test_client()


def html(resp) -> str:
    return resp.get_data(as_text=True)


def csrf_from(page: str) -> str:
    m = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page)
    assert m, "form without a CSRF token"
    return m.group(1)


def article_id(client, ref: str) -> str:
    resp = client.get("/api/v1/lookup", query_string={"ref": ref})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["article_id"]


# ---- resident search ---------------------------------------------------------------------------------

def test_home_page(client):
    resp = client.get("/")
    page = html(resp)
    assert resp.status_code == 200 and "text/html" in resp.content_type
    assert '<label for="q">' in page and 'id="region"' in page and "可以这样问" in page
    assert '<html lang="zh-CN">' in page and "大字模式" in page and "跳到主要内容" in page
    assert "Set-Cookie" not in resp.headers  # searching needs no cookie


def test_search_results_cards(client):
    resp = client.get("/", query_string={"q": "楼上漏水物业不管怎么办"})
    page = html(resp)
    assert resp.status_code == 200 and "Set-Cookie" not in resp.headers
    assert page.count('class="hit"') == 10
    assert "物业管理条例" in page or "民法典" in page
    assert "<mark>" in page and 'class="why"' in page and "为什么显示" in page
    assert 'class="badge status-ok">现行有效' in page and 'class="badge level">' in page
    assert 'class="badge region">全国' in page
    assert "id=\"mode-notice\"" not in page  # hybrid: no lexical notice


def test_search_paging(client):
    p1 = html(client.get("/", query_string={"q": "劳动合同 解除"}))
    p2 = html(client.get("/", query_string={"q": "劳动合同 解除", "page": 2}))
    first = re.findall(r'id="hit-\d+"><a href="([^"]+)"', p1)
    second = re.findall(r'id="hit-\d+"><a href="([^"]+)"', p2)
    assert first and second and not set(first) & set(second)
    assert 'rel="next"' in p1 and 'rel="prev"' in p2 and "page=1" in p2
    assert '<ol class="hits" start="11">' in p2


def test_search_filters_region_level_status(client):
    page = html(client.get("/", query_string={"q": "物业服务", "region": "北京", "level": "地方性法规"}))
    titles = re.findall(r'id="hit-\d+"><a href="[^"]+">《([^》]+)》', page)
    assert titles and all(t.startswith("北京市") for t in titles)
    page = html(client.get("/", query_string={"q": "噪声污染", "status": "已修改"}))
    assert "status-amended" in page and "status-ok\">现行有效" not in page
    page = html(client.get("/", query_string={"q": "噪声", "as_of": "2019-01-01"}))
    assert "环境噪声污染防治法" in page


def test_region_selector_lists_kb_regions(client):
    page = html(client.get("/"))
    assert '<option value="北京">' in page and '<option value="杭州">' in page


def test_nothing_fits_shows_where_to_get_help(client):
    page = html(client.get("/", query_string={"q": "zzqqxx"}))
    assert 'id="no-results"' in page
    for words in ("人民调解委员会", "法律援助机构", "12348"):
        assert words in page
    block = page.split('id="no-results"')[1].split("</div>")[0]
    assert set(re.findall(r"\d{5,}", block)) == {"12348"}  # the national hotline; no other number


def test_help_page(client):
    page = html(client.get("/help"))
    assert "人民调解委员会" in page and "12348" in page


def test_query_is_escaped(client):
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    resp = client.get("/", query_string={"q": payload})
    page = html(resp)
    assert resp.status_code == 200
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page


def test_lexical_mode_says_so(search_kb):
    kb, _ = search_kb
    client = make_app(kb, None).test_client()
    page = html(client.get("/", query_string={"q": "房东不退押金"}))
    assert 'id="mode-notice"' in page and "关键词" in page
    assert client.get("/api/v1/search", query_string={"q": "房东不退押金"}).get_json()["mode"] == "lexical"


def test_lexical_notice_says_why_and_what_to_do_in_chinese():
    from types import SimpleNamespace

    from lawkb.web.views.resident import lexical_notice

    lexical, hybrid = SimpleNamespace(mode="lexical"), SimpleNamespace(mode="hybrid")
    assert lexical_notice(hybrid, None, {"state": "missing", "why": "network"}) is None
    notices = {
        "downloading": lexical_notice(lexical, None, {"state": "downloading", "done": 48, "total": 120}),
        "checking": lexical_notice(lexical, None, {"state": "checking"}),
        "embedding": lexical_notice(lexical, {"done": 5, "total": 50}, {"state": "ready"}),
        **{why: lexical_notice(lexical, None, {"state": "missing", "why": why, "reason": "English, for the log"})
           for why in ("offline", "network", "checksum", "disk", "not_allowed", "failed", None)},
        "unknown": lexical_notice(lexical, None, None),
    }
    assert "正在下载语义模型（已完成 40%）" in notices["downloading"]
    assert "已完成 5 / 50 条" in notices["embedding"]
    assert "不联网" in notices["offline"] and "无法下载" in notices["network"] and "校验" in notices["checksum"]
    assert "磁盘" in notices["disk"] and "自动下载" in notices["not_allowed"]
    for key, text in notices.items():
        assert "关键词" in text, key
        assert not re.search(r"[A-Za-z]", text), (key, text)  # all in Chinese: no English reason leaks
        if key in ("offline", "network", "checksum", "disk", "not_allowed", "failed", None):
            assert "请管理员" in text, key  # what to do


def test_healthz_and_page_tell_the_model_state(search_kb):
    from lawkb.web.views.resident import MODEL_STATE

    kb, _ = search_kb
    app = make_app(kb, None)
    client = app.test_client()
    app.extensions[MODEL_STATE] = {"state": "downloading", "done": 60, "total": 120}
    data = client.get("/healthz").get_json()
    assert data["model"] is False and data["model_state"] == "downloading" and "50%" in data["model_reason"]
    notice = html(client.get("/", query_string={"q": "房东不退押金"})).split('id="mode-notice">')[1]
    assert "正在下载语义模型（已完成 50%）" in notice.split("</p>")[0]
    app.extensions[MODEL_STATE] = {"state": "missing", "why": "network", "reason": "download failed: …"}
    data = client.get("/healthz").get_json()
    assert data["model_state"] == "missing" and "无法下载" in data["model_reason"]
    page = html(client.get("/", query_string={"q": "房东不退押金"}))
    assert "无法下载语义模型" in page and "请管理员" in page


def test_bad_parameters_are_400_pages(client):
    for args in ({"q": "押金", "page": "x"}, {"q": "押金", "level": "不存在"}, {"q": "押金", "as_of": "2020-13-01"},
                 {"q": "押金", "region": "火星"}, {"q": "长" * 2001}):
        resp = client.get("/", query_string=args)
        assert resp.status_code == 400, args
        assert "text/html" in resp.content_type and 'role="alert"' in html(resp)


# ---- article and law pages -------------------------------------------------------------------------

def test_article_page(client):
    aid = article_id(client, "民法典第1032条")
    resp = client.get(f"/a/{aid.replace('#', '%23')}")
    page = html(resp)
    assert resp.status_code == 200
    assert "《中华人民共和国民法典》第一千零三十二条" in page
    assert "自然人享有隐私权" in page and 'class="kuan"' in page
    assert 'class="breadcrumb"' in page and "人格权" in page and "隐私权和个人信息保护" in page
    assert 'rel="prev"' in page and "第一千零三十一条" in page and "第一千零三十三条" in page
    assert 'id="copy-citation"' in page and 'data-copy="#citation"' in page
    assert 'id="permalink"' in page and "%231032" in page
    assert "现行有效" in page and "施行日期" in page


def test_article_items_are_laid_out(client):
    aid = article_id(client, "民法典第1033条")
    page = html(client.get(f"/a/{aid.replace('#', '%23')}"))
    items = re.findall(r"<ul class=\"xiang\">(.*?)</ul>", page, re.S)
    assert items and items[0].count("<li>") >= 5  # 第一千零三十三条 lists (一) to (六)


def test_cross_references_and_cited_by(client):
    aid = article_id(client, "刑法第三十七条之一")
    page = html(client.get(f"/a/{aid.replace('#', '%23')}"))
    link = re.search(r'<a class="xref" href="([^"]+)">第三百一十三条</a>', page)
    assert link, "依照本法第三百一十三条 is not a link"
    target = client.get(link.group(1))
    assert target.status_code == 200 and "《中华人民共和国刑法》第三百一十三条" in html(target)
    assert "第三十七条之一" in html(target).split('id="cited-title"')[1]


def test_cited_by_other_laws_and_cases(client):
    aid = article_id(client, "劳动合同法第26条")
    page = html(client.get(f"/a/{aid.replace('#', '%23')}"))
    link = re.search(r'href="([^"]+)" id="cited-elsewhere"', page).group(1)
    page = html(client.get(link))
    assert "引用《中华人民共和国劳动合同法》第二十六条" in page
    citers = re.findall(r'class="hit-title"><a href="[^"]+">《([^》]+)》', page)
    assert citers and "劳动者与用人单位订立放弃加班费协议，能否主张加班费" in citers
    assert all("劳动合同法》第二十六条" in block for block in page.split('class="hit"')[1:])
    assert client.get("/cited-by/none%23x").status_code == 404


def test_versions_and_changes(client):
    resp = client.get("/api/v1/lookup", query_string={"ref": "民事诉讼法第40条", "as_of": "2022-06-01"})
    old = resp.get_json()
    new = client.get("/api/v1/lookup", query_string={"ref": "民事诉讼法第40条"}).get_json()
    assert old["article_id"] != new["article_id"] and old["text"] != new["text"]
    page = html(client.get(f"/a/{new['article_id'].replace('#', '%23')}"))
    assert "与上一版本相比的修改" in page and ("<ins>" in page or "<del>" in page)
    assert "2021-12-24" in page and "2023-09-01" in page and "有修改" in page
    assert old["article_id"].replace("#", "%23") in page  # the other version is linked
    old_page = html(client.get(f"/a/{old['article_id'].replace('#', '%23')}"))
    assert "已修改" in old_page
    notice = old_page.split('id="version-notice"')[1].split("</p>")[0]
    assert "不是现在施行的条文" in notice and new["article_id"].replace("#", "%23") in notice
    assert 'id="version-notice"' not in page


def test_article_by_number_redirects_to_permalink(client):
    law_id = client.get("/api/v1/lookup", query_string={"ref": "民法典1032"}).get_json()["law_id"]
    resp = client.get(f"/law/{law_id}/article/1032")
    assert resp.status_code == 302 and "%231032" in resp.headers["Location"]
    assert client.get(f"/law/{law_id}/article/第一千零三十二条").status_code == 302
    assert client.get(f"/law/{law_id}/article/99999").status_code == 404
    assert client.get(f"/law/{law_id}/article/abc").status_code == 400


def test_law_page_toc_versions_and_download(client):
    art = client.get("/api/v1/lookup", query_string={"ref": "民事诉讼法第1条"}).get_json()
    page = html(client.get(f"/law/{art['law_id']}"))
    assert "中华人民共和国民事诉讼法" in page and 'id="toc-title"' in page and "第一编 总则" in page
    assert "2021-12-24" in page and "2023-09-01" in page and "下载全文" in page
    resp = client.get(f"/law/{art['law_id']}/text")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.mimetype == "text/plain" and "attachment" in resp.headers["Content-Disposition"]
    assert body.startswith("中华人民共和国民事诉讼法") and art["text"] in body
    assert client.get(f"/law/{art['law_id']}", query_string={"version": "nope"}).status_code == 404
    assert client.get("/law/000000000000").status_code == 404


def test_unknown_article_is_404(client):
    resp = client.get("/a/nothing%23here")
    assert resp.status_code == 404 and "text/html" in resp.content_type


# ---- lawyer tools ------------------------------------------------------------------------------------

def test_lawyer_lookup(client):
    assert client.get("/lawyer/").status_code == 200
    for ref in ("民法典第1032条", "民法典1032", "民法典第一千零三十二条"):
        resp = client.get("/lawyer/lookup", query_string={"ref": ref})
        assert resp.status_code == 303 and "%231032" in resp.headers["Location"], ref
    resp = client.get("/lawyer/lookup", query_string={"ref": "民法典第9999条"})
    assert resp.status_code == 404 and 'id="lookup-error"' in html(resp)
    assert client.get("/lawyer/lookup", query_string={"ref": "随便说说"}).status_code == 400
    assert client.get("/lawyer/lookup").status_code == 400


def test_export_selected_articles(client):
    ids = [article_id(client, "民法典第1032条"), article_id(client, "刑法第二百六十二条之一")]
    resp = client.get("/lawyer/export", query_string={"id": ids, "format": "csv"})
    body = resp.get_data().decode("utf-8-sig")
    assert resp.status_code == 200 and resp.mimetype == "text/csv" and "attachment" in resp.headers["Content-Disposition"]
    assert "《中华人民共和国民法典》第一千零三十二条" in body and "《中华人民共和国刑法》第二百六十二条之一" in body

    from openpyxl import load_workbook

    resp = client.get("/lawyer/export", query_string={"id": ids, "format": "xlsx"})
    ws = load_workbook(io.BytesIO(resp.get_data())).active
    assert ws["A1"].value == "引用" and ws["A2"].value == "《中华人民共和国民法典》第一千零三十二条"
    full = client.get("/api/v1/lookup", query_string={"ref": "民法典第1032条"}).get_json()["text"]
    assert ws["I2"].value == full  # the legal text as stored, unaltered

    from docx import Document

    resp = client.get("/lawyer/export", query_string={"id": ids, "format": "docx"})
    doc = Document(io.BytesIO(resp.get_data()))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "《中华人民共和国民法典》第一千零三十二条" in text and full.split("\n")[0] in text


def test_search_page_export_form(client):
    page = html(client.get("/", query_string={"q": "房东不退押金", "region": "杭州"}))
    form = page.split('class="export-form"')[1].split("</form>")[0]
    assert 'name="q" value="房东不退押金"' in form and 'name="region" value="杭州"' in form
    assert form.count('name="id"') == 10 and 'name="format"' in form


def test_export_result_list_and_errors(client):
    resp = client.get("/lawyer/export", query_string={"q": "房东不退押金", "format": "csv", "k": 5})
    rows = resp.get_data().decode("utf-8-sig").strip().split("\r\n")
    assert resp.status_code == 200 and rows[0].startswith("引用,") and len(rows) >= 6
    assert client.get("/lawyer/export", query_string={"q": "押金", "format": "pdf"}).status_code == 400
    assert client.get("/lawyer/export").status_code == 400
    assert client.get("/lawyer/export", query_string={"id": "no#such"}).status_code == 404


# ---- forms: CSRF, legal tools -------------------------------------------------------------------------

FORM_PAGES = ["/lawyer/cite", "/staff/tasks", "/staff/convention"]


@pytest.mark.parametrize("path", FORM_PAGES)
def test_form_pages_carry_csrf_token_and_cookie(app, path):
    client = app.test_client()
    resp = client.get(path)
    assert resp.status_code == 200
    csrf_from(html(resp))
    cookie = resp.headers["Set-Cookie"]
    assert "lawkb_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


@pytest.mark.parametrize("path", FORM_PAGES + ["/staff/tasks/report"])
def test_posts_without_csrf_token_are_refused(app, path):
    client = app.test_client()
    resp = client.post(path, data={"text": "依照民法典第1032条", "tasks": "人口普查"})
    assert resp.status_code == 400 and "防跨站" in html(resp)
    client.get("/lawyer/cite")  # cookie now set, but a forged token still fails
    resp = client.post(path, data={"text": "x", "csrf_token": "0" * 64})
    assert resp.status_code == 400


def post_form(client, page: str, target: str, data: dict, **kw):
    token = csrf_from(html(client.get(page)))
    return client.post(target, data={**data, "csrf_token": token}, **kw)


def test_citation_checker_page_and_api(app):
    client = app.test_client()
    text = '根据《中华人民共和国民法典》第一千零三十二条，<script>alert(1)</script>'
    resp = post_form(client, "/lawyer/cite", "/lawyer/cite", {"text": text})
    page = html(resp)
    assert resp.status_code == 200 and "<script>alert(1)</script>" not in page and "cite-" in page
    data = client.post("/api/v1/citecheck", json={"text": text}).get_json()
    assert [(c["law_title"], c["article_no"], c["verdict"]) for c in data["citations"]] == [
        ("中华人民共和国民法典", "第一千零三十二条", "current")]


def test_task_check_single_upload_and_report(app):
    client = app.test_client()
    resp = post_form(client, "/staff/tasks", "/staff/tasks", {"tasks": "组织开展人民调解工作"})
    assert resp.status_code == 200 and 'id="tasks-table"' in html(resp)
    csv_data = "任务\n组织开展人民调解工作\n协助开展全国人口普查\n".encode()
    resp = post_form(client, "/staff/tasks", "/staff/tasks",
                     {"file": (io.BytesIO(csv_data), "tasks.csv")}, content_type="multipart/form-data")
    page = html(resp)
    assert resp.status_code == 200 and page.count("<tr>") >= 3
    tasks_json = re.search(r'name="tasks_json" value="([^"]*)"', page).group(1)
    import html as htmlmod

    token = csrf_from(page)
    report = client.post("/staff/tasks/report", data={"csrf_token": token, "tasks_json": htmlmod.unescape(tasks_json)})
    assert report.status_code == 200 and report.get_data()[:2] == b"PK"
    data = client.post("/api/v1/taskcheck", json={"tasks": ["组织开展人民调解工作"]}).get_json()
    (task,) = data["tasks"]
    assert task["task"] == "组织开展人民调解工作" and data["summary"] == {c: int(c == task["class"]) for c in CLASSES}


def test_convention_check_page_and_api(app):
    client = app.test_client()
    draft = "第一条 业主应当爱护公共设施。\n第二条 拖欠物业费的业主，物业公司可以停水停电。"
    resp = post_form(client, "/staff/convention", "/staff/convention", {"text": draft})
    assert resp.status_code == 200 and "检查结果" in html(resp)
    data = client.post("/api/v1/convention", json={"text": draft}).get_json()
    assert [c["flagged"] for c in data["clauses"]] == [False, True]  # 停水停电 is not the convention's to impose


def test_staff_pages_and_bad_uploads(app):
    client = app.test_client()
    assert client.get("/staff/").status_code == 200
    resp = post_form(client, "/staff/convention", "/staff/convention",
                     {"file": (io.BytesIO(b"MZ\x00"), "virus.exe")}, content_type="multipart/form-data")
    assert resp.status_code == 415
    resp = post_form(client, "/staff/convention", "/staff/convention", {"text": "  "})
    assert resp.status_code == 400


# ---- JSON API ----------------------------------------------------------------------------------------

def test_api_search_has_the_cli_keys(client, search_kb):
    kb, _ = search_kb
    resp = client.get("/api/v1/search", query_string={"q": "房东不退押金", "k": 3, "region": "杭州"})
    data = resp.get_json()
    assert resp.status_code == 200 and len(data["hits"]) == 3 and data["mode"] == "hybrid"
    cli = CliRunner().invoke(__import__("lawkb.cli", fromlist=["main"]).main,
                             ["search", "房东不退押金", "--k", "3", "--lexical", "--json", "--kb", str(kb.path)])
    cli_data = json.loads(cli.output)
    assert set(data) == set(cli_data)
    assert set(data["hits"][0]) == set(cli_data["hits"][0])
    assert set(data["hits"][0]["why"]) == set(cli_data["hits"][0]["why"])


def test_api_search_paging_and_errors(client):
    a = client.get("/api/v1/search", query_string={"q": "劳动合同", "k": 5}).get_json()["hits"]
    b = client.get("/api/v1/search", query_string={"q": "劳动合同", "k": 5, "offset": 5}).get_json()["hits"]
    assert not {h["article_id"] for h in a} & {h["article_id"] for h in b}
    for args in ({}, {"q": "x", "k": 0}, {"q": "x", "k": "many"}, {"q": "x", "level": "nope"},
                 {"q": "x", "region": "火星"}, {"q": "x", "as_of": "yesterday"}):
        resp = client.get("/api/v1/search", query_string=args)
        err = resp.get_json()["error"]
        assert resp.status_code == 400 and err["status"] == 400 and err["code"] == "bad_request" and err["message"]


def test_api_article_lookup_laws(client):
    art = client.get("/api/v1/lookup", query_string={"ref": "民法典第1032条"}).get_json()
    assert art["citation"] == "《中华人民共和国民法典》第一千零三十二条" and art["url"].endswith("%231032")
    same = client.get(f"/api/v1/articles/{art['article_id'].replace('#', '%23')}").get_json()
    assert same["text"] == art["text"]
    law = client.get(f"/api/v1/laws/{art['law_id']}").get_json()
    assert law["title"] == "中华人民共和国民法典" and law["versions"]
    listed = client.get("/api/v1/laws", query_string={"region": "北京"}).get_json()
    assert listed["total"] >= 1 and all(x["region_province"] == "北京" for x in listed["laws"])
    assert client.get("/api/v1/laws", query_string={"level": "nope"}).status_code == 400
    for path, status in (("/api/v1/articles/none%23x", 404), ("/api/v1/laws/none", 404),
                         ("/api/v1/lookup?ref=民法典第9999条", 404), ("/api/v1/lookup", 400),
                         ("/api/v1/lookup?ref=hello", 400), ("/api/v1/unknown", 404)):
        resp = client.get(path)
        assert resp.status_code == status and resp.get_json()["error"]["status"] == status, path


def test_api_post_errors(client):
    resp = client.get("/api/v1/citecheck")
    assert resp.status_code == 405 and resp.get_json()["error"]["code"] == "method_not_allowed"
    resp = client.post("/api/v1/citecheck", data="text=x", content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 415
    assert client.post("/api/v1/citecheck", json={"text": ""}).status_code == 400
    assert client.post("/api/v1/taskcheck", json={"tasks": []}).status_code == 400


def test_openapi_documents_every_api_route(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and spec["info"]["title"]
    routes = {re.sub(r"<(?:path:)?(\w+)>", r"{\1}", r.rule) for r in app.url_map.iter_rules()
              if r.rule.startswith("/api/v1/") and r.rule != "/api/v1/openapi.json"}
    assert routes <= set(spec["paths"]), routes - set(spec["paths"])
    assert "/healthz" in spec["paths"]


def test_healthz(client):
    data = client.get("/healthz").get_json()
    assert data["status"] == "ok" and data["laws"] > 10 and data["articles"] > 1000 and data["model"] is True


# ---- security and privacy ----------------------------------------------------------------------------

def test_security_headers(client):
    for path in ("/", "/api/v1/search?q=押金", "/static/site.css", "/nope"):
        resp = client.get(path)
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_assets_are_local_and_scripts_external():
    for path in list((REPO / "web" / "templates").glob("*.html")) + list((REPO / "web" / "static").glob("*")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(?:src|href)=\"(?:https?:)?//", text), path  # no CDN, font or script
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path    # no inline script
        assert not re.search(r"\son[a-z]+=", text), path                     # no inline handlers
        assert "style=" not in text, path


def test_static_files_served(client):
    css, js = client.get("/static/site.css"), client.get("/static/site.js")
    assert css.status_code == 200 and "html.large" in css.get_data(as_text=True)
    assert js.status_code == 200 and "clipboard" in js.get_data(as_text=True)


def test_rate_limit(search_kb):
    kb, encoder = search_kb
    client = make_app(kb, encoder, RATE_LIMIT_PER_MINUTE=3).test_client()
    codes = [client.get("/api/v1/lookup?ref=民法典1032").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    resp = client.get("/")
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1
    assert client.get("/api/v1/lookup?ref=民法典1032").get_json()["error"]["code"] == "rate_limited"
    assert client.get("/healthz").status_code == 200  # monitoring is not limited


def test_request_size_limit(search_kb):
    kb, encoder = search_kb
    client = make_app(kb, encoder, MAX_CONTENT_LENGTH=1024).test_client()
    resp = client.post("/api/v1/convention", json={"text": "长" * 4000})
    assert resp.status_code == 413 and resp.get_json()["error"]["code"] == "too_large"
    page = post_form(client, "/staff/convention", "/staff/convention",
                     {"file": (io.BytesIO(b"x" * 4000), "draft.txt")}, content_type="multipart/form-data")
    assert page.status_code == 413


def test_no_query_log_by_default_and_no_addresses_when_on(search_kb, tmp_path):
    kb, encoder = search_kb
    client = make_app(kb, encoder).test_client()
    client.get("/", query_string={"q": "房东不退押金"})
    assert not list(tmp_path.iterdir())
    log = tmp_path / "queries.jsonl"
    client = make_app(kb, encoder, QUERY_LOG=str(log)).test_client()
    client.get("/", query_string={"q": "房东不退押金"}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    client.get("/api/v1/search", query_string={"q": "物业费"}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    assert [x["q"] for x in lines] == ["房东不退押金", "物业费"]
    assert "10.1.2.3" not in log.read_text(encoding="utf-8")


# ---- admin: off by default, token when on; an ingested document's markup stays text ------------------

@pytest.fixture(scope="module")
def admin_kb(tmp_path_factory):
    from lawkb.ingest.pipeline import ingest
    from lawkb.search import open_kb
    from lawkb.search.store.embedded.indexer import build_index

    kb = open_kb(str(tmp_path_factory.mktemp("adminkb")), create=True)
    ingest(kb, [REPO / "corpus" / "community"])
    build_index(kb)
    yield kb
    kb.close()


XSS_DOC = """# 测试小区<script>alert('t')</script>管理规约

第一条 为了<script>alert('x')</script>维护业主合法权益，<img src=x onerror=alert(1)>制定本规约。

第二条 本规约依照本法第一条制定。
"""


def test_admin_disabled_by_default(admin_kb):
    client = make_app(admin_kb).test_client()
    resp = client.post("/api/v1/admin/reindex", headers={"Authorization": "Bearer anything"})
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"


def test_admin_token_ingest_and_escaping(admin_kb):
    client = make_app(admin_kb, ADMIN_TOKEN="s3cret-token").test_client()
    assert client.post("/api/v1/admin/reindex").status_code == 403
    assert client.post("/api/v1/admin/reindex", headers={"Authorization": "Bearer wrong"}).status_code == 403
    auth = {"Authorization": "Bearer s3cret-token"}
    assert client.post("/api/v1/admin/reindex", headers=auth).get_json()["status"] == "ok"
    resp = client.post("/api/v1/admin/ingest", headers=auth, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(XSS_DOC.encode()), "xss.md")})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["report"]["added"] == 1
    resp = client.post("/api/v1/admin/ingest", headers=auth, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(b"x"), "run.sh")})
    assert resp.status_code == 415
    hits = client.get("/api/v1/search", query_string={"q": "维护业主合法权益 规约", "level": "自治规约"}).get_json()
    target = next(h for h in hits["hits"] if "alert" in h["text"])
    page = html(client.get(f"/a/{target['article_id'].replace('#', '%23')}"))
    assert "<script>alert" not in page and "<img src=x" not in page and "&lt;script&gt;" in page


# ---- serving: a fresh KB answers lexically at once, vectors arrive in the background ------------------

@pytest.fixture()
def fresh_kb_dir(tmp_path):
    """A KB just ingested and indexed, with no vectors: what scripts/start leaves behind."""
    from lawkb.ingest.pipeline import ingest
    from lawkb.search import open_kb
    from lawkb.search.store.embedded.indexer import build_index

    kb = open_kb(str(tmp_path / "kb"), create=True)
    ingest(kb, [REPO / "corpus" / "community"])
    build_index(kb)
    kb.close()
    return tmp_path / "kb"


def test_fresh_kb_is_lexical_until_background_vectors_are_ready(fresh_kb_dir, model_dir, monkeypatch):
    from lawkb.web.server import embed_in_background

    monkeypatch.setenv("LAWKB_MODEL", str(model_dir))
    app = create_app({"KB_LOCATOR": str(fresh_kb_dir), "RATE_LIMIT_PER_MINUTE": 0})
    client = app.test_client()
    page = html(client.get("/", query_string={"q": "业主 公共设施", "level": "自治规约"}))
    assert 'id="mode-notice"' in page
    thread = embed_in_background(app, str(fresh_kb_dir))
    assert thread is not None
    thread.join(timeout=300)
    assert not thread.is_alive() and app.extensions["lawkb"].embedding is None
    data = client.get("/api/v1/search", query_string={"q": "业主 公共设施", "level": "自治规约"}).get_json()
    assert data["mode"] == "hybrid" and data["hits"]
    assert 'id="mode-notice"' not in html(client.get("/", query_string={"q": "业主 公共设施", "level": "自治规约"}))


def test_lawkb_serve_runs_waitress(fresh_kb_dir):
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lawkb = Path(sys.executable).parent / "lawkb"
    proc = subprocess.Popen([str(lawkb), "serve", "--kb", str(fresh_kb_dir), "--port", str(port), "--no-embed"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, body, headers = time.time() + 120, None, None
        while time.time() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
                    body, headers = json.loads(resp.read()), resp.headers
            except OSError:
                time.sleep(0.3)
        assert body and body["status"] == "ok" and body["backend"] == "embedded"
        assert headers["Server"] == "lawkb"  # waitress, with our ident, not Werkzeug's development server
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/?q=%E7%89%A9%E4%B8%9A%E8%B4%B9", timeout=30) as resp:
            assert resp.status == 200 and "查询结果" in resp.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture()
def no_local_model(tmp_path, monkeypatch):
    """No LAWKB_MODEL, an empty cache, no shared models, no mvn, downloads allowed: a fresh install."""
    monkeypatch.delenv("LAWKB_MODEL", raising=False)
    monkeypatch.delenv("LAWKB_OFFLINE", raising=False)
    monkeypatch.setenv("LAWKB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LAWKB_SHARED", str(tmp_path / "nowhere"))
    monkeypatch.setenv("LAWKB_ENCODER_TUNING", "none")  # where the model comes from, not what is built from it
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    return tmp_path / "cache" / "models" / "bge-small-zh-v1.5"


def test_fresh_install_downloads_the_model_in_the_background(fresh_kb_dir, model_dir, no_local_model, monkeypatch):
    from lawkb.search.encode import download as dl_mod
    from lawkb.web.server import embed_in_background
    from lawkb.web.views.resident import MODEL_STATE

    monkeypatch.setattr(dl_mod, "HF_URLS", {n: (model_dir / n).as_uri() for n in dl_mod.MODEL_FILES})
    app = create_app({"KB_LOCATOR": str(fresh_kb_dir), "RATE_LIMIT_PER_MINUTE": 0})
    client = app.test_client()
    assert client.get("/healthz").get_json()["model"] is False  # the site answers before any download
    thread = embed_in_background(app, str(fresh_kb_dir))
    thread.join(timeout=300)
    assert not thread.is_alive() and app.extensions[MODEL_STATE]["state"] == "ready"
    assert sorted(p.name for p in no_local_model.iterdir()) == ["SHA256SUMS", *sorted(dl_mod.MODEL_FILES)]
    health = client.get("/healthz").get_json()
    assert health["model"] is True and health["model_state"] == "ready" and health["model_reason"] is None
    data = client.get("/api/v1/search", query_string={"q": "业主 公共设施", "level": "自治规约"}).get_json()
    assert data["mode"] == "hybrid" and data["hits"]


@pytest.mark.parametrize("why", ["network", "offline"])
def test_no_model_is_logged_and_shown_in_chinese(why, fresh_kb_dir, no_local_model, monkeypatch, caplog):
    import socket

    from lawkb.search.encode import download as dl_mod
    from lawkb.web.server import embed_in_background
    from lawkb.web.views.resident import MODEL_STATE

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens there: refused at once
    monkeypatch.setattr(dl_mod, "HF_URLS", {n: f"{closed}/{n}" for n in dl_mod.MODEL_FILES})
    if why == "offline":
        monkeypatch.setenv("LAWKB_OFFLINE", "1")
    app = create_app({"KB_LOCATOR": str(fresh_kb_dir), "RATE_LIMIT_PER_MINUTE": 0})
    client = app.test_client()
    with caplog.at_level("WARNING", logger="lawkb.web"):
        thread = embed_in_background(app, str(fresh_kb_dir))
        thread.join(timeout=120)
    assert app.extensions[MODEL_STATE]["state"] == "missing" and app.extensions[MODEL_STATE]["why"] == why
    lines = [r.getMessage() for r in caplog.records if "keyword-only" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert "LAWKB_MODEL" in lines[0] and str(no_local_model) in lines[0]  # what to do
    assert ("download failed" if why == "network" else "LAWKB_OFFLINE") in lines[0]  # why
    health = client.get("/healthz").get_json()
    assert health["model"] is False and health["model_state"] == "missing"
    notice = html(client.get("/", query_string={"q": "业主 公共设施"})).split('id="mode-notice">')[1].split("</p>")[0]
    assert ("无法下载语义模型" if why == "network" else "不联网") in notice and "请管理员" in notice
    assert not re.search(r"[A-Za-z]", notice)


# ---- the same site over Elasticsearch ------------------------------------------------------------------

@pytest.fixture(scope="module")
def es_client(es_url, search_kb):
    import uuid

    from lawkb.ingest.pipeline import ingest
    from lawkb.search import open_kb, open_searcher

    kb = open_kb(f"{es_url}/w{uuid.uuid4().hex[:10]}", create=True)
    kb.encoder = search_kb[1]  # the session's model: the ES build embeds its few articles with it
    report = ingest(kb, [REPO / "corpus" / "community"])
    assert not report.failed
    app = create_app({"KB": kb, "SEARCHER": open_searcher(kb), "RATE_LIMIT_PER_MINUTE": 0})
    yield app.test_client()
    kb.cleanup()
    kb.es.indices.delete(index=kb.current_index())
    kb.close()


def test_site_over_elasticsearch(es_client):
    health = es_client.get("/healthz").get_json()
    assert health["status"] == "ok" and health["backend"] != "embedded" and health["articles"] > 10
    args = {"q": "业主 爱护公共设施", "level": "自治规约"}
    page = html(es_client.get("/", query_string=args))
    assert 'class="hit"' in page and "规约" in page
    data = es_client.get("/api/v1/search", query_string={**args, "k": 3}).get_json()
    assert data["hits"] and {"article_id", "law_title", "snippet_html", "why"} <= set(data["hits"][0])
    hit = data["hits"][0]
    art = html(es_client.get(f"/a/{hit['article_id'].replace('#', '%23')}"))
    assert f"《{hit['law_title']}》" in art and 'id="copy-citation"' in art
    law = es_client.get(f"/law/{hit['law_id']}")
    assert law.status_code == 200 and 'id="toc-title"' in html(law)
    assert es_client.get(f"/law/{hit['law_id']}/text").status_code == 200
    assert es_client.get("/api/v1/articles/none%23x").status_code == 404


@pytest.mark.parametrize("method,url,body,status", [
    ("GET", "/?q=物业&_anchor=x", None, 200),                       # the pager no longer feeds url_for these
    ("GET", "/?q=物业&_external=1&_scheme=https", None, 200),
    ("GET", "/lawyer/export?q=物业&k=²", None, 400),                 # isdigit() but not int()
    ("GET", "/lawyer/export?q=物业&k=①", None, 400),
    ("GET", "/api/v1/laws?q=" + "法" * 60000, None, 400),            # SQLite: LIKE pattern too complex
    ("GET", "/api/v1/search?q=物业&law=" + "法" * 60000, None, 400),
    ("POST", "/api/v1/citecheck", '{"text": "\\ud800民法典第1条"}', 400),  # a lone surrogate
    ("POST", "/api/v1/citecheck", "[" * 1000 + "]" * 1000, 400),     # nested past the parser's stack
])
def test_hostile_arguments_get_a_chinese_400_not_a_500(client, method, url, body, status):
    r = client.get(url) if method == "GET" else client.post(url, data=body, content_type="application/json")
    assert r.status_code == status
    if status == 400:
        message = r.get_data(as_text=True)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in message), message[:200]
    else:
        page = r.get_data(as_text=True)
        assert "_anchor" not in page and "_scheme" not in page


def test_api_posts_from_another_site_are_refused_and_same_site_or_scripts_pass(client):
    body = {"text": "依据《中华人民共和国民法典》第一千零三十二条"}
    foreign = client.post("/api/v1/citecheck", json=body, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403 and "其他网站" in foreign.get_json()["error"]["message"]
    assert client.post("/api/v1/citecheck", json=body, headers={"Origin": "null"}).status_code == 403
    assert client.post("/api/v1/citecheck", json=body, headers={"Origin": "http://localhost"}).status_code == 200
    assert client.post("/api/v1/citecheck", json=body).status_code == 200   # curl, scripts: no Origin
