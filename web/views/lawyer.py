"""Lawyer tools: exact article lookup, export with full citations, the citation checker."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, redirect, render_template, request, url_for

from lawkb.core import settings
from lawkb.core.errors import KBError
from lawkb.search.contract import Query
from lawkb.search.lookup import lookup_article

from .. import exports, params
from ..articles import diff_html
from ..errors import WebError
from ..links import absolute_url
from ..resources import res
from ..tools import document_text, tool, upload

bp = Blueprint("lawyer", __name__, url_prefix="/lawyer")

MAX_EXPORT = 200
MAX_CHANGES_SHOWN = 1000   # rows on the changes page; the export has them all


@bp.get("/")
def tools():
    return render_template("lawyer.html", ref="", error=None)


@bp.get("/lookup")
def lookup():
    ref = (request.args.get("ref") or "").strip()
    if not ref:
        return render_template("lawyer.html", ref="", error="请输入要查找的条文，例如：民法典1032 或 民法典第一千零三十二条"), 400
    try:
        art = lookup_article(res().kb, ref[:200], as_of=params.as_of_date(request.args))
    except KBError as exc:
        message = f"找不到“{ref[:200]}”：{exc}"
        return render_template("lawyer.html", ref=ref, error=message), getattr(exc, "status", 400)
    return redirect(url_for("laws.article", article_id=art["article_id"]), code=303)


def _export_articles() -> tuple[list[dict], str]:
    r = res()
    ids = [x for x in request.args.getlist("id") if x][:MAX_EXPORT]
    if ids:
        found = r.kb.articles_by_ids(ids)
        arts = [found[i] for i in ids if i in found]
        if not arts:
            raise WebError(404, "选中的条文都不存在")
        return arts, "选中的条文"
    q = params.question(request.args, required=False)
    if not q:
        raise WebError(400, "请先选中条文，或给出查询（参数 id 或 q）")
    k = params.int_arg(request.args, "k", 50, 1, params.MAX_K)
    result = r.searcher.search(Query(q, k=max(k, 1), filters=params.filters(request.args)))
    found = r.kb.articles_by_ids([h.article_id for h in result.hits])
    arts = [found[h.article_id] for h in result.hits if h.article_id in found]
    return arts, f"查询“{q}”的结果"


@bp.get("/export")
def export():
    fmt = (request.args.get("format") or "csv").lower()
    if fmt not in exports.FORMATS:
        raise WebError(400, f"不支持的导出格式 {fmt[:10]!r}：可选 csv、xlsx、docx")
    arts, title = _export_articles()
    data = exports.rows(arts, lambda a: absolute_url("laws.article", article_id=a["article_id"]))
    if fmt == "csv":
        body = exports.to_csv(data)
    elif fmt == "xlsx":
        body = exports.to_xlsx(data)
    else:
        body = exports.to_docx(data, title)
    name = f"法律条文.{fmt}"
    return Response(body, mimetype=exports.FORMATS[fmt], headers={
        "Content-Disposition": f"attachment; filename=\"lawkb-export.{fmt}\"; filename*=UTF-8''{quote(name)}"})


@bp.route("/cite", methods=["GET", "POST"])
def cite():
    text, result, as_of = "", None, None
    if request.method == "POST":
        text = (request.form.get("text") or "").strip()
        as_of = params.as_of_date(request.form)
        if not text:
            raise WebError(400, "请粘贴要检查的文字")
        if len(text) > params.MAX_TEXT_CHARS:
            raise WebError(413, f"文字太长：最多 {params.MAX_TEXT_CHARS} 字")
        result = tool("citecheck").check_citations(res().kb, text, as_of=as_of)
    return render_template("cite.html", text=text, result=result, as_of=as_of or "")


def _changes_page_groups(result: dict) -> list[dict]:
    """The entries shown on the page, each law's together with its counts, the diff marked up for HTML."""
    counts = {row["law_id"] or row["law_title"]: row["counts"] for row in result["laws"]}
    groups: list[dict] = []
    for e in result["entries"][:MAX_CHANGES_SHOWN]:
        key = e["law_id"] or e["law_title"]
        if not groups or groups[-1]["key"] != key:
            groups.append({"key": key, "law_id": e["law_id"], "law_title": e["law_title"], "entries": [],
                           "counts": counts.get(key, {})})
        old, new = (e["old"] or {}).get("text"), (e["new"] or {}).get("text")
        marked = diff_html(old, new) if e["diff"] else None
        groups[-1]["entries"].append({**e, "diff_html": marked})
    return groups


@bp.route("/changes", methods=["GET", "POST"])
def changes():
    """What changed since a date (GET ?since=), or only what a watch list cites (POST: pasted or
    uploaded); format=csv|docx downloads the report instead."""
    changes_tool = tool("changes")
    form = request.form if request.method == "POST" else request.args
    since = (form.get("since") or "").strip()[:20] or None
    fmt = (form.get("format") or "").strip().lower()
    if fmt and fmt not in ("csv", "docx"):
        raise WebError(400, f"不支持的导出格式 {fmt[:10]!r}：可选 csv、docx")
    watch = None
    if request.method == "POST":
        got = upload(request.files.get("file"))
        watch = document_text(*got) if got is not None else (request.form.get("watch") or "")
        if len(watch) > params.MAX_TEXT_CHARS:
            raise WebError(413, f"关注清单太长：最多 {params.MAX_TEXT_CHARS} 字")
        if not watch.strip():
            raise WebError(400, "请粘贴关注的条文引用（例如法律意见书、权责清单），或上传 TXT / MD / DOCX 文件")
    elif "since" not in request.args:
        return render_template("changes.html", result=None, groups=[], watch="",
                               since=changes_tool.default_since(settings.today()))
    try:
        result = changes_tool.report(res().kb, since=since, watch_text=watch)
    except ValueError as exc:   # a date that is not YYYY-MM-DD: the message is Chinese
        raise WebError(400, str(exc)) from None
    if fmt:
        body = changes_tool.to_csv(result) if fmt == "csv" else changes_tool.to_docx(result)
        name = f"法律变动报告-{result['since']}.{fmt}"
        return Response(body, mimetype=exports.FORMATS[fmt], headers={
            "Content-Disposition": f"attachment; filename=\"lawkb-changes.{fmt}\"; filename*=UTF-8''{quote(name)}"})
    return render_template("changes.html", result=result, groups=_changes_page_groups(result),
                           since=result["since"], watch=watch or "", summary=changes_tool.summary_line(result),
                           shown=min(len(result["entries"]), MAX_CHANGES_SHOWN))
