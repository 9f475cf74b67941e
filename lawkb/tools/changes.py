"""Change reports and watch lists: what changed in the law since a date, as the knowledge base records it.

There is no ingest log, so "changed since DATE" is read from the texts themselves:
- a version whose adoption date (version_date) or commencement date (effective) is on or after DATE is a
  change: each of its articles is compared with the previous version's by content (lawkb.core.lineage),
  so a renumbered article is followed, and reported as 有修改 / 条号变动 / 条号变动且有修改 / 新增 / 删除
  with the old and new text verbatim and a diff;
- such a version with no earlier version in the KB is a 新法 when the law was first adopted on or after
  DATE (by its history lines), else a version the KB cannot compare (新版本（无前一版本可比）);
- a law repealed on or after DATE (repealed_on) is a 废止, with the provision that repealed it verbatim;
  so is a law the KB holds no text of, named in a repeal clause taking effect on or after DATE.

A watch list (a lawyer's advice, a committee's 权责清单) narrows the report to the articles it cites. A
cited number is read in the version in force the day before DATE (the text the list was written against)
unless the citation names its version (（2012年修正）), and followed through every version by content:
2012's 第四十三条 is found as 2025's 第五十一条. Watched articles that did not change are reported as
未修改, so the reader knows they were checked; watched laws repealed earlier are reported too.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import re
from collections import Counter
from dataclasses import dataclass

from lawkb.core import settings
from lawkb.core.lineage import ADDED, CHANGED, DELETED, RENUMBERED, RENUMBERED_CHANGED, UNCHANGED, Link
from lawkb.core.model import STATUS_REPEALED
from lawkb.core.numerals import article_no_text
from lawkb.core.refs import parse_ref
from lawkb.core.versions import iso_day
from lawkb.search.history import Lineage
from lawkb.search.store.protocol import KnowledgeBase

from .citations import extract
from .lawindex import LawIndex
from .sheets import csv_text

REPEALED, NEW_LAW, NO_PREVIOUS = "废止", "新法", "新版本（无前一版本可比）"
# Report order: what a reader must act on first.
KINDS = (REPEALED, CHANGED, RENUMBERED_CHANGED, RENUMBERED, ADDED, DELETED, NEW_LAW, NO_PREVIOUS, UNCHANGED)
MAX_WATCH = 1000   # citations read from one watch list: more is not a list a person keeps
DISCLAIMER = "本报告由程序根据知识库自动生成，仅供参考，不构成法律意见；请以官方公布的文本为准。"


# ---- diffs ------------------------------------------------------------------------------------------

def diff_ops(old: str, new: str) -> list[tuple[str, str]]:
    """The character diff of two texts as ("=" | "-" | "+", text) pieces, old and new each verbatim."""
    out: list[tuple[str, str]] = []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("=", new[b1:b2]))
            continue
        if a2 > a1:
            out.append(("-", old[a1:a2]))
        if b2 > b1:
            out.append(("+", new[b1:b2]))
    return out


def bracket_diff(old: str, new: str) -> str:
    """A character diff in brackets: [-删去的-]{+新增的+}."""
    return "".join(t if op == "=" else f"[-{t}-]" if op == "-" else f"{{+{t}+}}" for op, t in diff_ops(old, new))


# ---- dates ------------------------------------------------------------------------------------------

def default_since(today: str) -> str:
    """Twelve months before today (28 February for 29 February)."""
    d = dt.date.fromisoformat(today)
    try:
        return d.replace(year=d.year - 1).isoformat()
    except ValueError:
        return d.replace(year=d.year - 1, day=28).isoformat()


def _in_window(version: dict, since: str) -> bool:
    return max(version.get("version_date") or "", version.get("effective") or "") >= since


def _first_adopted(law: dict) -> str:
    dates = [h["date"] for v in law["versions"] for h in v.get("history") or [] if h.get("date")]
    dates += [v["version_date"] for v in law["versions"] if v.get("version_date")]
    return min(dates) if dates else ""


# ---- entries ----------------------------------------------------------------------------------------

def _art(a: dict | None) -> dict | None:
    return None if a is None else {"article_id": a["article_id"], "article_no": a.get("article_no"), "text": a["text"]}


def _entry(change: str, law_id: str | None, law_title: str, **fields) -> dict:
    """Every entry has every key (None where it does not apply), so the JSON shape is stable."""
    e = {"change": change, "law_id": law_id, "law_title": law_title, "version_id": None, "version_date": None,
         "effective": None, "prev_version_id": None, "prev_version_date": None, "old": None, "new": None,
         "diff": None, "repealed_on": None, "replaced_by": None, "repeal": None, "note": "", "watched": []}
    e.update(fields)
    return e


_NOTES = {CHANGED: "{new}文字有修改", RENUMBERED: "原{old}改为{new}，文字未变", UNCHANGED: "{new}未修改",
          RENUMBERED_CHANGED: "原{old}改为{new}，文字有修改", ADDED: "新增{new}", DELETED: "删除原{old}（新版本中没有对应条文）"}


def _link_entry(law: dict, prev: dict, version: dict, link: Link) -> dict:
    old, new = link.old, link.new
    diff = bracket_diff(old["text"], new["text"]) if old and new and old["text"] != new["text"] else None
    note = _NOTES[link.kind].format(old=(old or {}).get("article_no"), new=(new or {}).get("article_no"))
    return _entry(link.kind, law["law_id"], law["title"], version_id=version["version_id"],
                  version_date=version.get("version_date"), effective=version.get("effective"),
                  prev_version_id=prev["version_id"], prev_version_date=prev.get("version_date"),
                  old=_art(old), new=_art(new), diff=diff, note=note)


def _first_version_entry(law: dict, version: dict, n_articles: int, since: str) -> dict:
    when = f"{version.get('version_date') or '日期不详'}通过（{version.get('effective') or '施行日期不详'}施行）"
    if _first_adopted(law) >= since:
        kind, note = NEW_LAW, f"新法：{when}，共{n_articles}条"
    else:
        kind, note = NO_PREVIOUS, f"{when}的版本是知识库收录的第一个版本，没有前一版本可以逐条比对"
    return _entry(kind, law["law_id"], law["title"], version_id=version["version_id"],
                  version_date=version.get("version_date"), effective=version.get("effective"), note=note)


def _repeal_entry(kb: KnowledgeBase, index: LawIndex, law: dict, since: str, today: str) -> dict:
    source = kb.article_by_id(law["repeal_source"]) if law.get("repeal_source") else None
    clause = None if source else index.repealed_by_clause(law["title"])
    repeal = ({"law_id": source["law_id"], "law_title": source["law_title"], "article_id": source["article_id"],
               "article_no": source.get("article_no"), "text": source["text"]} if source else
              {k: clause.get(k) for k in ("law_id", "law_title", "article_id", "article_no", "text")} if clause else None)
    successor = index.law(law["replaced_by"]) if law.get("replaced_by") else None
    day = law.get("repealed_on")
    note = (f"《{law['title']}》" + (f"{'将' if day > today else ''}自{day}起废止" if day else "已废止（日期不详）")
            + (f"，由《{successor['title']}》取代" if successor else "")
            + (f"；依据《{repeal['law_title']}》{repeal['article_no'] or ''}" if repeal else "")
            + (f"（早于{since}）" if day and day < since else ""))
    last = law["versions"][-1] if law.get("versions") else {}
    return _entry(REPEALED, law["law_id"], law["title"], prev_version_id=last.get("version_id"),
                  prev_version_date=last.get("version_date"), repealed_on=day,
                  replaced_by=successor["title"] if successor else None, repeal=repeal, note=note)


def _clause_entry(clause: dict, since: str) -> dict:
    """A law the KB holds no text of, repealed by a clause of one it holds."""
    day = clause.get("effective")
    return _entry(REPEALED, None, clause["name"], repealed_on=day, replaced_by=clause["law_title"],
                  repeal={k: clause.get(k) for k in ("law_id", "law_title", "article_id", "article_no", "text")},
                  note=f"《{clause['name']}》自{day or '（日期不详）'}起废止，依据《{clause['law_title']}》"
                       f"{clause.get('article_no') or ''}；知识库没有该法的文本"
                       + (f"（早于{since}）" if day and day < since else ""))


def _law_entries(kb: KnowledgeBase, index: LawIndex, lineage: Lineage, law: dict, since: str, today: str,
                 *, any_repeal: bool) -> list[dict]:
    out = []
    day = law.get("repealed_on")
    # With a watch list a law repealed before the window is reported too: the citation is stale.
    if (day and day >= since) or (any_repeal and (day or law.get("status") == STATUS_REPEALED)):
        out.append(_repeal_entry(kb, index, law, since, today))
    versions = law.get("versions") or []
    for i, v in enumerate(versions):
        if not _in_window(v, since):
            continue
        if i == 0:
            out.append(_first_version_entry(law, v, len(lineage.articles(v["version_id"])), since))
            continue
        out += [_link_entry(law, versions[i - 1], v, link) for link in lineage.links(i - 1)]
    return out


# ---- watch lists ------------------------------------------------------------------------------------

@dataclass
class Watched:
    """One citation of a watch list, resolved: the law, and the article followed through every version."""
    span: str
    law: dict | None = None
    number: int | None = None
    sub: int = 0
    chain: frozenset[str] | None = None   # the article's id in every version (None: the whole law)
    rows: list[dict] | None = None        # Lineage.history of the cited article
    clause: dict | None = None            # the repeal clause naming a law the KB holds no text of
    note: str = ""
    found: bool = False
    hits: int = 0


def _watch_refs(text: str, index: LawIndex) -> list[tuple[str, str, int | None, int, str | None]]:
    """(span, law name, number, sub, version year) for every citation in text; a line the extractor finds
    nothing in is read as one typed reference (民法典1032) or one law's name (治安管理处罚法)."""
    found = [c for c in extract(text, index.is_law) if c.law]
    refs = [(c.span, c.law, c.number, c.sub, c.version_year) for c in found]
    for m in re.finditer(r"[^\n]+", text):
        if any(c.start < m.end() and c.end > m.start() for c in found):
            continue
        line = m.group(0).strip().strip("，。；;,.、 \u3000")
        if not line or len(line) > 200:
            continue
        ref = parse_ref(line)
        if ref is not None and ref.law:
            refs.append((line, ref.law, ref.number, ref.sub, None))
        elif index.find(line) is not None:
            refs.append((line, line, None, 0, None))
    return refs


def _reference_version(law: dict, since: str, year: str | None) -> dict:
    if year:
        same = [v for v in law["versions"] if (v.get("version_date") or "").startswith(year)]
        if same:
            return same[-1]
    before = (dt.date.fromisoformat(since) - dt.timedelta(days=1)).isoformat()
    return LawIndex.version_on(law, before) or law["versions"][0]


def read_watch(index: LawIndex, text: str, since: str, lineage_of) -> tuple[list[Watched], bool]:
    """The watch list's citations, each resolved (or with a note saying why it could not be), and whether
    the list was cut at MAX_WATCH."""
    out: list[Watched] = []
    seen: set[tuple] = set()
    refs = _watch_refs(text, index)
    for span, name, number, sub, year in refs:
        law = index.find(name)
        key = (law["law_id"] if law else name, number, sub, year)
        if key in seen:
            continue
        seen.add(key)
        if len(out) == MAX_WATCH:
            return out, True
        w = Watched(span=span, law=law, number=number, sub=sub)
        out.append(w)
        if law is None:
            w.clause = index.repealed_by_clause(name)
            w.found = w.clause is not None
            w.note = (f"知识库没有《{name}》的文本，但它已被《{w.clause['law_title']}》废止" if w.clause
                      else f"知识库中没有《{name}》，无法核对")
            continue
        if number is None:
            w.found, w.note = True, f"关注《{law['title']}》全部条文"
            continue
        ref = _reference_version(law, since, year)
        order = [ref] + [v for v in reversed(law["versions"]) if v is not ref]
        art = next((a for v in order if (a := index.article(v["version_id"], number, sub)) is not None), None)
        cited = article_no_text(number, sub)
        if art is None:
            w.note = f"《{law['title']}》的各个版本都没有{cited}"
            continue
        w.rows = lineage_of(law).history(art)
        w.chain = frozenset(r["article"]["article_id"] for r in w.rows if r["article"] is not None)
        w.found = True
        w.note = f"按《{law['title']}》{art.get('version_date') or ''}版本的{cited}跟踪"
    return out, False


def _touches(w: Watched, e: dict) -> bool:
    # A citation of an article the law never had watches nothing (its note says so).
    if w.law is None or not w.found or e["law_id"] != w.law["law_id"]:
        return False
    if w.chain is None or e["change"] in (REPEALED, NEW_LAW, NO_PREVIOUS):
        return True
    return any(side and side["article_id"] in w.chain for side in (e["old"], e["new"]))


def _unchanged_entry(w: Watched, since: str) -> dict:
    """A watched citation nothing in the window touched: said so, with the article as it now reads."""
    law = w.law
    if w.rows is None:
        return _entry(UNCHANGED, law["law_id"], law["title"], note=f"自{since}以来《{law['title']}》没有新版本，也未废止")
    last = w.rows[-1]
    v = last["version"]
    fields = {"version_id": v["version_id"], "version_date": v.get("version_date"), "effective": v.get("effective")}
    if last["article"] is None:   # deleted in a revision before the window
        gone = next((r for r in w.rows if r["change"] == DELETED), last)["version"]
        old = next(r["article"] for r in reversed(w.rows) if r["article"] is not None)
        return _entry(DELETED, law["law_id"], law["title"], old=_art(old), **fields,
                      note=f"原{old['article_no']}在{gone.get('version_date')}的版本中已删除（早于{since}）")
    art = last["article"]
    cited = article_no_text(w.number, w.sub)
    now = "" if art["article_no"] == cited else f"（所引{cited}现为{art['article_no']}）"
    return _entry(UNCHANGED, law["law_id"], law["title"], new=_art(art), **fields,
                  note=f"自{since}以来本条没有修改{now}")


def _apply_watch(entries: list[dict], watches: list[Watched], since: str) -> list[dict]:
    by_law: dict[str, list[Watched]] = {}
    for w in watches:
        if w.law is not None:
            by_law.setdefault(w.law["law_id"], []).append(w)
    kept = []
    for e in entries:
        hit = [w for w in by_law.get(e["law_id"], ()) if _touches(w, e)]
        for w in hit:
            w.hits += 1
        if hit:
            e["watched"] = [w.span for w in hit]
            kept.append(e)
    for w in watches:
        if w.hits or not w.found:
            continue
        e = _clause_entry(w.clause, since) if w.clause else _unchanged_entry(w, since)
        e["watched"] = [w.span]
        w.hits += 1
        kept.append(e)
    # Each law's entries together, in the order the list first names the law.
    order = {}
    for e in kept:
        order.setdefault(e["law_id"] or e["law_title"], len(order))
    return sorted(kept, key=lambda e: order[e["law_id"] or e["law_title"]])


# ---- the report -------------------------------------------------------------------------------------

def report(kb: KnowledgeBase, *, since: str | None = None, watch_text: str | None = None,
           today: str | None = None) -> dict:
    """Everything that changed since `since` (default: twelve months before today), or with watch_text
    only what touches the citations in it: {since, today, watch, summary, laws, entries}. Unchanged
    articles are left out of a report without a watch list (counted in summary)."""
    today = today or settings.today()
    since = iso_day(since) if since else default_since(today)
    index = LawIndex(kb)
    lineages: dict[str, Lineage] = {}

    def lineage_of(law: dict) -> Lineage:
        return lineages.setdefault(law["law_id"], Lineage(kb, law))

    watches, truncated = read_watch(index, watch_text, since, lineage_of) if watch_text is not None else (None, False)
    if watches is None:
        law_ids = [row["law_id"] for row in kb.laws()]
    else:
        law_ids = list(dict.fromkeys(w.law["law_id"] for w in watches if w.law is not None))
    entries = []
    for law_id in law_ids:
        law = index.law(law_id)
        if law is not None:
            entries += _law_entries(kb, index, lineage_of(law), law, since, today, any_repeal=watches is not None)
    if watches is None:
        named = {}
        for c in kb.repeal_clauses():
            if (c.get("effective") or "") >= since and c["name"] not in named and index.find(c["name"]) is None:
                named[c["name"]] = c
        entries += [_clause_entry(c, since) for c in named.values()]
    summary = Counter(e["change"] for e in entries)
    if watches is None:
        entries = [e for e in entries if e["change"] != UNCHANGED]
    else:
        entries = _apply_watch(entries, watches, since)
        summary = Counter(e["change"] for e in entries)
    laws: dict[str, dict] = {}
    for e in entries:
        row = laws.setdefault(e["law_id"] or e["law_title"], {"law_id": e["law_id"], "law_title": e["law_title"],
                                                              "counts": {}})
        row["counts"][e["change"]] = row["counts"].get(e["change"], 0) + 1
    watch = None if watches is None else {"truncated": truncated, "citations": [
        {"span": w.span, "law_id": w.law["law_id"] if w.law else None,
         "law_title": w.law["title"] if w.law else None, "article_no": article_no_text(w.number, w.sub)
         if w.number is not None else None, "found": w.found, "entries": w.hits, "note": w.note}
        for w in watches]}
    return {"since": since, "today": today, "watch": watch,
            "summary": {k: summary[k] for k in KINDS if summary.get(k)}, "laws": list(laws.values()),
            "entries": entries}


def summary_line(rep: dict) -> str:
    """One sentence on the whole report, in Chinese."""
    counts = "，".join(f"{k} {n}" for k, n in rep["summary"].items()) or "没有变动"
    head = f"自{rep['since']}以来（截至{rep['today']}）：涉及 {len(rep['laws'])} 部法律，{counts}"
    if rep["watch"] is None and rep["summary"].get(UNCHANGED):
        head += "（未修改的条文未列出）"
    return head


def article_label(e: dict) -> str:
    """Which article an entry is about: 第五十一条（原第四十三条）, or the law alone."""
    new, old = (e["new"] or {}).get("article_no"), (e["old"] or {}).get("article_no")
    if new and old and new != old:
        return f"{new}（原{old}）"
    return new or (f"原{old}" if old else "")


def version_label(e: dict) -> str:
    if e["change"] == REPEALED:
        return f"{e['repealed_on'] or '日期不详'}废止"
    if not e["version_date"] and not e["effective"]:
        return ""
    return f"{e['version_date'] or '日期不详'}版本（{e['effective'] or '施行日期不详'}施行）"


# ---- exports ----------------------------------------------------------------------------------------

COLUMNS = [("change", "变动"), ("law_title", "法律名称"), ("article", "条文"), ("old_no", "原条号"),
           ("new_no", "新条号"), ("prev_version_date", "原版本日期"), ("version_date", "新版本日期"),
           ("effective", "施行日期"), ("repealed_on", "废止日期"), ("note", "说明"), ("diff", "修改对照"),
           ("old_text", "原条文"), ("new_text", "新条文"), ("repeal", "废止依据"), ("watched", "关注的引用")]


def rows(rep: dict) -> list[dict[str, str]]:
    """The report's entries as flat rows of text, one per entry, in COLUMNS order."""
    out = []
    for e in rep["entries"]:
        old, new, rp = e["old"] or {}, e["new"] or {}, e["repeal"]
        out.append({"change": e["change"], "law_title": e["law_title"], "article": article_label(e),
                    "old_no": old.get("article_no") or "", "new_no": new.get("article_no") or "",
                    "prev_version_date": e["prev_version_date"] or "", "version_date": e["version_date"] or "",
                    "effective": e["effective"] or "", "repealed_on": e["repealed_on"] or "", "note": e["note"],
                    "diff": e["diff"] or "", "old_text": old.get("text") or "", "new_text": new.get("text") or "",
                    "repeal": f"《{rp['law_title']}》{rp['article_no'] or ''}：{rp['text']}" if rp else "",
                    "watched": "；".join(e["watched"])})
    return out


def to_csv(rep: dict) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([label for _, label in COLUMNS])
    for r in rows(rep):
        w.writerow([csv_text(r[key]) for key, _ in COLUMNS])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")   # the BOM makes Excel read it as UTF-8


def to_docx(rep: dict) -> bytes:
    """A Word report: per law, per entry the article, what happened, and the text with deletions struck
    through and insertions underlined (as the site shows them)."""
    from docx import Document

    doc = Document()
    doc.add_heading("法律变动报告" + ("（关注清单）" if rep["watch"] is not None else ""), level=1)
    doc.add_paragraph(summary_line(rep))
    if rep["watch"] is not None:
        missing = [c for c in rep["watch"]["citations"] if not c["found"]]
        doc.add_paragraph(f"关注清单共 {len(rep['watch']['citations'])} 条引用"
                          + (f"，其中 {len(missing)} 条无法核对：" + "；".join(f"{c['span']}（{c['note']}）"
                                                                        for c in missing) if missing else "。"))
    current = None
    for e in rep["entries"]:
        if e["law_title"] != current:
            current = e["law_title"]
            doc.add_heading(f"《{current}》", level=2)
        doc.add_heading("　".join(x for x in (article_label(e), e["change"], version_label(e)) if x), level=3)
        doc.add_paragraph().add_run(e["note"]).italic = True
        old, new = (e["old"] or {}).get("text"), (e["new"] or {}).get("text")
        if old is not None and new is not None and old != new:
            p = doc.add_paragraph()
            for op, text in diff_ops(old, new):
                run = p.add_run(text)
                run.font.strike, run.font.underline = op == "-", op == "+"
            # The marked-up diff cannot be copied as the law reads: the new text follows, clean.
            doc.add_paragraph("修改后的条文：" + new)
        elif new is not None or old is not None:
            run = doc.add_paragraph().add_run(new if new is not None else old)
            run.font.strike = new is None   # a deleted article's text, struck through
        if e["repeal"]:
            doc.add_paragraph(f"废止依据：《{e['repeal']['law_title']}》{e['repeal']['article_no'] or ''}："
                              f"{e['repeal']['text']}")
        if e["watched"]:
            doc.add_paragraph("关注的引用：" + "；".join(e["watched"]))
    doc.add_paragraph().add_run(DISCLAIMER).italic = True
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
