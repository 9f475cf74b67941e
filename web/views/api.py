"""The JSON API under /api/v1, its OpenAPI document, and /healthz. Every error has the shape
{"error": {"status", "code", "message"}} (see errors.py)."""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request, url_for

from lawkb.core.model import LEVELS, STATUSES
from lawkb.search.lookup import citation, lookup_article

from .. import params
from ..errors import WebError
from ..openapi import spec
from ..resources import res
from ..security import require_admin
from ..tools import document_text, tool, upload
from .resident import model_state, model_status_words

bp = Blueprint("api", __name__)
_admin_lock = threading.Lock()


def _article_json(art: dict) -> dict:
    return {**art, "citation": citation(art),
            "url": url_for("laws.article", article_id=art["article_id"], _external=True)}


def _body() -> dict:
    if not request.is_json:
        raise WebError(415, "请求体应为 JSON（Content-Type: application/json）")
    try:
        data = request.get_json(silent=True)
    except RecursionError:   # nested deeper than the parser's stack
        raise WebError(400, "请求体嵌套过深") from None
    if not isinstance(data, dict):
        raise WebError(400, "请求体应为 JSON 对象")
    for value in data.values():
        # a lone surrogate (\ud800) survives JSON decoding but not encoding: refuse it here, in words
        if isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise WebError(400, "文本中有无法识别的字符（不成对的代理码位），请检查后重新提交") from None
    return data


@bp.get("/healthz")
def healthz():
    r = res()
    stats = r.stats()
    model = r.searcher.encoder() is not None
    state = model_state()
    # model: whether search uses one now; model_state / model_reason: why not yet, as the page says it.
    if model:
        name, reason = "ready", None
    else:
        name = (state or {}).get("state") or "missing"
        reason = model_status_words(state, r.embedding) or "语义模型或向量不可用"
        name = "embedding" if r.embedding is not None else name
    return jsonify({"status": "ok", "backend": stats.get("backend"), "laws": stats.get("laws"),
                    "articles": stats.get("articles"), "model": model, "model_state": name,
                    "model_reason": reason, "embedding": r.embedding})


@bp.get("/api/v1/openapi.json")
def openapi():
    return jsonify(spec(url_for("resident.search", _external=True).rstrip("/"), LEVELS, STATUSES))


@bp.get("/api/v1/search")
def search():
    r = res()
    query = params.api_query(request.args)
    result = r.searcher.search(query)
    r.log_query(query.text, region=query.filters.region, hits=len(result.hits), mode=result.mode)
    return jsonify(result.to_dict())


@bp.get("/api/v1/articles/<path:article_id>")
def article(article_id: str):
    art = res().kb.article_by_id(article_id)
    if art is None:
        raise WebError(404, f"没有编号为 {article_id[:80]} 的条文")
    return jsonify(_article_json(art))


@bp.get("/api/v1/lookup")
def lookup():
    ref = (request.args.get("ref") or "").strip()
    if not ref:
        raise WebError(400, "缺少参数 ref（例如 民法典第1032条）")
    return jsonify(_article_json(lookup_article(res().kb, ref[:200], as_of=params.as_of_date(request.args))))


@bp.get("/api/v1/laws")
def laws():
    a = request.args
    if a.get("level") and a["level"] not in LEVELS:
        raise WebError(400, f"未知的效力级别 {a['level'][:20]!r}")
    if a.get("status") and a["status"] not in STATUSES:
        raise WebError(400, f"未知的时效性 {a['status'][:20]!r}")
    rows = res().kb.laws(level=a.get("level") or None, region=params.name_arg(a, "region"),
                         status=a.get("status") or None, q=params.name_arg(a, "q"))
    keys = ("law_id", "law_title", "short_title", "aliases", "level", "issuing_body", "region_province",
            "region_city", "status", "current_version", "replaced_by", "repealed_on", "n_versions")
    return jsonify({"total": len(rows), "laws": [{k: row.get(k) for k in keys} for row in rows[:1000]]})


@bp.get("/api/v1/laws/<law_id>")
def law(law_id: str):
    found = res().kb.law(law_id)
    if found is None:
        raise WebError(404, f"没有编号为 {law_id[:40]} 的法律")
    return jsonify(found)


@bp.post("/api/v1/citecheck")
def citecheck():
    data = _body()
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise WebError(400, "字段 text 应为非空字符串")
    as_of = params.as_of_date({"as_of": str(data.get("as_of") or "")})
    return jsonify(tool("citecheck").check_citations(res().kb, text, as_of=as_of))


@bp.post("/api/v1/taskcheck")
def taskcheck():
    r = res()
    taskmod = tool("taskcheck")
    got = upload(request.files.get("file"))
    if got is not None:
        try:
            tasks = taskmod.read_tasks(*got)
        except ValueError as exc:
            raise WebError(400, f"无法读取任务清单：{exc}") from None
        region = request.form.get("region") or None
    else:
        data = _body()
        tasks, region = data.get("tasks"), data.get("region") or None
        if isinstance(tasks, str):
            tasks = [tasks]
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, (str, dict)) for t in tasks):
        raise WebError(400, "字段 tasks 应为非空的任务列表（字符串或对象）")
    if len(tasks) > 500:
        raise WebError(413, "一次最多检查 500 项任务")
    return jsonify(taskmod.check_tasks(r.kb, tasks, region=region, searcher=r.searcher))


@bp.post("/api/v1/convention")
def convention():
    got = upload(request.files.get("file"))
    if got is not None:
        text = document_text(*got)
    else:
        text = _body().get("text")
    if not isinstance(text, str) or not text.strip():
        raise WebError(400, "字段 text 应为非空字符串，或上传 file")
    return jsonify(tool("convention").check_convention(res().kb, text))


# ---- admin: off unless an operator sets a token ------------------------------------------------------

def _kb_dir() -> Path:
    """Where uploaded files are kept: inside an embedded KB's folder (a server-side store has none)."""
    kb = res().kb
    if kb.backend != "embedded":
        raise WebError(400, "此知识库后端不支持在网站上上传文件，请用 lawkb ingest 命令")
    return Path(kb.locator)


@bp.post("/api/v1/admin/reindex")
def admin_reindex():
    require_admin()
    from lawkb.search import open_kb

    with _admin_lock:
        kb = open_kb(res().kb.locator)  # its own connection: the site keeps reading on the shared one
        try:
            timing = kb.index()
        finally:
            kb.close()
        res().clear_caches()
    return jsonify({"status": "ok", "index": timing})


@bp.post("/api/v1/admin/ingest")
def admin_ingest():
    require_admin()
    got = upload(request.files.get("file"))
    if got is None:
        raise WebError(400, "请以 multipart 字段 file 上传文件")
    data, name = got
    if Path(name).suffix.lower() not in {".md", ".txt", ".html", ".htm", ".pdf", ".docx"}:
        raise WebError(415, "只能上传 Markdown、TXT、HTML、PDF 或 DOCX 文件")
    from lawkb.ingest.pipeline import ingest
    from lawkb.search import open_kb

    with _admin_lock:
        folder = _kb_dir() / "uploads"
        folder.mkdir(exist_ok=True)
        target = folder / name
        target.write_bytes(data)
        kb = open_kb(str(_kb_dir()))
        try:
            report = ingest(kb, [target], prune=False, max_bytes=current_app.config["MAX_CONTENT_LENGTH"])
            timing = kb.index()
        finally:
            kb.close()
        res().clear_caches()
    return jsonify({"status": "ok", "report": report.to_dict(), "index": timing})
