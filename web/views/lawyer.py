"""Lawyer tools: exact article lookup, export with full citations, the citation checker."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, redirect, render_template, request, url_for

from lawkb.core.errors import KBError
from lawkb.search.contract import Query
from lawkb.search.lookup import lookup_article

from .. import exports, params
from ..errors import WebError
from ..links import absolute_url
from ..resources import res
from ..tools import tool

bp = Blueprint("lawyer", __name__, url_prefix="/lawyer")

MAX_EXPORT = 200


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
