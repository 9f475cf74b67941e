"""Article and law pages, and a law's text as a download."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, redirect, render_template, request, url_for

from lawkb.core.numerals import cn_to_int
from lawkb.search.lookup import citation
from lawkb.tools.repeals import repeal_note, replacement_of

from ..articles import article_view, cited_elsewhere
from ..errors import WebError
from ..params import as_of_date
from ..resources import res

bp = Blueprint("laws", __name__)


def get_article(article_id: str) -> dict:
    art = res().kb.article_by_id(article_id)
    if art is None:
        raise WebError(404, f"没有编号为 {article_id[:80]} 的条文。")
    return art


def get_law(law_id: str) -> dict:
    law = res().kb.law(law_id)
    if law is None:
        raise WebError(404, f"没有编号为 {law_id[:40]} 的法律。")
    return law


def pick_version(law: dict, version_id: str | None) -> dict:
    versions = law.get("versions", [])
    wanted = version_id or law.get("current_version")
    for v in versions:
        if v["version_id"] == wanted:
            return v
    if version_id:
        raise WebError(404, f"{law['title']} 没有版本 {version_id[:60]}")
    if versions:
        return versions[-1]
    raise WebError(404, f"{law['title']} 没有任何版本")


@bp.get("/a/<path:article_id>")
def article(article_id: str):
    view = article_view(res(), get_article(article_id))
    return render_template("article.html", **view)


@bp.get("/cited-by/<path:article_id>")
def cited_by(article_id: str):
    art = get_article(article_id)
    law = get_law(art["law_id"])
    hits = cited_elsewhere(res(), art, law)
    return render_template("cited_by.html", art=art, citation=citation(art), hits=hits)


@bp.get("/law/<law_id>/article/<key>")
def article_by_number(law_id: str, key: str):
    """The article numbered key (1032, 264-1, 第一千零三十二条) of the version in force, or on as_of."""
    law = get_law(law_id)
    number, _, sub = key.removeprefix("第").removesuffix("条").partition("-")
    try:
        n, s = cn_to_int(number), (cn_to_int(sub) if sub else 0)
    except ValueError:
        raise WebError(400, f"条号 {key[:20]!r} 无法识别") from None
    art = res().kb.article(law_id, n, s, as_of=as_of_date(request.args))
    if art is None:
        raise WebError(404, f"{law['title']} 没有第 {key[:20]} 条")
    return redirect(url_for("laws.article", article_id=art["article_id"]))


@bp.get("/law/<law_id>")
def law(law_id: str):
    law = get_law(law_id)
    version = pick_version(law, request.args.get("version"))
    arts = res().kb.articles(version["version_id"])
    toc, last_path = [], None
    for a in arts:
        if a["path"] != last_path:
            toc.append({"path": a["path"], "articles": []})
            last_path = a["path"]
        toc[-1]["articles"].append(a)
    return render_template("law.html", law=law, version=version, toc=toc, n_articles=len(arts),
                           repeal_note=repeal_note(res().kb, law),
                           replacement=replacement_of(res().kb, law))


def law_text(law: dict, version: dict, arts: list[dict]) -> str:
    """The law as plain text: title, version facts, then the units in order under their headings."""
    lines = [law["title"], ""]
    facts = [("效力级别", law.get("level")), ("制定机关", law.get("issuing_body")), ("版本", version.get("version_date")),
             ("施行日期", version.get("effective")), ("时效性", version.get("status"))]
    lines += [f"{k}：{v}" for k, v in facts if v]
    for ev in version.get("history", []):
        if ev.get("text"):
            lines.append(ev["text"])
    last_path: list[str] = []
    for a in arts:
        if a["path"] != last_path:
            shared = 0
            while shared < min(len(a["path"]), len(last_path)) and a["path"][shared] == last_path[shared]:
                shared += 1
            for heading in a["path"][shared:]:
                lines += ["", heading]
            last_path = a["path"]
        label = a.get("article_no") or a.get("heading") or ""
        lines += ["", f"{label}　{a['text']}" if label else a["text"]]
    return "\n".join(lines) + "\n"


@bp.get("/law/<law_id>/text")
def law_download(law_id: str):
    law = get_law(law_id)
    version = pick_version(law, request.args.get("version"))
    body = law_text(law, version, res().kb.articles(version["version_id"]))
    name = f"{law['title']}({version.get('version_date') or '未注明'}).txt"
    return Response(body, mimetype="text/plain", headers={
        "Content-Disposition": f"attachment; filename=\"law.txt\"; filename*=UTF-8''{quote(name)}"})
