"""Template helpers: badges, region names, the short "why this result" line."""

from __future__ import annotations

from functools import lru_cache

from flask import Flask, url_for

from lawkb.search.rank.analyze import analyze

_STATUS_CLASS = {"现行有效": "ok", "已修改": "amended", "已废止": "repealed", "尚未生效": "pending"}


_VERDICTS = {"current": "有效", "amended": "已修改或条号变动", "repealed": "已废止", "nonexistent": "无此条",
             "unknown_law": "库中无此法律"}


def verdict_text(verdict: str) -> str:
    return _VERDICTS.get(verdict, verdict)


def status_class(status: str | None) -> str:
    return _STATUS_CLASS.get(status or "", "unknown")


def region_text(region: str | None) -> str:
    return region or "全国"


@lru_cache(maxsize=256)
def _expansions(question: str) -> dict[str, list[str]]:
    """The question's lay phrases and their legal terms, once per question rather than once per hit."""
    try:
        return analyze(question).expansions
    except ValueError:
        return {}


def why_text(why, question: str = "") -> str:
    """One line a resident can read: why this article came up — which of their own words it holds, which
    of their phrases it speaks of in the law's words, and whether it was found by meaning. No scores."""
    parts = []
    if why.citation:
        parts.append("您的问题直接引用了这一条")
    matched = list(why.matched_terms)
    own = [t for t in matched if t in question]
    if own:
        parts.append("条文里有您说的" + "、".join(f"“{t}”" for t in own[:5]))
    legal = [t for t in matched if t not in own]
    if legal and question:
        expansions = _expansions(question)
        said = []
        for lay, terms in expansions.items():
            hit = [t for t in terms if t in legal and not any(t != o and t in o for o in legal)]
            if hit and lay not in " ".join(x for x, _ in said):
                said.append((lay, hit))
        for lay, hit in said[:2]:
            parts.append(f"您说的“{lay}”，法律上叫" + "、".join(f"“{t}”" for t in hit[:3]))
    elif legal:
        parts.append("条文里有相关的法律用语" + "、".join(f"“{t}”" for t in legal[:4]))
    if why.semantic_similarity is not None and why.semantic_similarity >= 0.5:
        parts.append("按意思找到：与您的问题说的是相近的事" if not matched else "意思也与您的问题相近")
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
