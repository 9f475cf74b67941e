"""The resident's search page: one box, examples, a region, filters, result cards, paging."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from lawkb.core.model import LEVELS, STATUSES

from .. import params
from ..resources import res

bp = Blueprint("resident", __name__)

# Below this cosine similarity (bge-small-zh), with no word in common, a hit is noise: nonsense
# questions score 0.34-0.44, real ones 0.5 and above.

# Questions in everyday words, to show what kind of question works; they name no law.
EXAMPLES = [
    "楼上漏水物业不管怎么办",
    "房东不退押金怎么办",
    "公司拖欠工资不给怎么办",
    "邻居装修噪音太大",
    "小区停车位归谁所有",
    "民法典第1032条",
]


def lexical_notice(result, embedding: dict | None) -> str | None:
    """What to tell a reader when the meaning-based half of search is not running."""
    if result.mode != "lexical":
        return None
    if embedding is not None:
        return (f"语义检索正在准备中（已完成 {embedding['done']} / {embedding['total']} 条），"
                "目前先按关键词检索，结果可能不够全面。")
    return "当前仅按关键词检索（语义模型或向量不可用），结果可能不够全面。"


def nothing_fits(result, floor: float) -> bool:
    """True when no hit is a real answer: nothing cited, no meaningful word matched, and the meaning
    match is weak (dense retrieval always returns something, even for nonsense). floor: the similarity
    below which a match is weak; each model scores on its own scale, so the fine-tuned one brings its own."""
    for h in result.hits:
        if h.why.citation or any(len(t) >= 2 for t in h.why.matched_terms):
            return False
        if (h.why.semantic_similarity or 0) >= floor:
            return False
    return True


def weak_floor(searcher) -> float:
    return searcher.profile().weak_similarity


@bp.get("/")
def search():
    r = res()
    size = current_app.config["PAGE_SIZE"]
    query, page = params.page_query(request.args, size)
    result = None
    notice = None
    if query.text:
        result = r.searcher.search(query)
        notice = lexical_notice(result, r.embedding)
        r.log_query(query.text, region=query.filters.region, hits=len(result.hits), mode=result.mode)
    pages = 0 if result is None else max(1, -(-result.total // size))
    return render_template(
        "search.html", query=query, result=result, page=page, pages=pages, page_size=size, notice=notice,
        weak=result is not None and nothing_fits(result, weak_floor(r.searcher)), examples=EXAMPLES, region_options=r.region_options,
        levels=LEVELS, statuses=STATUSES,
        args=request.args,
    )


@bp.get("/help")
def help_page():
    return render_template("help.html")
