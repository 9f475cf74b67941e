"""Template helpers: badges, region names, the short "why this result" line."""

from __future__ import annotations

from flask import Flask, url_for

_STATUS_CLASS = {"现行有效": "ok", "已修改": "amended", "已废止": "repealed", "尚未生效": "pending"}


_VERDICTS = {"current": "有效", "amended": "已修改或条号变动", "repealed": "已废止", "nonexistent": "无此条",
             "unknown_law": "库中无此法律"}


def verdict_text(verdict: str) -> str:
    return _VERDICTS.get(verdict, verdict)


def status_class(status: str | None) -> str:
    return _STATUS_CLASS.get(status or "", "unknown")


def region_text(region: str | None) -> str:
    return region or "全国"


def why_text(why) -> str:
    """One line a resident can read: why this article came up."""
    parts = []
    if why.citation:
        parts.append("您的问题直接引用了这一条")
    if why.matched_terms:
        parts.append("包含词语：" + "、".join(why.matched_terms[:6]))
    if why.semantic_similarity is not None and why.semantic_similarity >= 0.5:
        parts.append(f"意思与您的问题相近（相似度 {why.semantic_similarity:.2f}）")
    return "；".join(parts) or "与您的问题相关"


def article_url(article_id: str, **kw) -> str:
    return url_for("laws.article", article_id=article_id, **kw)


def register(app: Flask) -> None:
    app.jinja_env.filters["status_class"] = status_class
    app.jinja_env.filters["region_text"] = region_text
    app.jinja_env.filters["why_text"] = why_text
    app.jinja_env.filters["verdict_text"] = verdict_text
    app.jinja_env.globals["article_url"] = article_url
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
