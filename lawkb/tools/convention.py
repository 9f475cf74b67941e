"""Convention check for drafts of a 居民公约 or 管理规约: flag clauses that take powers self-governance does
not have, and cite the higher-law provisions that reserve those powers.

A residents' convention binds by agreement: it may set shared duties, reminders, mediation, criticism and
commendation, and refer breaches to the authorities. It may not fine, confiscate, seize, restrict anyone's
liberty, cut off water or power, publish people's personal information, force people, enter homes or take
away rights; the 2025 城市居民委员会组织法 第三十一条 says a convention must not infringe residents'
personal, democratic or property rights. Each kind of measure is found by its words in a sentence, unless
the sentence forbids it (不得停水停电) or hands it to a public body (由公安机关依法处理).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lawkb.search.store.protocol import KnowledgeBase

from .lawindex import LawIndex

CHARTER_LIMIT = ("城市居民委员会组织法", 31)  # conventions must not infringe residents' rights


@dataclass(frozen=True)
class Rule:
    key: str
    words: re.Pattern[str]
    reason: str
    provisions: tuple[tuple[str, int], ...]


RULES = (
    Rule("fine", re.compile(r"罚款|罚金|罚[^\s，。；、]{0,2}[0-9０-９一二三四五六七八九十百千两]+元|处以[^，。；]{0,12}元|经济处罚|罚钱|"
                            r"(?:收取|处以|缴纳|交纳)[^，。；]{0,4}(?:违约金|惩罚金|处罚金)|扣除[^，。；]{0,6}(?:押金|保证金)"),
         "罚款是行政处罚，只能由法律、法规规定的行政机关依法实施，居民公约、管理规约不能设定或者执行罚款。",
         (("行政处罚法", 9), ("行政处罚法", 17))),
    Rule("confiscate", re.compile(r"没收|收缴|扣押|扣留[^，。；]{0,6}(?:物|车|财|证|工具|电动车|自行车)|查封|暂扣|查扣|扣车|锁车|"
                                  r"锁住[^，。；]{0,4}车|拖走|拖离|封条|贴封|封门|封堵[^，。；]{0,4}(?:门|房屋|住宅)"),
         "没收、扣押、查封财物是行政处罚或者行政强制措施，只能由法律、法规规定的行政机关实施，不得委托。",
         (("行政处罚法", 9), ("行政强制法", 9), ("行政强制法", 17), ("宪法", 13))),
    Rule("liberty", re.compile(r"限制[^，。；]{0,6}人身自由|关押|拘禁|禁闭|关禁闭|拘留|看管|带至[^，。；]{0,6}(?:值班室|保安室|办公室|警务室)|不得离开|禁止[^，。；]{0,4}外出|关起来"),
         "限制人身自由的强制措施和处罚只能由法律规定，由法定机关执行；任何组织不得非法拘禁或者限制公民人身自由。",
         (("立法法", 11), ("宪法", 37), ("行政强制法", 9))),
    Rule("utilities", re.compile(r"停水|停电|停气|断水|断电|断气|停暖|停止供(?:水|电|气|热|暖)|(?:暂停|停止|中止)[^，。；]{0,3}供应[^，。；]{0,3}(?:水|电|气|热|暖)|拉闸|限电|断网|"
                                 r"(?:切断|掐断|关闭|关掉)[^，。；]{0,6}(?:电源|水源|气源|供电|供水|供气|供暖|水阀|电闸|总闸)"),
         "停止供水、供电、供热、供燃气不能用作催缴费用或者惩戒的手段。",
         (("民法典", 944), ("行政强制法", 43))),
    Rule("personal_info", re.compile(
        r"(?:公开|公示|曝光|张贴|公布|通报|上墙|挂出|发到|晒出)[^。；]{0,20}"
        r"(?:姓名|名字|身份证|住址|门牌|房号|照片|相片|电话|手机号|个人信息|家庭情况|隐私|病史|户号)|"
        r"(?:姓名|身份证|住址|门牌|房号|照片|电话|个人信息)[^。；]{0,12}(?:公开|公示|曝光|张贴|公布|通报|上墙)|"
        r"(?:人员|住户|业主|居民|租户|其)的?(?:个人)?信息[^。；]{0,4}(?:通报|公开|公布|告知|提供给|发送给|发到)|"
        r"(?:通报|告知|提供给|发送给)[^。；]{0,4}(?:其)?(?:工作单位|单位|学校|亲属|家属)|"
        r"曝光台|黑名单"),
         "未经本人同意公开居民的姓名、住址、照片等个人信息，侵害个人信息和隐私权益，也可能损害名誉。",
         (("民法典", 1034), ("民法典", 1038), ("个人信息保护法", 25), ("民法典", 1024))),
    Rule("coercion", re.compile(r"强制|强行|强迫|硬性摊派|必须捐|一律捐"),
         "自治组织不得采取强制手段或者强迫命令；行政强制只能由法律设定、由行政机关实施。",
         (("行政强制法", 17), ("城市居民委员会组织法", 31))),
    Rule("home", re.compile(r"入户(?:检查|搜查|查看)|搜查|进入[^，。；]{0,6}(?:住宅|房屋|家中|室内)[^，。；]{0,6}(?:检查|查看|清理)|破门|撬锁|换锁"),
         "未经同意进入、搜查居民住宅，侵犯公民的住宅不受侵犯的权利。",
         (("宪法", 39),)),
    Rule("privacy", re.compile(r"(?:查看|翻看|检查|调取)[^，。；]{0,8}(?:手机|聊天记录|微信|短信|通信|信件|邮件|快递)|拆阅|监听"),
         "查看居民的通信、聊天记录等私密信息，侵犯通信秘密和隐私权。",
         (("宪法", 40), ("民法典", 1032))),
    Rule("rights", re.compile(
        r"(?:取消|停发|停止|剥夺|扣发|不予发放)[^，。；]{0,10}(?:低保|最低生活保障|救助|补贴|福利|选举权|被选举权|资格|待遇)|"
        r"剥夺|驱逐|清退出|赶出|不得在本(?:社区|小区)居住|开除[^，。；]{0,4}(?:居民|户籍)|"
        r"(?:暂停|停止|不予|拒绝|拒不)[^，。；]{0,6}(?:开具|办理|出具|发放|提供)[^，。；]{0,6}(?:证明|证件|门禁|钥匙|户口|登记)"),
         "居民公约不得剥夺或者限制居民依法享有的权利和待遇（选举权、社会救助、居住等）。",
         (("宪法", 33), ("宪法", 34))),
    Rule("dignity", re.compile(r"游街|示众|罚跪|体罚|戴高帽|挂牌|公开检讨|批斗|悔过书张贴"),
         "羞辱、体罚等做法侵犯人格尊严和名誉。",
         (("宪法", 38), ("民法典", 1024))),
)

# The sentence forbids the measure (任何单位不得以罚款，停止供水、供电…等方式催交) rather than imposing it;
# a penalty after the prohibition (禁止堆放杂物，违者罚款) is not covered by it.
_NEGATION = re.compile(r"不得|禁止|严禁|不准|不能|不应|不可|无权|杜绝|不会|不采取|不以|不搞|不使用")
_NEGATION_BREAK = re.compile(r"违者|违反|否则|不听|拒不|屡|的[，,]|有权|可以|应当|必须|须")
# The resident agrees to it (配合…入户检查, 经业主同意), or the law itself does it (依照法律被剥夺政治权利的人).
_CONSENT = re.compile(r"(?:配合|同意|允许|预约|邀请|陪同)[^，。；]{0,20}$|(?:依照法律|依法|人民法院)[^，。；]{0,4}被$")
# The sentence hands the matter to a public body, which may hold the power (由城管部门依法处以罚款).
_REFERRAL = re.compile(
    r"(?:由|报|报告|提请|移送|交由|交|向|请|通知|依法由)[^。；]{0,16}"
    r"(?:公安|派出所|城管|城市管理|综合执法|行政执法|执法部门|行政机关|主管部门|有关部门|相关部门|政府|人民法院|法院|"
    r"市场监管|生态环境|住房和城乡建设|应急管理|消防救援)")
_CLAUSE_START = re.compile(r"^\s*(?:第[一二三四五六七八九十百零〇0-9]+条|[一二三四五六七八九十]+、|[0-9０-９]+[.、．]|[（(][一二三四五六七八九十0-9]+[)）])")
_HEADING = re.compile(r"^\s*(?:#+\s*)?(?:第[一二三四五六七八九十]+[章节编]|[一二三四五六七八九十]+、[^，。；]{0,12}$)")


def split_clauses(text: str) -> list[str]:
    """The clauses of a draft: each numbered item (第X条, 一、, 1., （一）) with its following lines; an
    unnumbered draft is split into sentences. Headings and titles are not clauses."""
    lines = [ln.strip() for ln in text.replace("\r", "").split("\n")]
    lines = [ln for ln in lines if ln and not ln.startswith("<!--")]
    numbered = sum(1 for ln in lines if _CLAUSE_START.match(ln))
    clauses: list[str] = []
    if numbered >= 2:
        for ln in lines:
            if _HEADING.match(ln) or (not _CLAUSE_START.match(ln) and not clauses):
                continue
            if _CLAUSE_START.match(ln) or not clauses:
                clauses.append(ln)
            else:
                clauses[-1] += "\n" + ln
        return clauses
    for ln in lines:
        if _HEADING.match(ln) or (len(ln) < 30 and not re.search(r"[。；！!]$", ln)):
            continue  # a title or heading
        clauses.extend(s.strip() for s in re.split(r"(?<=[。！!])", ln) if s.strip())
    return clauses


def _sentences(clause: str) -> list[str]:
    return [s for s in re.split(r"(?<=[。；;！!\n])", clause) if s.strip()]


def findings(clause: str) -> list[tuple[Rule, str]]:
    """(rule, the words that trigger it) for each kind of overreach in the clause."""
    out: list[tuple[Rule, str]] = []
    for sentence in _sentences(clause):
        for rule in RULES:
            if any(r is rule for r, _ in out):
                continue
            for m in rule.words.finditer(sentence):
                before = sentence[:m.start()]
                if _negated(before) or _REFERRAL.search(before) or _CONSENT.search(before):
                    continue
                if re.match(r"的[，,]", sentence[m.end():]):
                    continue  # a condition (公开的内容涉及个人信息的，应当…), not a measure
                out.append((rule, m.group(0)))
                break
    return out


def _negated(before: str) -> bool:
    found = list(_NEGATION.finditer(before))
    if not found:
        return False
    gap = before[found[-1].end():]
    return len(gap) <= 40 and not _NEGATION_BREAK.search(gap)


def check_convention(kb: KnowledgeBase, text: str) -> dict:
    """Each clause of the draft, flagged or not, with reasons and the higher-law provisions."""
    index = LawIndex(kb)
    cache: dict[tuple[str, int], dict | None] = {}

    def provision(law_name: str, number: int) -> dict | None:
        if (law_name, number) not in cache:
            law = index.find(law_name)
            art = index.article(index.current(law)["version_id"], number) if law else None
            cache[(law_name, number)] = None if art is None else {
                "law_title": art["law_title"], "article_no": art["article_no"], "text": art["text"]}
        return cache[(law_name, number)]

    clauses = []
    for clause in split_clauses(text):
        found = findings(clause)
        reasons, cites, kinds = [], [], []
        for rule, words in found:
            kinds.append(rule.key)
            reasons.append(f"“{words}”：{rule.reason}")
            for law_name, number in rule.provisions + (CHARTER_LIMIT,):
                p = provision(law_name, number)
                # Only provisions the KB holds are cited: nothing is quoted from memory.
                if p is not None and p not in cites:
                    cites.append(p)
        clauses.append({"text": clause, "flagged": bool(found), "kinds": kinds, "reasons": reasons,
                        "citations": cites})
    return {"clauses": clauses, "flagged": sum(1 for c in clauses if c["flagged"])}
