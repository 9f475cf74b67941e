"""The JSON API under /api/v1, its OpenAPI document, and /healthz. Every error has the shape
{"error": {"status", "code", "message"}} (see errors.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request

from lawkb.core.model import LEVELS, STATUSES
from lawkb.search.lookup import citation, lookup_article
from lawkb.tools.repeals import repeal_info

from .. import params
from ..errors import WebError
from ..links import absolute_url
from ..openapi import spec
from ..resources import res
from ..security import require_admin
from ..tools import document_text, tool, upload
from .resident import model_state, model_status_words

bp = Blueprint("api", __name__)
_admin_lock = threading.Lock()


def _article_json(art: dict) -> dict:
    return {**art, "citation": citation(art),
            "url": absolute_url("laws.article", article_id=art["article_id"])}


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
    return jsonify(spec(absolute_url("resident.search").rstrip("/"), LEVELS, STATUSES))


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
    kb = res().kb
    art = lookup_article(kb, ref[:200], as_of=params.as_of_date(request.args))
    law = kb.law(art["law_id"])
    return jsonify({**_article_json(art), "repeal": repeal_info(kb, law, art) if law else None})


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
    text = params.body_text(data, "text")
    as_of = params.as_of_date({"as_of": params.body_text(data, "as_of", max_chars=40, required=False) or ""})
    return jsonify(tool("citecheck").check_citations(res().kb, text, as_of=as_of))


@bp.post("/api/v1/taskcheck")
def taskcheck():
    r = res()
    taskmod = tool("taskcheck")
    got = upload(request.files.get("file"))
    columns = None
    if got is not None:
        listed = taskmod.read_task_list(*got)   # unreadable or oversized: a KBError with its status
        tasks, region = listed.tasks, params.name_arg(request.form, "region")
        columns = {"task": listed.task_column, "department": listed.department_column,
                   "ignored": listed.ignored_columns, "note": listed.describe()}
    else:
        data = _body()
        tasks, region = data.get("tasks"), params.body_name(data, "region")
    tasks = params.task_list(tasks, taskmod.MAX_TASKS)
    result = taskmod.check_tasks(r.kb, tasks, region=region, searcher=r.searcher)
    if columns is not None:
        result["columns"] = columns
    return jsonify(result)


@bp.post("/api/v1/convention")
def convention():
    got = upload(request.files.get("file"))
    if got is not None:
        text = document_text(*got)
        if not text.strip():
            raise WebError(400, "上传的文件里没有文字")
    else:
        text = params.body_text(_body(), "text")
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
        target, previous = _place_upload(_kb_dir() / "uploads", name, data)
        kb = open_kb(str(_kb_dir()))
        try:
            report = ingest(kb, [target], prune=False, max_bytes=current_app.config["MAX_CONTENT_LENGTH"])
            # A file that did not go in is not kept: uploads/ holds only what the KB holds.
            if report.failed:
                raise WebError(422, f"文件未能入库：{report.failed[0][1]}")
            if report.skipped:
                raise WebError(409, f"文件未入库：{report.skipped[0][1]}")
            timing = kb.index()
        except BaseException:
            _restore(target, previous)
            raise
        else:
            if previous is not None:
                previous.unlink(missing_ok=True)
        finally:
            kb.close()
        res().clear_caches()
    return jsonify({"status": "ok", "report": report.to_dict(), "index": timing})


def _place_upload(folder: Path, name: str, data: bytes) -> tuple[Path, Path | None]:
    """Write an upload as folder/name without following links: a symbolic link already in uploads/ (or
    uploads/ itself a link) would otherwise write the file wherever it points. A file already there is
    moved aside, to be restored if the new one fails."""
    if folder.is_symlink():
        raise WebError(409, "上传目录是符号链接，已拒绝写入；请管理员检查知识库目录")
    folder.mkdir(exist_ok=True)
    target = folder / name
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise WebError(409, f"上传目录中的 {name} 不是普通文件（可能是符号链接），已拒绝写入")
    previous = None
    if target.exists():
        previous = target.with_name(f".{name}.previous")
        os.replace(target, previous)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as exc:
        _restore(target, previous)
        raise WebError(409, f"无法写入上传文件：{exc.strerror or exc}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return target, previous


def _restore(target: Path, previous: Path | None) -> None:
    if previous is not None and previous.exists():
        os.replace(previous, target)
    elif previous is None:
        target.unlink(missing_ok=True)
