"""Find a law by the name a person types, and an article by a typed reference."""

from __future__ import annotations

from lawkb.core.errors import KBError, NotFound
from lawkb.core.model import LEVELS, STATUS_IN_FORCE
from lawkb.core.refs import ArticleRef, parse_ref
from lawkb.core.versions import iso_day
from lawkb.search.store.protocol import KnowledgeBase


def _rank(law: dict) -> tuple:
    level = LEVELS.index(law["level"]) if law.get("level") in LEVELS else len(LEVELS)
    return (law["status"] != STATUS_IN_FORCE, law.get("region_province") is not None, level, len(law["title"]),
            law["title"])


def find_law(kb: KnowledgeBase, name: str) -> dict:
    """The law a name means: exact title, short title or alias first, then a unique title containing it;
    among equals, in-force national law of the highest level."""
    name = name.strip()
    if not name:
        raise KBError("请写出法律名称")
    exact = kb.find_laws(name)
    if exact:
        return min(exact, key=_rank)
    partial = kb.laws(q=name)
    if not partial:
        raise NotFound(f"知识库中没有名为“{name}”的法律")
    return min(partial, key=_rank)


def lookup_article(kb: KnowledgeBase, text: str, *, as_of: str | None = None) -> dict:
    ref = parse_ref(text)
    if ref is None:
        raise KBError(f"“{text}”不是条文引用：请写成“民法典 第1032条”或“刑法第二百六十四条之一”这样的形式")
    return article_for_ref(kb, ref, as_of=as_of)


def article_for_ref(kb: KnowledgeBase, ref: ArticleRef, *, as_of: str | None = None) -> dict:
    if not ref.law:
        raise KBError("请同时写出法律名称和条号，例如“民法典 第1032条”")
    if as_of is not None:
        try:
            as_of = iso_day(as_of)
        except ValueError as exc:
            raise KBError(f"日期 as_of 有误：{exc}") from None
    law = find_law(kb, ref.law)
    art = kb.article(law["law_id"], ref.number, ref.sub, as_of=as_of)
    if art is None:
        when = f"{as_of} 施行的文本" if as_of else "现行文本"
        raise NotFound(f"《{law['title']}》{when}中没有第{ref.number}条{'之' + str(ref.sub) if ref.sub else ''}")
    return art


def citation(article: dict) -> str:
    """The standard form: 《中华人民共和国民法典》第一千零三十二条."""
    return f"《{article['law_title']}》{article['article_no'] or ''}"
