"""Do the per-article verdicts read from amendment documents agree with the KB's consolidated texts?

    python benchmarks/amendment_agreement.py --kb KB [--show 50]

Two figures:

1. Verdicts. For every law with a base version, amendments in the KB adopted after it, and a later
   consolidated version (dated on or after the last of them) whose legislative history names no amendment
   the KB lacks: each article's verdict from the amendments (unchanged / amended / added / deleted, by
   lawkb.core.amendments.article_verdicts) against what lineage.match finds between base and consolidated
   text. Agreement = articles whose two verdicts are the same, over all articles of those laws.
2. Wordings. For every amendment operation that gives a whole article or paragraph its new wording and
   that no later amendment in the KB touched again: does the first version of the amended law dated on or
   after the amendment carry that wording (whole article: same words; paragraph: contained in an article)?
   This needs no base text, so it covers laws (most LawRefBook judicial interpretations) that the KB holds
   only as amended.
"""

from __future__ import annotations

import argparse
import re

from lawkb.core import lineage
from lawkb.core.amendments import (
    ADD_PARAGRAPH,
    ADDED,
    AMENDED,
    DELETED,
    INSERT,
    RENUMBER,
    REPLACE,
    REPLACE_PARAGRAPH,
    UNCHANGED,
    AmendmentDoc,
    article_verdicts,
)
from lawkb.core.model import normalize_text
from lawkb.search import open_kb
from lawkb.tools.amendments import collect

_DELETED_TEXT = re.compile(r"^[（(【\[]?(删去|删除|已删除|已删去)[）)】\]]?$")
_LINEAGE_CLASS = {lineage.UNCHANGED: UNCHANGED, lineage.RENUMBERED: UNCHANGED, lineage.CHANGED: AMENDED,
                  lineage.RENUMBERED_CHANGED: AMENDED, lineage.DELETED: DELETED, lineage.ADDED: ADDED}


_HEADING_LINE = re.compile(r"\n(第[一二三四五六七八九十百]+[编章节]|附\s*则|[一二三四五六七八九十]+、)[^\n。；;：:，]{0,30}$")


def _numbered(units: list[dict]) -> list[dict]:
    """The numbered articles, without the placeholders of deleted ones (第一百九十九条 （删去）), and with a
    part/chapter heading that one source glues onto the end of the article before it taken off (it is
    no text of the article, and would read as a change)."""
    out = []
    for u in units:
        if u["kind"] != "article" or u.get("number") is None or _DELETED_TEXT.match(u["text"].strip()):
            continue
        text = _HEADING_LINE.sub("", u["text"])
        out.append(u if text == u["text"] else {**u, "text": text})
    return out


def _history_gaps(version: dict, after: str, docs: list[AmendmentDoc]) -> list[str]:
    """Amendments the consolidated version's history names after the base date that the KB lacks."""
    have = {d.date for d in docs}
    gaps = []
    for h in version.get("history") or []:
        d = h.get("date")
        if d and after < d <= version["version_date"] and re.search("修正|修改|修订|决定", h.get("text", "")):
            if d not in have:
                gaps.append(h.get("text", d))
    return gaps


def verdict_agreement(kb, found: dict[str, list[AmendmentDoc]]) -> dict:
    laws, rows, skipped = [], [], []
    for law_id, docs in found.items():
        law = kb.law(law_id)
        versions = sorted(law["versions"], key=lambda v: v["version_date"] or "")
        for base, cons in zip(versions, versions[1:], strict=False):
            between = [d for d in docs if base["version_date"] < (d.date or "") <= cons["version_date"]]
            if not between:
                continue
            gaps = _history_gaps(cons, base["version_date"], docs)
            if gaps:
                skipped.append(f"{law['title']} {base['version_date']}→{cons['version_date']}: "
                               f"KB lacks {gaps[0]}")
                continue
            old, new = _numbered(kb.articles(base["version_id"])), _numbered(kb.articles(cons["version_id"]))
            verdicts = article_verdicts(old, between)
            by_base = {(v.number, v.sub): v for v in verdicts if v.verdict != ADDED}
            added = {v.current: v for v in verdicts if v.verdict == ADDED and v.current}
            n = agree = 0
            seen_added = set()
            links = lineage.match(old, new)
            # an article the amendment rewrote wholesale shares too few words with its old text for
            # lineage to link the two: it reads as deleted + added at the same number. When the
            # amendments say that article was amended and it still stands at that number, it is one
            # amended article.
            new_at = {(x.new["number"], x.new.get("sub") or 0): x for x in links if x.kind == lineage.ADDED}
            rewritten = set()
            for x in links:
                if x.kind == lineage.DELETED:
                    v = by_base[(x.old["number"], x.old.get("sub") or 0)]
                    if v.verdict == AMENDED and v.current in new_at:
                        rewritten.update({id(x), id(new_at[v.current])})
                        n += 1
                        agree += 1
            for link in links:
                if id(link) in rewritten:
                    continue
                kind = _LINEAGE_CLASS[link.kind]
                if link.old is not None:
                    v = by_base[(link.old["number"], link.old.get("sub") or 0)]
                    ok = v.verdict == kind
                    label, ours = link.old.get("number_text") or link.old["number"], v.verdict
                else:
                    key = (link.new["number"], link.new.get("sub") or 0)
                    ok = key in added
                    seen_added.add(key)
                    label, ours = link.new.get("number_text") or key, ADDED if ok else "(none)"
                n += 1
                agree += ok
                if not ok:
                    rows.append(f"{law['title']} {label}: amendments say {ours}, consolidated text {kind}")
            for key in added:
                if key not in seen_added:
                    n += 1
                    rows.append(f"{law['title']} 第{key[0]}条{'之' + str(key[1]) if key[1] else ''}: "
                                f"amendments add it, consolidated text has no new article there")
            laws.append((law["title"], base["version_date"], cons["version_date"], len(between), n, agree))
    return {"laws": laws, "disagreements": rows, "skipped": skipped}


def wording_agreement(kb, found: dict[str, list[AmendmentDoc]]) -> dict:
    n = agree = 0
    rows = []
    for law_id, docs in found.items():
        law = kb.law(law_id)
        versions = sorted(law["versions"], key=lambda v: v["version_date"] or "")
        cache: dict[str, list[dict]] = {}
        for doc in docs:
            cons = next((v for v in versions if (v["version_date"] or "") >= (doc.date or "")), None)
            if cons is None:
                continue
            later = {(op.number, op.sub) for d in docs
                     if (doc.date or "") < (d.date or "") <= cons["version_date"]
                     for op in d.amendment.operations if op.kind != RENUMBER}
            units = cache.setdefault(cons["version_id"], _numbered(kb.articles(cons["version_id"])))
            texts = [normalize_text(u["text"]) for u in units]
            for op in doc.amendment.operations:
                if op.kind not in (REPLACE, INSERT, REPLACE_PARAGRAPH, ADD_PARAGRAPH) or not op.wording:
                    continue
                if (op.number, op.sub) in later:
                    continue
                n += 1
                w = normalize_text(op.wording)
                whole = op.kind in (REPLACE, INSERT)
                ok = any(w == t for t in texts) if whole else any(w in t for t in texts)
                agree += ok
                if not ok:
                    rows.append(f"{law['title']} ({cons['version_date']}) 第{op.number}条"
                                f"{'之' + str(op.sub) if op.sub else ''} {op.kind} by {doc.title}: "
                                f"wording not found: {op.wording[:40]}…")
    return {"n": n, "agree": agree, "disagreements": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", required=True)
    ap.add_argument("--show", type=int, default=100, help="disagreements to list (default 100)")
    args = ap.parse_args()
    kb = open_kb(args.kb)
    found, missing = collect(kb)
    print(f"amendment documents: {sum(len(d) for d in found.values())} amending {len(found)} laws in the KB; "
          f"{len(missing)} name a law the KB lacks")
    va = verdict_agreement(kb, found)
    total = sum(x[4] for x in va["laws"])
    ok = sum(x[5] for x in va["laws"])
    print(f"\n1. verdicts: {len(va['laws'])} base→consolidated pairs, {total} articles, {ok} agree"
          + (f" = {100 * ok / total:.1f} %" if total else ""))
    for title, b, c, k, n, a in va["laws"]:
        print(f"   {title} {b} → {c}: {k} amendments, {a}/{n} articles agree")
    for s in va["skipped"]:
        print(f"   skipped {s}")
    for r in va["disagreements"][:args.show]:
        print(f"   ✗ {r}")
    wa = wording_agreement(kb, found)
    print(f"\n2. wordings: {wa['n']} final wordings, {wa['agree']} found in the consolidated text"
          + (f" = {100 * wa['agree'] / wa['n']:.1f} %" if wa["n"] else ""))
    for r in wa["disagreements"][:args.show]:
        print(f"   ✗ {r}")
    if missing:
        print(f"\ntargets not in the KB ({len(missing)}):")
        for m in missing[:args.show]:
            print(f"   {m}")


if __name__ == "__main__":
    main()
