"""What a reader of a repealed law's article needs to be told: when it was repealed and by which provision,
and — where the KB holds both texts — which article of the law that replaced it says the closest thing.

The closest article is found by the words (the same bigram likeness the citation checker uses to follow a
provision across versions), so it is offered as a pointer to check, never as the same law: a repealed
article whose subject the replacement dropped gets no pointer at all.
"""

from __future__ import annotations

from lawkb.core.model import STATUS_REPEALED, law_key
from lawkb.core.textsim import RELATED
from lawkb.core.versions import made_under
from lawkb.search.lookup import chinese_day
from lawkb.search.store.protocol import KnowledgeBase

from .lawindex import LawIndex


def _names(law: dict, clause: dict) -> bool:
    """Whether a repeal clause names this law itself (not the law it was made under)."""
    return any(law_key(n) in law_key(clause["text"]) for n in [law.get("title"), law.get("short_title")] if n)


def repeal_note(kb: KnowledgeBase, law: dict) -> str | None:
    """Why a law is repealed, in words, from the KB: the clause that repealed it, or — for an
    interpretation or implementing rule — the repeal of the law it was made under. None when in force."""
    if law.get("status") != STATUS_REPEALED:
        return None
    day = chinese_day(law.get("repealed_on"))
    clause = kb.article_by_id(law["repeal_source"]) if law.get("repeal_source") else None
    by = f"《{clause['law_title']}》{clause['article_no'] or ''}" if clause else None
    if clause is not None and not _names(law, clause):
        under = "、".join(f"《{n}》" for n in made_under(law.get("title") or "")) or "它所依据的法律"
        return f"{under}已于{day or '此前'}被{by}废止，本件随之失效，不再适用。"
    if by:
        return f"本法已于{day or '此前'}由{by}废止，不再适用。"
    return f"本法已于{day}废止，不再适用。" if day else "本法已废止，不再适用。"


def replacement_of(kb: KnowledgeBase, law: dict) -> dict | None:
    """The law that replaced a repealed one: recorded at ingest, else the law whose clause repealed it."""
    if law.get("status") != STATUS_REPEALED:
        return None
    if law.get("replaced_by"):
        found = kb.law(law["replaced_by"])
        if found is not None:
            return found
    clause = kb.article_by_id(law["repeal_source"]) if law.get("repeal_source") else None
    # an interpretation that lapsed with its law was not replaced by the law that repealed that one
    if clause is not None and clause["law_id"] != law.get("law_id") and _names(law, clause):
        return kb.law(clause["law_id"])
    return None


def closest_in_replacement(kb: KnowledgeBase, law: dict, art: dict, replacement: dict | None = None
                           ) -> dict | None:
    """The article of the replacement's version in force most like this article's text, with its score
    (0–1), or None: no replacement in the KB, or nothing in it close enough to be the same subject."""
    replacement = replacement or replacement_of(kb, law)
    if replacement is None or not replacement.get("versions") or not art.get("text"):
        return None
    index = LawIndex(kb)
    best, score = index.closest(LawIndex.current(replacement)["version_id"], art["text"])
    if best is None or score < RELATED:
        return None
    return {"law_id": replacement["law_id"], "law_title": replacement["title"], "article_id": best["article_id"],
            "article_no": best["article_no"], "score": round(score, 3)}


def repeal_info(kb: KnowledgeBase, law: dict, art: dict) -> dict | None:
    """The note and the pointer together, as `show`, the article page and the API give them."""
    note = repeal_note(kb, law)
    if note is None:
        return None
    replacement = replacement_of(kb, law)
    closest = closest_in_replacement(kb, law, art, replacement) if replacement is not None else None
    pointer = None
    if closest is not None:
        pointer = (f"按文字比对，替代它的《{closest['law_title']}》中最接近的规定是{closest['article_no']}"
                   f"（由文字相似推断，请核对原文后再引用）。")
    elif replacement is not None:
        pointer = (f"替代它的《{replacement['title']}》中没有找到文字相近的条文（可能已删去或大幅改写），"
                   f"请查阅该法。")
    return {"note": note, "closest": closest, "pointer": pointer}
