"""Task legal-basis audit: does the law give the residents' committee (居民委员会) a task it is asked to do?

For each task the search layer supplies candidate provisions (national laws, administrative regulations
and, with a region, that region's local regulations), once for the task and once for the task with the
committee named. Each candidate is cut into sentences (a list item keeps its lead: 居民委员会履行下列
职责：…（四）调解民间纠纷). A sentence speaks to the task when it holds most of the task's concepts (its
words, or the words statutes use for them). The deciding sentence then sets the class:

- 法定职责: it names the committee (居民委员会 / 基层群众性自治组织) and gives it the duty;
- 协助事项: it names the committee and the duty is to assist (协助 / 配合) a government body;
- 其他主体职责: only sentences naming another body (a tax authority, a department) speak to the task;
- 未找到依据: no sentence speaks to the task.

The 2025 城市居民委员会组织法 is the committee's charter: 第十条 lists its own tasks, and 第四十三条
requires tasks other bodies delegate to it to have a basis in law; that article is cited with every
assisting, other-body and not-found result.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field

from lawkb.core.errors import QueryError
from lawkb.core.model import STATUS_IN_FORCE
from lawkb.core.segment import segmenter
from lawkb.search import open_searcher
from lawkb.search.contract import Filters, Query
from lawkb.search.store.protocol import KnowledgeBase

from .lawindex import LawIndex
from .sheets import append_row
from .uploads import UploadError, read_table

CLASSES = ("法定职责", "协助事项", "其他主体职责", "未找到依据")
CHARTER = "城市居民委员会组织法"
DELEGATION_ARTICLE = 43    # 委托居民委员会协助开展工作的事项，应当符合法律、法规规定
NATIONAL_LEVELS = ("宪法", "法律", "行政法规")
LOCAL_LEVELS = ("地方性法规", "地方政府规章")
MAX_TASKS = 500            # tasks per check: one limit for the site, the API and the CLI (docs/web.md)
DEPTH = 30                 # candidates taken from each search
MATCH_MIN = 0.7            # weighted share of a task's concepts a sentence must hold to speak to it

_COMMITTEE = re.compile(r"居民委员会|居委会|基层群众性自治组织|城乡社区组织")
_ASSIST = re.compile(r"协助|配合|协同")
# Public bodies a duty can be assigned to instead of the committee, and the words that assign it.
_OTHER_BODY = re.compile(
    r"人民政府|街道办事处|部门|机关|机构|税务|公安|法院|检察院|民政|卫生健康|市场监督|城市管理|应急管理|"
    r"生态环境|住房和城乡建设|自然资源|人力资源|退役军人事务|兵役|统计|派出所|登记机关|经办机构|办公室|委员会")
_DUTY = re.compile(r"应当|负责|主管|职责|由[^，。；]{1,30}(?:办理|实施|组织|签发|核发|审批|审核|查处|征收|管理|决定)|"
                   r"(?:签发|核发|审批|查处|征收|征集|登记|管理)")
# Liability clauses (违反本法规定……依法给予处分) sanction a duty; they do not assign one.
_LIABILITY = re.compile(r"^违反|构成犯罪|依法给予处分|给予[^，。；]{0,8}处分|追究[^，。；]{0,6}责任")
_CLAUSE = re.compile(r"[，,：:]")
_SENTENCE_END = re.compile(r"(?<=[。；;])")
_ITEM = re.compile(r"^\s*[（(][一二三四五六七八九十]+[）)]")

# Words a task uses and the words statutes use for the same thing (written from the vocabulary of
# community work, not from any one labelled task).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "征兵": ("兵役", "征集"), "兵役": ("征兵", "征集"), "纠纷": ("矛盾",), "矛盾": ("纠纷",),
    "邻里": ("民间",), "家庭": ("婚姻家庭", "家事"), "税": ("税收", "纳税", "税款"), "护税": ("税收",),
    "协税": ("税收",), "垃圾": ("生活垃圾",), "低保": ("最低生活保障",), "计生": ("计划生育",),
    "普查": ("人口普查",), "治安": ("社会治安",), "养犬": ("犬只",), "犬": ("犬只",), "防火": ("消防", "火灾"),
    "消防": ("防火", "火灾"), "疫情": ("传染病", "突发事件"), "信访": ("信访事项",), "帮教": ("刑满释放",),
    "矫正": ("社区矫正",), "禁毒": ("毒品",), "吸毒": ("毒品", "戒毒"), "献血": ("无偿献血",),
    "居住证明": ("居住证",), "老人": ("老年人",), "孩子": ("未成年人", "儿童"), "违建": ("违法建设",),
    "拆违": ("违法建设",), "民意": ("意见", "建议"), "普法": ("法治宣传", "宣传"), "法治": ("法律",),
    "流动人口": ("居住证",), "出租屋": ("出租",), "征地": ("征收",), "拆迁": ("征收",), "捐款": ("捐赠", "募捐"),
    "募捐": ("捐赠", "慈善"), "核发": ("签发", "发放", "颁发"), "发放": ("发给", "支付"), "困难群众": ("困难居民", "社会救助"), "救助": ("社会救助",), "选举": ("选举",),
    "业委会": ("业主委员会",), "物业": ("物业服务",), "殡葬": ("丧葬", "遗体"), "环境卫生": ("卫生",),
    "政策": ("方针", "政策"), "留守": ("留守儿童",), "独居": ("空巢", "独居"),
}
# Words that say how or by whom a task is done, not what it is: they never make a sentence relevant.
GENERIC = {
    "开展", "组织", "做好", "负责", "协助", "配合", "工作", "进行", "实施", "落实", "加强", "推进", "办理", "开具",
    "出具", "社区", "居民", "居委会", "居民委员会", "相关", "有关", "事项", "活动", "督导", "督促", "检查", "承担",
    "完成", "任务", "参与", "参加", "协调", "推动", "日常", "各类", "辖区", "本", "等", "和", "及", "与", "的",
    "指导", "管理", "服务", "统计", "上报", "报送", "收集", "填报", "台账", "宣传", "情况", "入户", "走访", "摸排",
    "排查", "登记", "证明",
}


@dataclass
class Sentence:
    text: str              # as printed, the list lead joined to its item
    article: dict          # the hit: law_title, article_no, text, level, region
    committee: bool
    assist: bool
    other_body: bool


@dataclass
class _Task:
    task: str
    department: str | None
    concepts: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)


def check_tasks(kb: KnowledgeBase, tasks: list[str | dict], *, region: str | None = None,
                searcher=None) -> dict:
    """Classify each task; see the module docstring for the method."""
    if len(tasks) > MAX_TASKS:
        raise ValueError(f"too many tasks ({len(tasks)}); at most {MAX_TASKS} at a time")
    searcher = searcher or open_searcher(kb)
    index = LawIndex(kb)
    charter = index.find(CHARTER)
    delegation = None
    if charter is not None:
        delegation = index.article(index.current(charter)["version_id"], DELEGATION_ARTICLE)
    # The region's own rules for its committees (北京市实施《城市居民委员会组织法》办法) are searched
    # for every task, like the charter itself.
    local_charters = [x["title"] for x in kb.laws(region=region, q="居民委员会")
                      if x["status"] == STATUS_IN_FORCE and x.get("region_province")] if region else []
    out = []
    for t in tasks:
        item = _task(t)
        if not item.task:
            continue
        out.append(_classify(searcher, item, region, delegation, local_charters))
    summary = {c: 0 for c in CLASSES}
    for r in out:
        summary[r["class"]] += 1
    return {"tasks": out, "summary": summary, "region": region}


def _task(t: str | dict) -> _Task:
    if isinstance(t, dict):
        text = str(t.get("task") or "").strip()
        dept = str(t.get("department") or "").strip() or None
    else:
        text, dept = str(t).strip(), None
    item = _Task(task=text, department=dept)
    item.concepts = concepts(text)
    return item


def concepts(task: str) -> list[tuple[str, tuple[str, ...]]]:
    """The task's content words, each with the statute words that count for it. Search-mode segmentation
    also yields a long word's parts (垃圾分类 → 垃圾, 分类): a part stands for itself only when no longer
    content word holds it."""
    terms = [w for w in dict.fromkeys(segmenter().terms(task)) if not re.fullmatch(r"[\W\d_]+", w)]
    # A task made only of such words (开展工作) names nothing a provision could be found for.
    words = [w for w in terms if w not in GENERIC]
    longest = [w for w in words if not any(w != o and w in o for o in words)]
    # A single character left over by segmentation (居住证明 → 居住证 / 明) says nothing on its own.
    longest = [w for w in longest if len(w) > 1 or w in SYNONYMS] or longest
    out = []
    for w in longest:
        alts = set(SYNONYMS.get(w, ()))
        for part, syn in SYNONYMS.items():
            if part in w and part != w:
                alts |= set(syn) | {part}
        out.append((w, tuple(sorted(alts))))
    return out


# A concept named only as the occasion or means of another duty (结合征兵工作…进行国防教育) is not the duty.
_MODIFIER = re.compile(r"(?:结合|利用|通过|借助|围绕)[^，。；：]{0,12}$")


def _holds(sentence: str, concept: tuple[str, tuple[str, ...]]) -> bool:
    word, alts = concept
    for w in (word, *alts):
        for m in re.finditer(re.escape(w), sentence):
            if not _MODIFIER.search(sentence[:m.start()]):
                return True
    if len(word) >= 4:
        # A compound the statute writes apart: 垃圾分类 in 生活垃圾应当分类投放.
        halves = (word[:2], word[2:])
        return all(h in sentence for h in halves)
    return False


def coverage(sentence: str, cs: list[tuple[str, tuple[str, ...]]], weights: list[float] | None = None) -> float:
    if not cs:
        return 0.0
    weights = weights or [1.0] * len(cs)
    return sum(w for c, w in zip(cs, weights, strict=True) if _holds(sentence, c)) / sum(weights)


def concept_weights(cs: list[tuple[str, tuple[str, ...]]], pool: list[str]) -> list[float]:
    """Rarer concepts count for more (an IDF over the candidate sentences): 审批 in 审批最低生活保障申请
    matters more than 申请, which most candidate sentences share."""
    n = len(pool)
    return [math.log(1 + (n + 1) / (1 + sum(_holds(t, c) for t in pool))) for c in cs]


def sentences(article: dict) -> list[Sentence]:
    """An article cut into sentences; a list item is joined to the lead that introduces it."""
    out = []
    lead = ""
    for para in article["text"].split("\n"):
        para = para.strip()
        if not para:
            continue
        if _ITEM.match(para) and lead:
            units = [lead + para]
        else:
            lead = para if para.endswith(("：", ":")) else ""
            units = [s for s in _SENTENCE_END.split(para) if s.strip()]
        for u in units:
            out.append(_sentence(u, article, lead))
    return out


def _sentence(text: str, article: dict, lead: str) -> Sentence:
    committee = bool(_COMMITTEE.search(text))
    rest = _COMMITTEE.sub("", text)
    other = bool(_OTHER_BODY.search(rest)) and bool(_DUTY.search(rest))
    return Sentence(text=text, article=article, committee=committee, assist=False, other_body=other)


def _assists(s: Sentence, cs: list[tuple[str, tuple[str, ...]]]) -> bool:
    """Whether the committee's part in the task is to assist: 协助 / 配合 in the clause that names the task,
    or in the clause next to it that names the committee (…应当协助所在地人民政府动员和组织社会力量，
    做好本区域的人口普查工作). A sentence can give the committee its own duty and an assisting one side by
    side (设置专人专岗负责未成年人保护工作，协助政府有关部门宣传…): only the task's clause counts."""
    clauses = [c for c in _CLAUSE.split(s.text) if c.strip()]
    if not clauses:
        return False
    held = [sum(_holds(c, k) for k in cs) for c in clauses]
    best = max(range(len(clauses)), key=lambda i: (held[i], -i))
    chosen = [clauses[best]]
    if not _COMMITTEE.search(clauses[best]):
        for j in (best - 1, best + 1):
            if 0 <= j < len(clauses) and _COMMITTEE.search(clauses[j]):
                chosen.append(clauses[j])
                break
    return any(_ASSIST.search(c) for c in chosen)


def _search(searcher, text: str, region: str | None, law: str | None = None) -> list[dict]:
    levels = NATIONAL_LEVELS + (LOCAL_LEVELS if region else ())
    try:
        result = searcher.search(Query(text, k=DEPTH, filters=Filters(level=levels, region=region, law=law)))
    except QueryError:
        return []
    return [{"law_title": h.law_title, "article_no": h.article_no, "text": h.text, "level": h.level,
             "region": h.region, "article_id": h.article_id, "rank": i} for i, h in enumerate(result.hits)]


def _candidates(searcher, item: _Task, region: str | None, local_charters: list[str]) -> list[dict]:
    seen: dict[str, dict] = {}
    alts = " ".join(a for _, syn in item.concepts for a in syn)
    queries = [(f"{item.task} {alts}".strip(), None), (f"居民委员会 {item.task} {alts}".strip(), None),
               (item.task, CHARTER)] + [(item.task, title) for title in local_charters]
    for text, law in queries:
        for hit in _search(searcher, text, region, law):
            seen.setdefault(hit["article_id"], hit)
    return list(seen.values())


def _classify(searcher, item: _Task, region: str | None, delegation: dict | None,
              local_charters: list[str]) -> dict:
    pool = [s for art in _candidates(searcher, item, region, local_charters) for s in sentences(art)
            if not _LIABILITY.search(s.text)]
    weights = concept_weights(item.concepts, [s.text for s in pool])
    found = []
    for s in pool:
        cov = coverage(s.text, item.concepts, weights)
        if cov >= MATCH_MIN:
            s.assist = s.committee and _assists(s, item.concepts)
            found.append((cov, s))
    # Best first: fuller match, then the committee's charter and national law before local rules, then
    # the search rank.
    def order(x: tuple[float, Sentence]) -> tuple:
        cov, s = x
        # The committee's organic law and its local implementing rules come first among equals.
        charter = "居民委员会" in s.article["law_title"]
        return (-round(cov, 6), not charter, s.article.get("region") is not None, s.article["rank"])

    found.sort(key=order)
    own = [(c, s) for c, s in found if s.committee]
    others = [(c, s) for c, s in found if not s.committee and s.other_body]
    words = "、".join(w for w, _ in item.concepts) or "（无实义词）"
    result = {"task": item.task, "department": item.department, "concepts": [w for w, _ in item.concepts]}
    if own:
        cov, best = own[0]
        cls = "协助事项" if best.assist else "法定职责"
        deciding = [best] + [s for c, s in own[1:4] if s.article["article_id"] != best.article["article_id"]]
        if cls == "协助事项":
            reasoning = (f"《{best.article['law_title']}》{best.article['article_no']}规定居民委员会协助或者配合"
                         f"有关机关做这项工作（“{_short(best.text)}”），属于协助事项；依照城市居民委员会组织法"
                         f"第四十三条，委托事项应当有法律、法规依据，经费由委托部门承担。")
        else:
            reasoning = (f"《{best.article['law_title']}》{best.article['article_no']}把这项工作直接规定为居民委员会"
                         f"的职责（“{_short(best.text)}”）。")
        confidence = 0.55 + 0.4 * cov
    elif others:
        cov, best = others[0]
        cls = "其他主体职责"
        deciding = [best] + [s for c, s in others[1:3] if s.article["article_id"] != best.article["article_id"]]
        reasoning = (f"找到的规定把这项工作交给其他主体（《{best.article['law_title']}》{best.article['article_no']}："
                     f"“{_short(best.text)}”），没有找到规定居民委员会承担它的条文；依照城市居民委员会组织法"
                     f"第四十三条，交办这类事项应当有法律、法规依据。")
        confidence = 0.45 + 0.4 * cov
    else:
        cls = "未找到依据"
        deciding = []
        reasoning = (f"在全国性法律、行政法规{'和' + region + '的地方性法规' if region else ''}中，没有找到同时含有"
                     f"“{words}”的规定。依照城市居民委员会组织法第四十三条，委托居民委员会协助的事项应当符合"
                     f"法律、法规规定；可以请交办部门说明依据。")
        confidence = 0.6 if item.concepts else 0.3
        if not item.concepts:
            reasoning = "任务描述中没有可以检索的实义词（只有“开展、组织、工作”一类的词），请写明具体做什么。"
    citations = [_cite(s) for s in deciding]
    if cls != "法定职责" and delegation is not None:
        citations.append({"law_title": delegation["law_title"], "article_no": delegation["article_no"],
                          "text": delegation["text"], "sentence": _delegation_sentence(delegation["text"]),
                          "role": "delegation"})
    result.update({"class": cls, "confidence": round(min(confidence, 0.95), 2), "reasoning": reasoning,
                   "citations": citations})
    return result


def _cite(s: Sentence) -> dict:
    return {"law_title": s.article["law_title"], "article_no": s.article["article_no"], "text": s.article["text"],
            "sentence": s.text, "level": s.article.get("level"), "region": s.article.get("region"),
            "role": "deciding"}


def _delegation_sentence(text: str) -> str:
    for s in _SENTENCE_END.split(text.replace("\n", "")):
        if "委托" in s:
            return s
    return text


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[:n] + "……"


# ---- reading task lists and writing reports ---------------------------------------------------------

_TASK_HEADERS = ("task", "任务", "事项", "工作事项", "任务名称", "事项名称", "工作任务", "内容")
_DEPT_HEADERS = ("department", "部门", "交办部门", "派单部门", "责任部门", "来源", "交办单位")


def read_tasks(data: bytes, filename: str) -> list[dict]:
    """Tasks from an uploaded CSV / TXT (UTF-8 with or without BOM, GBK / GB18030) or XLSX (first sheet):
    one task per row; a header row naming the task and department columns is recognised, otherwise column
    1 is the task and column 2 the department. The file is read by the bounded readers of
    lawkb.tools.uploads; anything unreadable, unsupported or over MAX_TASKS raises their UploadError
    (a KBError with its HTTP status, a stable code and a Chinese message)."""
    try:
        rows = read_table(data, filename, max_rows=MAX_TASKS + 1)   # the tasks and a header row
    except UploadError as exc:
        if exc.code == "too_many_rows":
            raise _too_many_tasks() from None
        raise
    rows = [[c.strip() for c in row] for row in rows]
    rows = [r for r in rows if any(r)]
    if not rows:
        raise _no_tasks()
    header = [c.lower() for c in rows[0]]
    t_col = next((i for i, c in enumerate(header) if c in _TASK_HEADERS), None)
    d_col = next((i for i, c in enumerate(header) if c in _DEPT_HEADERS), None)
    if t_col is not None:
        rows = rows[1:]
    else:
        t_col, d_col = 0, (1 if any(len(r) > 1 and r[1] for r in rows) else None)
    out = []
    for r in rows:
        task = r[t_col] if t_col < len(r) else ""
        if not task:
            continue
        dept = r[d_col] if d_col is not None and d_col < len(r) else ""
        out.append({"task": task, "department": dept or None})
    if not out:
        raise _no_tasks()
    if len(out) > MAX_TASKS:
        raise _too_many_tasks(len(out))
    return out


def _no_tasks() -> UploadError:
    return UploadError(400, "no_tasks", "任务清单里没有任务：请每行写一项任务（第一行可以是表头“任务,交办部门”）")


def _too_many_tasks(count: int | None = None) -> UploadError:
    got = f"（收到 {count} 项）" if count else ""
    return UploadError(413, "too_many_tasks", f"任务清单超过 {MAX_TASKS} 项上限{got}：一次最多检查 {MAX_TASKS} 项，请分批上传")


def report_xlsx(result: dict) -> bytes:
    """The audit as an XLSX workbook: one row per task (class, confidence, reasoning, provisions) and a
    summary sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "任务依据"
    head = ["序号", "任务", "交办部门", "结论", "置信度", "理由", "依据条文", "决定性语句"]
    ws.append(head)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for i, t in enumerate(result["tasks"], start=1):
        cites = "\n".join(f"《{c['law_title']}》{c['article_no'] or ''}" for c in t["citations"])
        sents = "\n".join(c["sentence"] for c in t["citations"])
        append_row(ws, [i, t["task"], t.get("department") or "", t["class"], t["confidence"], t["reasoning"],
                        cites, sents])
    for col, width in zip("ABCDEFGH", (6, 30, 14, 12, 8, 60, 36, 60), strict=True):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    summary = wb.create_sheet("汇总")
    summary.append(["结论", "数量"])
    for k, v in result["summary"].items():
        append_row(summary, [k, v])
    summary.append([])
    summary.append(["本报告由程序自动生成，仅供参考，不构成法律意见。"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
