"""Task legal-basis audit: does the law give the residents' committee (居民委员会) a task it is asked to do?
The verdicts are those of the lists provinces publish (依法履行职责事项, 依法协助政府事项, and the
负面清单 of tasks that are not the committee's):

- 依法履行职责: a provision names the committee (居民委员会 / 基层群众性自治组织) and gives it the duty;
- 依法协助: a provision names the committee and its part is to assist (协助 / 配合) a government body;
- 不应由居委会承担: provisions give the task to another body (the one named is reported: 县级以上人民政府
  …部门, 公安机关, 公证机构), and none gives it to the committee; a task that asks for a power of
  administration (执法, 处罚, 审批, 查处, 强制 …) is this even where the committee has a part in the same
  field, for its part is then to assist or report, not to wield the power;
- 未找到依据: no provision found speaks to the task.

For each task (and each part of a compound one) the search layer supplies candidate provisions (national
laws, administrative regulations and, with a region, that region's local regulations) for the task, the
task with the committee named, and the committee's charter. Each candidate is cut into sentences (a list
item keeps its lead). A sentence speaks to the task when it holds most of the task's concepts (its words,
or the words statutes use for them); the sentence that decides is shown with its provision.

城市居民委员会组织法 is the committee's charter; its article on tasks other bodies hand to the committee
(the 2018 text's 第二十条, the 2025 text's 第四十三条) is cited with every verdict but 依法履行职责.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lawkb.core.errors import QueryError
from lawkb.core.model import STATUS_IN_FORCE
from lawkb.search import open_searcher
from lawkb.search.contract import Filters, Query
from lawkb.search.store.protocol import KnowledgeBase

from .lawindex import LawIndex
from .tasklist import MAX_TASKS, TaskList, read_task_list, read_tasks, report_xlsx
from .taskwords import (
    CERT_WORDS,
    COMMITTEE,
    COMPETENCE,
    POWER,
    POWER_LAWS,
    RESERVES,
    Concept,
    Sentence,
    assists,
    body_of,
    certificate_of,
    concept_weights,
    concepts,
    coverage,
    helps_government,
    power_of,
    sentences,
    split_task,
    wields,
)

__all__ = ["CLASSES", "MAX_TASKS", "TaskList", "check_tasks", "read_task_list", "read_tasks", "report_xlsx"]

OWN, ASSISTS, NOT_OURS, NOT_FOUND = CLASSES = ("依法履行职责", "依法协助", "不应由居委会承担", "未找到依据")
CHARTER = "城市居民委员会组织法"
NATIONAL_LEVELS = ("宪法", "法律", "行政法规")
LOCAL_LEVELS = ("地方性法规", "地方政府规章")
DEPTH = 30                 # candidates taken from each search
MATCH_MIN = 0.6            # weighted share of a task's concepts a sentence must hold to speak to it
ASSIST_MARGIN = 0.15       # how much less of a task an assisting provision may hold and still decide it
LOOSE_MIN = 0.5            # the same for a sentence granting the power a task asks for
_DELEGATION = re.compile(r"(?:委托|需要)居民委员会[^。]{0,30}协助")
# Which verdict a compound task takes when its parts differ: a part that is not the committee's is what
# staff must push back on; a part it only assists in makes the whole an assisted task.
_PRECEDENCE = (NOT_OURS, ASSISTS, OWN, NOT_FOUND)
STRENGTH_WORDS = {
    "明确": "条文写明了这项工作由谁承担，任务的主要内容都出现在这句话里。",
    "部分对应": "条文与任务的主要内容部分对应，请对照原文判断是否适用。",
    "未找到": "没有找到同时写到任务主要内容的条文，不代表一定没有规定。",
}


@dataclass
class _Task:
    task: str
    department: str | None
    concepts: list[Concept] = field(default_factory=list)


def check_tasks(kb: KnowledgeBase, tasks: list[str | dict], *, region: str | None = None,
                searcher=None) -> dict:
    """Classify each task; see the module docstring for the method."""
    if len(tasks) > MAX_TASKS:
        raise QueryError(f"一次最多检查 {MAX_TASKS} 项任务（收到 {len(tasks)} 项）")
    searcher = searcher or open_searcher(kb)
    index = LawIndex(kb)
    charter = index.find(CHARTER)
    delegation = None
    if charter is not None:
        delegation = next((a for a in index.articles(index.current(charter)["version_id"]).values()
                           if _DELEGATION.search(a["text"])), None)
    # The region's own rules for its committees (北京市实施《城市居民委员会组织法》办法) are searched
    # for every task, like the charter itself.
    local_charters = [x["title"] for x in kb.laws(region=region, q="居民委员会")
                      if x["status"] == STATUS_IN_FORCE and x.get("region_province")] if region else []
    out = []
    for t in tasks:
        task, dept = _task(t)
        if not task:
            continue
        out.append(_audit(searcher, index, task, dept, region, delegation, local_charters))
    summary = {c: 0 for c in CLASSES}
    for r in out:
        summary[r["class"]] += 1
    return {"tasks": out, "summary": summary, "region": region, "strength_words": STRENGTH_WORDS}


# Staff also ask in questions: 居委会能否出具死亡证明？ is the task 出具死亡证明.
_QUESTION = re.compile(r"^(?:(?:社区)?居委会|(?:社区)?居民委员会|社区)?(?:能否|能不能|可否|可不可以|可以|是否(?:应当|可以|需要)?|"
                       r"要不要|应不应该?|该不该|有没有(?:义务|责任)|有义务|必须)")


def _task(t: str | dict) -> tuple[str, str | None]:
    if isinstance(t, dict):
        text, dept = str(t.get("task") or "").strip(), (str(t.get("department") or "").strip() or None)
    else:
        text, dept = str(t).strip(), None
    asked = _QUESTION.sub("", text).rstrip("？?吗呢。 ")
    return (asked if asked and asked != text.rstrip("？? ") else text), dept


def _audit(searcher, index: LawIndex, task: str, dept: str | None, region: str | None, delegation: dict | None,
           local_charters: list[str]) -> dict:
    pieces = split_task(task)
    parts = [_classify(searcher, index, _Task(p, dept, concepts(p)), region, local_charters) for p in pieces]
    whole = min(parts, key=lambda r: _PRECEDENCE.index(r["class"]))
    if len(parts) > 1:
        # A provision that gives the committee the task as a whole (设置专人专岗负责未成年人保护工作，建立
        # 信息档案…) decides it; the parts decide only where none does.
        joined = _classify(searcher, index, _Task(task, dept, concepts(task)), region, local_charters)
        if joined["class"] in (OWN, ASSISTS):
            whole = joined
    result = {**whole, "task": task, "department": dept}
    if len(parts) > 1:
        result["parts"] = [{"task": p["task"], "class": p["class"], "body": p.get("body"),
                            "citations": p["citations"][:1]} for p in parts]
        seen = {(c["law_title"], c["article_no"]) for c in whole["citations"]}
        for p in parts:   # each part's deciding provision is among the whole's citations
            for c in p["citations"][:1]:
                if (c["law_title"], c["article_no"]) not in seen:
                    seen.add((c["law_title"], c["article_no"]))
                    result["citations"].append(c)
        differ = [p for p in parts if p["class"] != whole["class"]]
        if differ:
            result["reasoning"] += "另：" + "；".join(f"“{p['task']}”{p['class']}" for p in differ) + "。"
    if result["class"] != OWN and delegation is not None:
        result["citations"].append({"law_title": delegation["law_title"], "article_no": delegation["article_no"],
                                    "text": delegation["text"], "sentence": _delegation_sentence(delegation["text"]),
                                    "role": "delegation"})
    return result


def _search(searcher, text: str, region: str | None, law: str | None = None) -> list[dict]:
    levels = NATIONAL_LEVELS + (LOCAL_LEVELS if region else ())
    try:
        result = searcher.search(Query(text, k=DEPTH, filters=Filters(level=levels, region=region, law=law)))
    except QueryError:
        return []
    return [{"law_title": h.law_title, "article_no": h.article_no, "text": h.text, "level": h.level,
             "region": h.region, "article_id": h.article_id, "rank": i} for i, h in enumerate(result.hits)]


def _candidates(searcher, item: _Task, region: str | None, local_charters: list[str]) -> list[dict]:
    seen: dict[tuple[str, str | None], dict] = {}
    alts = " ".join(a for _, syn in item.concepts for a in syn)
    queries = [(f"{item.task} {alts}".strip(), None), (f"居民委员会 {item.task} {alts}".strip(), None),
               (item.task, CHARTER)] + [(item.task, title) for title in local_charters]
    for text, law in queries:
        for hit in _search(searcher, text, region, law):
            # one article once, whichever version or copy the search found it in
            seen.setdefault((hit["law_title"], hit["article_no"] or hit["article_id"]), hit)
    return list(seen.values())


def _order(x: tuple[float, Sentence]) -> tuple:
    # Fuller match first; among equals the committee's charter and its local rules, national law before
    # local, then the search's own rank.
    cov, s = x
    return (-round(cov, 6), "居民委员会" not in s.article["law_title"], s.article.get("region") is not None,
            s.article["rank"])


def _classify(searcher, index: LawIndex, item: _Task, region: str | None, local_charters: list[str]) -> dict:
    pool = [s for art in _candidates(searcher, item, region, local_charters) for s in sentences(art)]
    weights = concept_weights(item.concepts, [s.text for s in pool])
    power = power_of(item.task)
    found, loose = [], []
    cert = certificate_of(item.task)
    if cert:   # a certificate task is spoken to only by a sentence about certifying
        pool = [s for s in pool if CERT_WORDS.search(s.context)]
    for s in pool:
        # The sentence itself, or with the sentences before it in its paragraph (a little less): 收支帐目
        # 应当及时公布 follows 居民委员会办理本居住地区公益事业所需的费用…经居民会议讨论决定.
        cov = max(coverage(s.text, item.concepts, weights),
                  coverage(s.context, item.concepts, weights) - 0.05 if s.context != s.text else 0.0)
        if cov >= MATCH_MIN - 1e-9:   # a share like 7 of 10 computed in floats
            # The committee's part is to assist where the clause that names the task says so, or where the
            # task is itself to assist (协助…) and the sentence has the committee assist a body.
            s.assist = s.committee and (assists(s, item.concepts)
                                        or helps_government(item.task) and helps_government(s.text))
            found.append((cov, s))
        elif power and cov >= LOOSE_MIN - 1e-9 and s.other_body and not s.committee and POWER.search(s.text):
            loose.append((cov, s))
    found.sort(key=_order)
    own = [(c, s) for c, s in found if s.committee]
    if own and helps_government(item.task):
        # A task worded as assisting (协助司法所做好社区矫正工作) is decided by the provision that has the
        # committee assist, where one speaks to it nearly as fully as the best match.
        near = [x for x in own if x[1].assist and x[0] >= own[0][0] - ASSIST_MARGIN]
        if near and not own[0][1].assist:
            own = [near[0]] + [x for x in own if x is not near[0]]
    # Among provisions giving the task to another body, the one that makes a body answerable for it or
    # grants the power (负责, 主管, 监督检查, 查处 …) decides before one that merely mentions the field.
    others = sorted([(c, s) for c, s in found if not s.committee and s.other_body] + loose,
                    key=lambda x: (-round(x[0], 1), not (COMPETENCE.search(x[1].text) and body_of(x[1].text)),
                                   *_order(x)[1:]))
    if power and not others and not any(wields(s, power) for _, s in own):
        # No provision found for this field, but the task asks for a power that the general law reserves
        # to administrative bodies (行政处罚法, 行政许可法, 行政强制法).
        others = _reserved(index, power)
    words = "、".join(w for w, _ in item.concepts) or "（无实义词）"
    result: dict = {"task": item.task, "department": item.department, "concepts": [w for w, _ in item.concepts],
                    "body": None}
    # A power of administration stays with the body the law grants it to, even where the committee has
    # its own (assisting, reporting) part in the same field.
    wielded = [(c, s) for c, s in own if not s.assist and power and wields(s, power)]
    if own and not (power and others and not wielded):
        cov, best = own[0]
        cls = ASSISTS if best.assist else OWN
        deciding = _distinct([best] + [s for _, s in own[1:4]])
        if cls == ASSISTS:
            reasoning = (f"《{best.article['law_title']}》{best.article['article_no']}规定居民委员会协助或者配合"
                         f"有关机关做这项工作（“{_short(best.text)}”），属于依法协助政府的事项；交办时应当有"
                         f"法律、法规依据，并由交办部门提供工作条件。")
        else:
            reasoning = (f"《{best.article['law_title']}》{best.article['article_no']}把这项工作直接规定为居民委员会"
                         f"的职责（“{_short(best.text)}”），属于依法履行职责的事项。")
    elif others:
        cov, best = others[0]
        cls = NOT_OURS
        # The law's own allocation of its field (县级以上地方人民政府…主管本行政区域内的…工作) is what says who
        # answers for the task, so it is cited beside the sentence that matched the task's words.
        alloc = _allocation(index, best.article)
        if alloc is not None and body_of(best.text) is None:
            best, alloc = alloc, best   # the sentence that names the body leads, and the reasoning quotes it
        body = body_of(best.text)
        result["body"] = body
        deciding = _distinct([best] + ([alloc] if alloc else []) + [s for _, s in others[1:4]]
                             + [s for _, s in own[:1]])
        who = f"由{body}负责" if body else "交给其他机关或单位"
        reasoning = (f"依照《{best.article['law_title']}》{best.article['article_no']}，这项工作{who}"
                     f"（“{_short(best.text)}”）")
        if own:
            reasoning += f"；居民委员会在这方面只承担协助、报告一类的职责（《{own[0][1].article['law_title']}》" \
                         f"{own[0][1].article['article_no']}），不应承担{power or '这项工作'}本身"
        else:
            reasoning += "；没有找到规定居民委员会承担它的条文"
        reasoning += "。这类事项不应交给居民委员会承担，可以请交办部门说明依据。"
    else:
        cov, cls, deciding = 0.0, NOT_FOUND, []
        if cert:
            reasoning = (f"在全国性法律、行政法规{'和' + region + '的地方性法规' if region else ''}中，没有找到规定"
                         f"居民委员会出具{cert}证明的条文，也没有找到规定由哪个机关出具的条文。知识库中没有"
                         f"依据时，居民委员会可以不出具，或者只证明本会了解的事实；可以请要求证明的单位说明依据。")
        else:
            reasoning = (f"在全国性法律、行政法规{'和' + region + '的地方性法规' if region else ''}中，没有找到同时"
                         f"写到“{words}”的规定。交办给居民委员会的事项应当有法律、法规依据；可以请交办部门"
                         f"说明依据。")
        if not item.concepts:
            reasoning = "任务描述中没有可以检索的实义词（只有“开展、组织、工作”一类的词），请写明具体做什么。"
    strength = "明确" if cov >= 0.9 else "部分对应" if deciding else "未找到"
    result.update({"class": cls, "strength": strength, "reasoning": reasoning,
                   "citations": [_cite(s) for s in deciding]})
    return result


def _distinct(ss: list[Sentence]) -> list[Sentence]:
    """One sentence per provision (a law and article number): two copies of a text, or two versions of
    it, are not two authorities."""
    seen, out = set(), []
    for s in ss:
        key = (s.article["law_title"], s.article["article_no"] or s.article["article_id"])
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def _cite(s: Sentence) -> dict:
    return {"law_title": s.article["law_title"], "article_no": s.article["article_no"], "text": s.article["text"],
            "sentence": s.text, "level": s.article.get("level"), "region": s.article.get("region"),
            "role": "deciding", "committee": bool(COMMITTEE.search(s.text))}


def _delegation_sentence(text: str) -> str:
    for s in re.split(r"(?<=[。；;])", text.replace("\n", "")):
        if _DELEGATION.search(s) or "委托" in s:
            return s
    return text


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[:n] + "……"


def _as_hit(law: dict, art: dict, region: str | None = None) -> dict:
    """An article read straight from a law's text, in the shape a search hit has, so it is cut into
    sentences the same way."""
    return {"law_title": law["title"], "article_no": art["article_no"], "text": art["text"], "level": law.get("level"),
            "region": region, "article_id": art["article_id"], "rank": 0}


def _reserved(index: LawIndex, power: str) -> list[tuple[float, Sentence]]:
    """The sentence of the general law on this kind of power that reserves it to administrative bodies,
    as found in the KB's current text (nothing when the KB lacks that law)."""
    for kind, title in POWER_LAWS:
        if not kind.search(power):
            continue
        law = index.find(title)
        if law is None:
            return []
        for art in index.articles(index.current(law)["version_id"]).values():
            for sent in sentences(_as_hit(law, art)):
                if RESERVES.search(sent.text) and sent.other_body:
                    return [(0.5, sent)]
        return []
    return []


# 国务院…主管部门负责全国的…工作；县级以上地方人民政府…主管部门负责本行政区域内的…工作
_ALLOCATES = re.compile(r"(?:主管|负责)[^。；]{0,40}(?:工作|监督管理)")
ALLOCATION_SCAN = 12       # a law allocates its field among its first articles (总则)


def _allocation(index: LawIndex, art: dict) -> Sentence | None:
    """The sentence of an article's law that makes a body answerable for the law's field: the local
    level's where the law has one (tasks land on a district), else the first; None when the law has none
    among its first articles."""
    law = index.find(art["law_title"])
    if law is None:
        return None
    found = []
    arts = sorted(index.articles(index.current(law)["version_id"]).values(), key=lambda a: (a["number"], a["sub"]))
    for a in arts[:ALLOCATION_SCAN]:
        for sent in sentences(_as_hit(law, a, art.get("region"))):
            if _ALLOCATES.search(sent.text) and sent.other_body and not sent.committee and body_of(sent.text):
                found.append(sent)
    local = [s for s in found if "本行政区域" in s.text or "地方" in s.text]
    return (local or found or [None])[0]
