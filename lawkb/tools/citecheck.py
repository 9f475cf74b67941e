"""The citation checker: every legal citation in a text, checked against the knowledge base.

Verdicts:
- current: the article (and 款 / 项) exists in the version the citation refers to, and still reads the
  same in the version in force;
- amended: the provision the citation refers to exists only in an older version, or its text or its
  number has changed since: the current text and number are given, found by the words of the provision;
- repealed: the law is no longer in force; its replacement comes from the corpus's repeal clauses;
- nonexistent: the law is known but has no such article, 款 or 项 (in the version referred to);
- unknown_law: the law is not in the knowledge base, so nothing can be said about the article.

Which version a citation refers to: the version named next to it (《民事诉讼法》（2017年修正）), else
the version in force on `as_of` (the date the text was written), else the version in force today, unless
the words after the citation quote or paraphrase the provision an earlier version had under that number.
"""

from __future__ import annotations

import html
import re

from lawkb.core import settings
from lawkb.core.model import STATUS_REPEALED, normalize_text
from lawkb.core.numerals import article_no_text, int_to_cn
from lawkb.core.textsim import RELATED, SAME, bigrams, containment, dice
from lawkb.search.store.protocol import KnowledgeBase

from .citations import Citation, extract
from .lawindex import LawIndex

VERDICTS = ("current", "amended", "repealed", "nonexistent", "unknown_law")
# The words after a citation decide between two versions only when they clearly follow one of them.
CONTEXT_MIN = 0.45
CITED_WORDS = re.compile(r"《[^》]{1,60}》|第[一二三四五六七八九十百千零〇两\d]+[条款项]|依据|根据|依照|按照|规定|"
                         r"对于|^对|的?行为|处理|处罚|适用")
CONTEXT_MARGIN = 0.2


def check_citations(kb: KnowledgeBase, text: str, *, as_of: str | None = None) -> dict:
    """Every citation in text with its verdict, and the text as HTML with each citation marked."""
    if as_of is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", as_of):
        raise ValueError(f"as_of must be a date written YYYY-MM-DD, not {as_of!r}")
    index = LawIndex(kb)
    found = extract(text, index.is_law)
    results = [_check(index, c, as_of) for c in found]
    # With as_of, `verdict` is the verdict on that day; `verdict_today` says what holds now (合同法 cited in
    # a 2019 opinion: current then, repealed today). Without, the two are the same.
    today = [_check(index, c, None) for c in found] if as_of else results
    for i, (c, r) in enumerate(zip(found, results, strict=True)):
        r["i"] = i
        r["note"] = r.pop("note_version", "") + r["note"] + r.pop("note_repeal", "")
        now = today[i]
        r["verdict_today"] = now["verdict"]
        r["note_today"] = (now.get("note_version", "") + now["note"] + now.get("note_repeal", "")
                           if now is not r else r["note"])
        if c.range_end_of is not None:
            r["range_start"] = c.range_end_of
    return {"citations": results, "marked_html": mark(text, results), "as_of": as_of}


def mark(text: str, results: list[dict]) -> str:
    """The text, HTML-escaped, with each citation in <mark class="cite cite-VERDICT" data-i="N">."""
    out, pos = [], 0
    for r in sorted(results, key=lambda r: r["start"]):
        if r["start"] < pos:
            continue
        out.append(html.escape(text[pos:r["start"]]))
        out.append(f'<mark class="cite cite-{r["verdict"]}" data-i="{r["i"]}">'
                   f'{html.escape(text[r["start"]:r["end"]])}</mark>')
        pos = r["end"]
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _cited_no(c: Citation) -> str | None:
    if c.number is None:
        return None
    return article_no_text(c.number, c.sub)


def _part_label(c: Citation) -> str:
    s = ""
    if c.paragraph:
        s += f"第{int_to_cn(c.paragraph)}款"
    if c.item:
        s += f"第（{int_to_cn(c.item)}）项"
    return s


def _base(c: Citation, as_of: str | None) -> dict:
    return {
        "span": c.span, "start": c.start, "end": c.end, "law_as_written": c.law, "law_form": c.law_form,
        "law_title": c.law, "law_id": None, "article_no": _cited_no(c), "number": c.number, "sub": c.sub,
        "paragraph": c.paragraph, "item": c.item, "verdict": "unknown_law", "reason": None,
        "current_number": None, "replacement": None, "replacement_article_no": None, "text": None,
        "cited_text": None, "cited_version": None, "law_status": None, "note": "", "as_of": as_of,
    }


def _check(index: LawIndex, c: Citation, as_of: str | None) -> dict:
    r = _base(c, as_of)
    law = index.find(c.law) if c.law else None
    if law is None:
        return _unknown(index, c, r, as_of)
    r["law_title"], r["law_id"], r["law_status"] = law["title"], law["law_id"], law["status"]
    current = index.current(law)
    ref, why = _reference_version(index, law, c, as_of)
    if ref is None and _adopted(law) <= (as_of or ""):
        # The law existed then but the KB holds no version that old: the earliest one is the best guide.
        ref = law["versions"][0]
        r["note_version"] = f"知识库没有{as_of}施行的版本，按最早收录的{ref['version_date']}版本核对。"
    if ref is None:
        first = law["versions"][0]
        r.update(verdict="nonexistent", reason="not_yet_in_force",
                 note=f"《{law['title']}》在{as_of}尚未施行（最早的版本{first.get('effective') or first.get('version_date')}施行）。")
        return r
    r["cited_version"] = ref["version_date"]
    if law["status"] == STATUS_REPEALED:
        if as_of and law.get("repealed_on") and as_of < law["repealed_on"]:
            return _in_force_then(index, law, c, r, ref, as_of)
        return _repealed(index, law, c, r, ref)
    if law.get("replaced_by") and law.get("repealed_on"):
        successor = index.law(law["replaced_by"])
        r["note_repeal"] = (f"《{law['title']}》将自{law['repealed_on']}起废止"
                            + (f"，由《{successor['title']}》取代。" if successor else "。"))
    if c.number is None:
        r.update(verdict="current", reason="law_in_force", note=f"《{law['title']}》现行有效。")
        return r
    art = index.article(ref["version_id"], c.number, c.sub)
    if ref["version_id"] == current["version_id"]:
        if art is None:
            return _missing_in_current(index, law, c, r)
        missing = _missing_part(art, c)
        if missing:
            return _part_missing_or_changed(index, law, c, r, art, missing)
        older = _context_prefers_older(index, law, c, art)
        if older is None:
            r.update(verdict="current", reason="same", current_number=art["article_no"], text=art["text"],
                     note=f"《{law['title']}》{art['article_no']}{_part_label(c)}见于现行版本。")
            _warn_renumbered(index, law, c, r, art)
            return r
        ref, art = older
        r["cited_version"] = ref["version_date"]
        why = "context"
    if art is None:
        later = index.article(current["version_id"], c.number, c.sub)
        r.update(verdict="nonexistent", reason="article_missing",
                 note=f"《{law['title']}》{ref['version_date'] or ''}版本（{why}所指）没有{_cited_no(c)}"
                      + ("；现行版本才有此条。" if later else "。"))
        return r
    missing = _missing_part(art, c)
    if missing:
        r.update(verdict="nonexistent", reason=f"{missing}_missing", cited_text=art["text"],
                 note=f"《{law['title']}》{ref['version_date'] or ''}版本的{art['article_no']}没有{_part_label(c)}。")
        return r
    return _compare_with_current(index, law, c, r, art, ref, current)


def _reference_version(index: LawIndex, law: dict, c: Citation, as_of: str | None) -> tuple[dict | None, str]:
    if c.version_year:
        same_year = [v for v in law["versions"] if (v.get("version_date") or "").startswith(c.version_year)]
        if same_year:
            return same_year[-1], f"注明的{c.version_year}年版本"
    if as_of:
        # A text may cite a version adopted but not yet in force when it was written.
        ref = index.version_on(law, as_of) or next(
            (v for v in law["versions"] if v.get("version_date") and v["version_date"] <= as_of), None)
        return ref, f"{as_of}施行的版本"
    return index.current(law), "现行版本"


def _adopted(law: dict) -> str:
    """The date the law was first adopted, from the history lines of any version."""
    dates = [h["date"] for v in law["versions"] for h in v.get("history") or [] if h.get("date")]
    dates += [v["version_date"] for v in law["versions"] if v.get("version_date")]
    return min(dates) if dates else "9999"


def _in_force_then(index: LawIndex, law: dict, c: Citation, r: dict, ref: dict, as_of: str) -> dict:
    """A law repealed after as_of, cited as it stood then."""
    later = f"该法已于{law['repealed_on']}废止。"
    if c.number is None:
        r.update(verdict="current", reason="in_force_then", note=f"《{law['title']}》在{as_of}有效；{later}")
        return r
    art = index.article(ref["version_id"], c.number, c.sub)
    if _refused(r, law, c, art, no_article=f"{as_of}施行的版本没有{_cited_no(c)}；{later}", tail=f"；{later}"):
        return r
    r.update(verdict="current", reason="in_force_then", current_number=art["article_no"], text=art["text"],
             note=f"《{law['title']}》{art['article_no']}{_part_label(c)}见于{as_of}施行的版本；{later}")
    return r


def _unknown(index: LawIndex, c: Citation, r: dict, as_of: str | None) -> dict:
    clause = index.repealed_by_clause(c.law) if c.law else None
    if clause and as_of and clause["effective"] and as_of < clause["effective"]:
        r.update(verdict="current", reason="in_force_then_no_text", replacement=clause["law_title"],
                 note=f"《{c.law}》在{as_of}尚未废止（《{clause['law_title']}》{clause['article_no'] or ''}规定它自"
                      f"{clause['effective']}起废止）；知识库没有它的文本，无法核对条文内容。")
        return r
    if clause and (not clause["effective"] or clause["effective"] <= settings.today()):
        r.update(verdict="repealed", reason="named_in_repeal_clause", replacement=clause["law_title"],
                 note=f"知识库没有《{c.law}》的条文，但《{clause['law_title']}》{clause['article_no'] or ''}规定它"
                      f"自{clause['effective']}起废止：{clause['text']}")
        return r
    r.update(verdict="unknown_law", reason="law_not_in_kb",
             note=f"知识库中没有《{c.law}》，无法核对（这不表示该法不存在）。")
    if clause:
        r["note"] += f"另：《{clause['law_title']}》规定它将自{clause['effective']}起废止。"
    return r


def _repealed(index: LawIndex, law: dict, c: Citation, r: dict, ref: dict) -> dict:
    replacement = index.law(law["replaced_by"]) if law.get("replaced_by") else None
    if replacement is None:
        clause = index.repealed_by_clause(law["title"])
        replacement = index.law(clause["law_id"]) if clause else None
    when = f"自{law['repealed_on']}起" if law.get("repealed_on") else ""
    r.update(verdict="repealed", reason="law_repealed", replacement=replacement["title"] if replacement else None,
             note=f"《{law['title']}》{when}已废止" + (f"，由《{replacement['title']}》取代。" if replacement else "。"))
    if c.number is None:
        return r
    art = index.article(ref["version_id"], c.number, c.sub)
    if art is None:
        art = next((a for v in reversed(law["versions"])
                    if (a := index.article(v["version_id"], c.number, c.sub)) is not None), None)
    if _refused(r, law, c, art, no_article=f"的任何版本都没有{_cited_no(c)}。" + r["note"],
                tail="（该法也已废止）。"):
        return r
    r["text"] = art["text"]
    if replacement is not None:
        best, score = index.closest(index.current(replacement)["version_id"], art["text"])
        if best is not None and score >= RELATED:
            r["replacement_article_no"] = best["article_no"]
            r["note"] += f"按文字比对，相应的规定是《{replacement['title']}》{best['article_no']}。"
    return r


def _refused(r: dict, law: dict, c: Citation, art: dict | None, *, no_article: str, tail: str) -> bool:
    """Mark r nonexistent when the cited article, or the paragraph or item cited in it, is not in art;
    True when it did. no_article follows the law's name; tail ends the note on a missing part."""
    if art is None:
        r.update(verdict="nonexistent", reason="article_missing", note=f"《{law['title']}》{no_article}")
        return True
    missing = _missing_part(art, c)
    if missing:
        r.update(verdict="nonexistent", reason=f"{missing}_missing", cited_text=art["text"],
                 note=f"《{law['title']}》{art['article_no']}没有{_part_label(c)}{tail}")
        return True
    return False


def _missing_part(art: dict, c: Citation) -> str | None:
    paras = art["paragraphs"] or [{"text": art["text"], "items": []}]
    if c.paragraph is not None:
        if c.paragraph < 1 or c.paragraph > len(paras):
            return "paragraph"
        if c.item is not None and not 1 <= c.item <= len(paras[c.paragraph - 1]["items"]):
            return "item"
        return None
    if c.item is not None and not any(1 <= c.item <= len(p["items"]) for p in paras):
        return "item"
    return None


def _older_versions(law: dict, before: dict) -> list[dict]:
    seq = [v["version_id"] for v in law["versions"]]
    i = seq.index(before["version_id"]) if before["version_id"] in seq else len(seq)
    return list(reversed(law["versions"][:i]))


def _missing_in_current(index: LawIndex, law: dict, c: Citation, r: dict) -> dict:
    current = index.current(law)
    for v in _older_versions(law, current):
        old = index.article(v["version_id"], c.number, c.sub)
        if old is not None:
            r["cited_version"] = v["version_date"]
            return _compare_with_current(index, law, c, r, old, v, current)
    r.update(verdict="nonexistent", reason="article_missing",
             note=f"《{law['title']}》没有{_cited_no(c)}（知识库中的各个版本都没有）。")
    return r


def _part_missing_or_changed(index: LawIndex, law: dict, c: Citation, r: dict, art: dict, missing: str) -> dict:
    current = index.current(law)
    for v in _older_versions(law, current):
        old = index.article(v["version_id"], c.number, c.sub)
        if old is not None and _missing_part(old, c) is None:
            r["cited_version"] = v["version_date"]
            return _compare_with_current(index, law, c, r, old, v, current)
    r.update(verdict="nonexistent", reason=f"{missing}_missing", cited_text=art["text"], text=art["text"],
             current_number=art["article_no"],
             note=f"《{law['title']}》{art['article_no']}只有{len(art['paragraphs'])}款，没有{_part_label(c)}。"
             if missing == "paragraph" else f"《{law['title']}》{art['article_no']}没有{_part_label(c)}。")
    return r


def _compare_with_current(index: LawIndex, law: dict, c: Citation, r: dict, old: dict, ref: dict,
                          current: dict) -> dict:
    """The provision a citation meant (old, from version ref): where it is in the version in force."""
    r["cited_text"] = old["text"]
    same = index.article(current["version_id"], c.number, c.sub)
    if same is not None and normalize_text(same["text"]) == normalize_text(old["text"]):
        r.update(verdict="current", reason="same", current_number=same["article_no"], text=same["text"],
                 note=f"《{law['title']}》{same['article_no']}在{ref['version_date']}版本和现行版本中内容相同。")
        return r
    best, score = index.closest(current["version_id"], old["text"], (c.number, c.sub))
    since = f"{current.get('effective') or current['version_date']}施行的版本"
    if best is not None and score >= RELATED:
        renumbered = (best["number"], best["sub"]) != (c.number, c.sub)
        if renumbered:
            how = "条号变为" + best["article_no"] + ("，文字也有修改" if score < SAME else "")
        else:
            how = "文字有修改"
        r.update(verdict="amended", reason="renumbered" if renumbered else "text_changed",
                 current_number=best["article_no"], text=best["text"],
                 note=f"《{law['title']}》{ref['version_date']}版本的{old['article_no']}，在{since}中{how}。"
                      + (f"现行{same['article_no']}是另一条规定。" if renumbered and same is not None else ""))
        return r
    r.update(verdict="amended", reason="deleted", current_number=None, text=None,
             note=f"《{law['title']}》{ref['version_date']}版本的{old['article_no']}，在{since}中找不到对应条文"
                  f"（已删除或改写）。" + (f"现行{same['article_no']}是另一条规定。" if same is not None else ""))
    return r


def _context_prefers_older(index: LawIndex, law: dict, c: Citation, art: dict) -> tuple[dict, dict] | None:
    """The older version whose provision under this number the words around the citation follow clearly
    better than the current one (a paraphrase of 2012's 第四十三条 cited after the 2025 renumbering, or
    对殴打他人的，依据《治安管理处罚法》第四十三条 — what it is cited for, before it)."""
    if c.version_year or c.number is None:
        return None
    # Other citations' names and numbers in the same sentence are not words the article would hold.
    around = CITED_WORDS.sub("", f"{c.lead} {c.context}")
    ctx = bigrams(around)
    if len(ctx) < 3:
        return None
    now = containment(ctx, bigrams(art["text"]))
    for v in _older_versions(law, index.current(law)):
        old = index.article(v["version_id"], c.number, c.sub)
        if old is None:
            continue
        then = containment(ctx, bigrams(old["text"]))
        if then >= CONTEXT_MIN and then >= now + CONTEXT_MARGIN:
            return v, old
    return None


def _warn_renumbered(index: LawIndex, law: dict, c: Citation, r: dict, art: dict) -> None:
    """A current citation whose number held another provision before the last revision: say so, since a
    text written before it took effect may mean the old one."""
    current = index.current(law)
    older = _older_versions(law, current)
    if not older:
        return
    old = index.article(older[0]["version_id"], c.number, c.sub)
    if old is None or normalize_text(old["text"]) == normalize_text(art["text"]):
        return
    since = f"{current.get('effective') or current['version_date']}施行的修订前"
    r["previous_text"] = old["text"]
    if dice(bigrams(old["text"]), bigrams(art["text"])) >= SAME:
        r["note"] += f"注意：{since}，本条文字略有不同；引用写于修订前时请核对。"
        return
    best, score = index.closest(current["version_id"], old["text"])
    where = f"，该规定现为{best['article_no']}" if best is not None and score >= RELATED else ""
    r["note"] += (f"注意：{since}，{old['article_no']}是另一条规定{where}；引用写于修订前时请核对"
                  f"（可指定 as_of 日期）。")
