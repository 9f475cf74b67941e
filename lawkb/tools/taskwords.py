"""Reading a task and a provision for the task audit: the task's verb and the things it names, the
statute's words for them, and a provision cut into sentences that say who does what.

The vocabulary is written from the language of community work and of statutes (交办 documents say 执法
检查 where statutes say 监督检查, 违建 where they say 违法建设), not from any one labelled task."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from lawkb.core.segment import segmenter

# Words a task uses and the words statutes use for the same thing.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "征兵": ("兵役", "征集"), "兵役": ("征兵", "征集"), "纠纷": ("矛盾",), "矛盾": ("纠纷",),
    "邻里": ("民间",), "家庭": ("婚姻家庭", "家事"), "税": ("税收", "纳税", "税款"), "护税": ("税收",),
    "协税": ("税收",), "垃圾": ("生活垃圾",), "低保": ("最低生活保障",), "计生": ("计划生育",),
    "普查": ("人口普查",), "治安": ("社会治安",), "养犬": ("犬只",), "犬": ("犬只",), "防火": ("消防", "火灾"),
    "消防": ("防火", "火灾"), "疫情": ("传染病", "突发事件"), "信访": ("信访事项",), "帮教": ("刑满释放",),
    "矫正": ("社区矫正",), "禁毒": ("毒品",), "吸毒": ("毒品", "戒毒"), "献血": ("无偿献血",),
    "居住证明": ("居住证",), "老人": ("老年人",), "孩子": ("未成年人", "儿童"), "违建": ("违法建设",),
    "拆违": ("违法建设",), "违法建筑": ("违法建设", "违章建筑"), "违章建筑": ("违法建设",),
    "民意": ("意见", "建议"), "普法": ("法治宣传", "宣传"), "法治": ("法律",),
    "流动人口": ("居住证",), "出租屋": ("出租",), "征地": ("征收",), "拆迁": ("征收",), "捐款": ("捐赠", "募捐"),
    "募捐": ("捐赠", "慈善"), "核发": ("签发", "发放", "颁发"), "发放": ("发给", "支付"),
    "困难群众": ("困难居民", "社会救助"), "救助": ("社会救助",), "业委会": ("业主委员会",), "物业": ("物业服务",),
    "殡葬": ("丧葬", "遗体"), "环境卫生": ("卫生",), "政策": ("方针", "政策"), "留守": ("留守儿童",),
    "独居": ("空巢", "独居"), "化解": ("调解", "解决", "处理"),
    # the powers of administration, as officials name them and as statutes grant them
    "执法": ("监督检查", "监督管理", "查处", "行政处罚"), "执法检查": ("监督检查", "检查"),
    "罚款": ("处以罚款", "罚款"), "查处": ("查处", "处罚", "责令", "没收"), "审批": ("批准", "许可", "审批"),
    "监察": ("监察", "监督检查"), "监管": ("监督管理", "监督"), "账目": ("帐目",), "取缔": ("取缔", "查处"), "办证": ("登记", "证"), "黑诊所": ("非法行医", "医疗机构"),
    "小摊贩": ("无照经营", "经营"), "无证无照": ("无照经营", "无证"), "乱埋乱葬": ("墓", "骨灰", "遗体", "殡葬"),
    "油烟": ("油烟",), "户籍": ("户口",), "产权": ("权属", "不动产"), "学历": ("学业证书", "学历证书"),
    "出生证明": ("出生医学证明",), "占道": ("占用", "道路"), "电梯": ("特种设备",), "燃气": ("燃气",),
    "用工": ("劳动", "用人单位"), "选民": ("选民",), "食品": ("食品安全",),
}
# Words that say how or by whom a task is done, not what it is: they never make a sentence relevant.
GENERIC = {
    "开展", "组织", "做好", "负责", "协助", "配合", "工作", "进行", "实施", "落实", "加强", "推进", "办理", "开具",
    "出具", "社区", "居民", "居委会", "居民委员会", "相关", "有关", "事项", "活动", "督导", "督促", "检查", "承担",
    "完成", "任务", "参与", "参加", "协调", "推动", "日常", "各类", "辖区", "本", "等", "和", "及", "与", "的",
    "指导", "管理", "服务", "统计", "上报", "报送", "收集", "填报", "台账", "宣传", "情况", "入户", "走访", "摸排",
    "排查", "登记", "证明", "政府", "街道", "街道办事处", "街道办", "办事处", "人民政府", "有关部门", "部门", "小区", "居民区", "本辖区", "积极", "及时", "依法",
}
# A task whose verb is one of these asks for a power of administration (enforcement, penalties, licences,
# compulsion): law gives it to a named public body, and never to a residents' committee.
POWER = re.compile(r"执法|处罚|罚款|查处|审批|许可|查封|扣押|强制|取缔|征收|拆除|签发|核发|办证|监督检查|监察|"
                   r"认定|责令|吊销|没收|征税|税收征收|裁决|调查处理|监督管理")
ASSIST_TASK = re.compile(r"^(?:协助|配合|协同|帮助)")
CERTIFICATE = re.compile(r"(?:出具|开具|开|提供)([^，。；]{0,20}?)证明")

COMMITTEE = re.compile(r"居民委员会|居委会|基层群众性自治组织|城乡社区组织|居民小组")
ASSIST = re.compile(r"协助|配合|协同")
# Public bodies a duty can be assigned to instead of the committee, and the words that assign it.
OTHER_BODY = re.compile(
    r"人民政府|街道办事处|部门|机关|机构|税务|公安|法院|检察院|民政|卫生健康|市场监督|城市管理|应急管理|"
    r"生态环境|住房和城乡建设|自然资源|人力资源|退役军人事务|兵役|统计|派出所|登记机关|经办机构|办公室|委员会|"
    r"公证|医疗机构|学校|用人单位")
DUTY = re.compile(r"应当|负责|主管|职责|有权|由[^，。；]{1,30}(?:办理|实施|组织|签发|核发|审批|审核|查处|征收|管理|决定|出具)|"
                  r"(?:签发|核发|审批|查处|征收|征集|登记|管理|出具|处以|责令|没收|吊销|查封|扣押)")
# The body a sentence names as the one acting: 县级以上人民政府食品安全监督管理部门, 公安机关, 公证机构.
# Liability clauses (违反本法规定……依法给予处分) sanction a duty; they do not assign one.
LIABILITY = re.compile(r"^违反|构成犯罪|依法给予处分|给予[^，。；]{0,8}处分|追究[^，。；]{0,6}责任")
CLAUSE = re.compile(r"[，,：:]")
SENTENCE_END = re.compile(r"(?<=[。；;])")
ITEM = re.compile(r"^\s*[（(][一二三四五六七八九十]+[）)]")
# A concept named only as the occasion or means of another duty (结合征兵工作…进行国防教育) is not the duty.
MODIFIER = re.compile(r"(?:结合|利用|通过|借助|围绕)[^，。；：]{0,12}$")

Concept = tuple[str, tuple[str, ...]]


@dataclass
class Sentence:
    text: str              # as printed, the list lead joined to its item
    article: dict          # the hit: law_title, article_no, text, level, region, rank
    committee: bool        # names the residents' committee (or the self-governing organisations)
    other_body: bool       # names another body and gives it a duty or power
    context: str = ""      # the paragraph up to and including this sentence
    assist: bool = False


def concepts(task: str) -> list[Concept]:
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
    return _examples_as_one(task, out)


# 家庭、邻里、物业等矛盾纠纷: the items before 等 are examples of one thing; a provision on 民间纠纷 speaks to
# the task without naming every example, so the examples count as one concept, held by any of them.
_EXAMPLES = re.compile(r"(?:[\u4e00-\u9fff]{1,10}、)+[\u4e00-\u9fff]{1,10}等")


def _examples_as_one(task: str, cs: list[Concept]) -> list[Concept]:
    for m in _EXAMPLES.finditer(task):
        items = m.group()[:-1].split("、")
        # the first item is only the word just before the first 、 (化解居民之间的家庭 → 家庭)
        first = [c for c in cs if c[0] in items[0]]
        first = [max(first, key=lambda c: items[0].rfind(c[0]) + len(c[0]))] if first else []
        inside = first + [c for c in cs if any(c[0] in it for it in items[1:]) and c not in first]
        if len(inside) < 2:
            continue
        merged = (inside[0][0], tuple(sorted({a for w, alts in inside for a in (w, *alts)} - {inside[0][0]})))
        at = cs.index(inside[0])
        cs = [c for c in cs if c not in inside]
        cs.insert(at, merged)
    return cs


def holds(sentence: str, concept: Concept) -> bool:
    word, alts = concept
    for w in (word, *alts):
        for m in re.finditer(re.escape(w), sentence):
            if not MODIFIER.search(sentence[:m.start()]):
                return True
    if len(word) >= 4:
        # A compound the statute writes apart: 垃圾分类 in 生活垃圾应当分类投放.
        halves = (word[:2], word[2:])
        return all(h in sentence for h in halves)
    return False


def coverage(sentence: str, cs: list[Concept], weights: list[float] | None = None) -> float:
    if not cs:
        return 0.0
    weights = weights or [1.0] * len(cs)
    return sum(w for c, w in zip(cs, weights, strict=True) if holds(sentence, c)) / sum(weights)


def concept_weights(cs: list[Concept], pool: list[str]) -> list[float]:
    """Rarer concepts count for more (an IDF over the candidate sentences): 审批 in 审批最低生活保障申请
    matters more than 申请, which most candidate sentences share."""
    n = len(pool)
    return [math.log(1 + (n + 1) / (1 + sum(holds(t, c) for t in pool))) for c in cs]


def sentences(article: dict) -> list[Sentence]:
    """An article cut into sentences; a list item is joined to the lead that introduces it. A sentence
    that names no one (收支帐目应当及时公布) speaks of whoever the sentence before it in the same paragraph
    named, and is read with those sentences as its context. Liability clauses are left out: they
    sanction a duty, they do not assign one."""
    out = []
    lead = ""
    for para in article["text"].split("\n"):
        para = para.strip()
        if not para:
            continue
        if ITEM.match(para) and lead:
            units = [lead + para]
        else:
            lead = para if para.endswith(("：", ":")) else ""
            units = [s for s in SENTENCE_END.split(para) if s.strip()]
        before = ""
        actor = (False, False)
        for u in units:
            context = before + u
            before = context
            if LIABILITY.search(u):
                continue
            rest = COMMITTEE.sub("", u)
            named = (bool(COMMITTEE.search(u)), bool(OTHER_BODY.search(rest)) and bool(DUTY.search(rest)))
            if not any(named) and not OTHER_BODY.search(rest):
                named = actor
            actor = named if any(named) else actor
            out.append(Sentence(text=u, article=article, committee=named[0], other_body=named[1], context=context))
    return out


def assists(s: Sentence, cs: list[Concept]) -> bool:
    """Whether the committee's part in the task is to assist: 协助 / 配合 in the clause that names the task,
    or in the clause next to it that names the committee (…应当协助所在地人民政府动员和组织社会力量，
    做好本区域的人口普查工作). A sentence can give the committee its own duty and an assisting one side by
    side (设置专人专岗负责未成年人保护工作，协助政府有关部门宣传…): only the task's clause counts. Helping
    the owners or residents themselves (协助业主成立业主大会) is the committee's own work, not assistance
    to a government body."""
    clauses = [c for c in CLAUSE.split(s.text) if c.strip()]
    if not clauses:
        return False
    held = [sum(holds(c, k) for k in cs) for c in clauses]
    best = max(range(len(clauses)), key=lambda i: (held[i], -i))
    chosen = [clauses[best]]
    if not COMMITTEE.search(clauses[best]):
        for j in (best - 1, best + 1):
            if 0 <= j < len(clauses) and COMMITTEE.search(clauses[j]):
                chosen.append(clauses[j])
                break
    return any(helps_government(c) for c in chosen)


def helps_government(text: str) -> bool:
    """协助 / 配合 a body in the text, not 协助业主 / 居民 (the committee's own work for its residents)."""
    for m in ASSIST.finditer(text):
        # 给予指导和协助 / 指导和协助: the committee guides and helps an activity (设立业主大会) beside the
        # government bodies named with it, its own work rather than assistance to them
        if re.search(r"(?:指导|帮助|支持)[和与、]$", text[max(0, m.start() - 3):m.start()]):
            continue
        # 居民区 / 居民委员会 are a place and a body, not the residents being helped
        if not re.match(r"[^，。；]{0,2}(?:业主|居民(?!区|小区|委员会)|村民(?!委员会)|群众)", text[m.end():m.end() + 8]):
            return True
    return False


# Words of a competence clause: the body a law makes answerable for a field, or grants a power.
COMPETENCE = re.compile(r"负责|主管|职责|有权|监督管理|监督检查|查处|处罚|批准|许可|出具|签发")


_BODY_END = re.compile(r"人民政府|主管部门|管理部门|行政部门|部门|机关|机构|派出所|办事处|人民法院|人民检察院|委员会")
# Characters that end a body's name when reading backwards from its last word: verbs, prepositions and
# particles (凭公安机关, 提交公安机关, 具有行政处罚权的行政机关).
_BODY_STOP = set("凭提交由向对经在和与及或应当须必的将把被从给让于为是有，。；：“”《》()（）：")


def body_of(sentence: str) -> str | None:
    """The body the sentence makes responsible, in the statute's words (县级以上地方人民政府食品安全监督管理
    部门, 公安机关), or None."""
    rest = COMMITTEE.sub("", sentence)
    for m in _BODY_END.finditer(rest):
        start = m.start()
        while start > 0 and rest[start - 1] not in _BODY_STOP and m.end() - start < 40:
            start -= 1
        name = rest[start:m.end()].lstrip("、")
        if len(name) >= 3 and not name.startswith(("本法", "本条例")):
            return name
    return None


def power_of(task: str) -> str | None:
    """The power of administration a task asks for (查处, 罚款, 审批 …), unless the task is to assist."""
    m = POWER.search(task)
    if m is None or ASSIST_TASK.match(task) or helps_government(task[:m.start()]):
        return None   # 协助有关部门查处传销: the power is the department's, the task is to assist
    return m.group(0)


def certificate_of(task: str) -> str | None:
    """What a 出具…证明 task certifies (亲属关系, 死亡), or None."""
    m = CERTIFICATE.search(task)
    return (m.group(1).strip("的") or "证明") if m else None


def split_task(task: str) -> list[str]:
    """A compound task as its parts: 确定消防安全管理人，组织制定防火安全公约 → two. A part must name
    something of its own; 指导和协助业主… stays whole, because 指导 alone names nothing."""
    parts = [p.strip() for p in re.split(r"[，,；;]|(?<=[\u4e00-\u9fff]{2})并(?=[\u4e00-\u9fff]{2})", task) if p.strip()]
    parts = [p for p in parts if concepts(p) and any(w not in GENERIC for w, _ in concepts(p))]
    return parts if len(parts) > 1 else [task]


# The general laws that say which bodies may wield a kind of power, and the words of that kind.
POWER_LAWS = (
    (re.compile(r"处罚|罚款|没收|吊销|查处|责令"), "行政处罚法"),
    (re.compile(r"审批|许可|核发|办证|签发"), "行政许可法"),
    (re.compile(r"强制|查封|扣押|拆除|取缔"), "行政强制法"),
)
# The sentence of such a law that reserves the power: 行政处罚由具有行政处罚权的行政机关在法定职权范围内实施.
RESERVES = re.compile(r"由(?:具有[^，。；]{0,12}权的|法律、法规规定的)行政机关在法定职权范围内实施")


def wields(s: Sentence, power: str) -> bool:
    """Whether the sentence gives the committee itself the power: the power word in a clause that names
    the committee and no other body (…报县级人民政府民政部门审批 gives 审批 to the department)."""
    for clause in CLAUSE.split(s.text):
        if power in clause and COMMITTEE.search(clause) and not OTHER_BODY.search(COMMITTEE.sub("", clause)):
            return True
    return False


# a certificate a law has some body issue: 证明 / 证书, or 办理 / 核发 / 签发 / 发放 …证 (预防接种证, 居住证)
CERT_WORDS = re.compile(r"证明|证书|出具|开具|(?:办理|核发|签发|发放|颁发)[^，。；]{0,12}证")
