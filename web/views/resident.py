"""The resident's search page: one box, examples, a region, filters, result cards, paging."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from lawkb.core.model import LEVELS, STATUSES
from lawkb.search.rank.analyze import analyze, lexicon

from .. import params
from ..resources import res

bp = Blueprint("resident", __name__)

# Questions in everyday words, to show what kind of question works; they name no law.
EXAMPLES = [
    "楼上漏水物业不管怎么办",
    "房东不退押金怎么办",
    "公司拖欠工资不给怎么办",
    "邻居装修噪音太大",
    "小区停车位归谁所有",
    "民法典第1032条",
]


# app.extensions key of the model's state, kept by the background work of `lawkb serve` (web/server.py):
# {"state": "checking" | "downloading" | "ready" | "missing", "why": a code of resolve.why_no_model() when
# missing, "reason": its English line (for the log), "done" / "total": bytes while downloading}.
MODEL_STATE = "lawkb.model"

# Why there is no model, in plain words, and what the site's administrator can do about it.
_WHY_NO_MODEL = {
    "offline": ("服务器设置为不联网，不会下载语义模型", "请管理员手动放置模型文件，或允许联网后重新启动"),
    "network": ("无法下载语义模型（服务器未联网或连不上下载源）", "请管理员检查网络后重新启动，或手动放置模型文件"),
    "checksum": ("下载到的语义模型文件校验不符，已拒绝使用", "请管理员重新启动以再次下载，或手动放置模型文件"),
    "disk": ("服务器磁盘空间不足，无法下载语义模型", "请管理员清理磁盘空间后重新启动"),
    "not_allowed": ("服务器上没有语义模型，且未开启自动下载", "请管理员开启自动下载，或手动放置模型文件"),
    "failed": ("语义模型下载或加载失败", "请管理员查看服务器日志"),
}


# The scopes vectors are computed in (search/store/embedded/vectors.py SCOPES), in plain words.
_SCOPE_WORDS = {"national law in force": "现行全国性法律法规", "other national documents": "全国性法律法规的历史版本",
                "local law in force": "现行地方性法规", "other local documents": "地方性法规的历史版本"}


def embedding_words(embedding: dict) -> str:
    """Progress of the background vectors: 已完成 x / y 条, and which scopes already search by meaning."""
    ready = "、".join(_SCOPE_WORDS.get(s, s) for s in embedding.get("ready") or ())
    return (f"已完成 {embedding['done']} / {embedding['total']} 条" + (f"；{ready}已可按语义检索" if ready else ""))


def model_state() -> dict | None:
    return current_app.extensions.get(MODEL_STATE)


def model_status_words(model: dict | None, embedding: dict | None) -> str | None:
    """Why semantic search is not running yet, in a short Chinese phrase; None when nothing is known."""
    if embedding is not None:
        return f"正在计算条文向量（{embedding_words(embedding)}）"
    if not model:
        return None
    if model["state"] == "downloading":
        pct = int(100 * model.get("done", 0) / model["total"]) if model.get("total") else 0
        return f"正在下载语义模型（已完成 {pct}%）"
    if model["state"] == "checking":
        return "正在加载语义模型"
    if model["state"] == "missing":
        return _WHY_NO_MODEL.get(model.get("why") or "failed", _WHY_NO_MODEL["failed"])[0]
    return None


def lexical_notice(result, embedding: dict | None, model: dict | None = None) -> str | None:
    """What to tell a reader when the meaning-based half of search is not running: why, in plain words,
    and what can be done. model: the MODEL_STATE dict, when the site gets its model in the background."""
    if result.mode != "lexical":
        return None
    if embedding is not None:
        return (f"语义检索正在准备中（{embedding_words(embedding)}），本次检索涉及的条文尚未全部完成，"
                "目前先按关键词检索，结果可能不够全面。")
    state = (model or {}).get("state")
    if state in ("downloading", "checking"):
        return f"语义检索尚未就绪：{model_status_words(model, None)}，目前先按关键词检索，结果可能不够全面。"
    if state == "missing":
        why, todo = _WHY_NO_MODEL.get(model.get("why") or "failed", _WHY_NO_MODEL["failed"])
        return f"当前仅按关键词检索，结果可能不够全面：{why}。{todo}。"
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


def rephrasings(question: str, limit: int = 3) -> list[str]:
    """Other ways to ask, from the lexicon of residents' words and the law's: the question's phrases
    said in legal terms, then lexicon phrases that share a word with it. Never invented: every
    suggestion is a lexicon entry or its legal terms."""
    a = analyze(question)
    out = []
    for lay, legal in a.expansions.items():
        out.append(" ".join(dict.fromkeys([*legal[:3], *(t for t in a.original_terms if t not in lay and len(t) > 1)][:5])))
    words = [t for t in a.original_terms if len(t) >= 2]
    for lay in lexicon():
        if len(out) >= limit * 2:
            break
        if lay not in question and any(w in lay for w in words):
            out.append(lay)
    return [x for x in dict.fromkeys(out) if x and x != question][:limit]


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
        notice = lexical_notice(result, r.embedding, model_state())
        r.log_query(query.text, region=query.filters.region, hits=len(result.hits), mode=result.mode)
    pages = 0 if result is None else max(1, -(-result.total // size))
    return render_template(
        "search.html", query=query, result=result, page=page, pages=pages, page_size=size, notice=notice,
        weak=(weak := result is not None and nothing_fits(result, weak_floor(r.searcher))),
        suggestions=rephrasings(query.text) if weak else [], examples=EXAMPLES, region_options=r.region_options,
        levels=LEVELS, statuses=STATUSES,
        args=request.args, page_args=params.page_args(request.args),
    )


@bp.get("/help")
def help_page():
    return render_template("help.html")
