"""The level (效力位阶) of a document, and a clean issuing-body name, from the evidence a source carries.

Evidence is weighed in a fixed order, strongest first:

1. a self-governance title (村规民约, 管理规约, 業主規約 …) -> 自治规约;
2. the issuing body named in the history lines (第十三届全国人民代表大会第三次会议, 国务院令第76号,
   最高人民法院审判委员会…, 公安部令, 浙江省…人民代表大会常务委员会, 杭州市人民政府 …);
3. the LawRefBook folder the file came from (民法商法 -> 法律, 行政法规, 司法解释 …);
4. cues in the title alone (中华人民共和国…法, 最高人民法院关于…, a leading place name …).

A title such as …条例 with nothing else to go on gives None: it could be a 行政法规, a 地方性法规 or a
部门规章, and guessing would put it in the wrong place.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from lawkb.core.regions import region_from_body, region_from_title

# --- 1. self-governance --------------------------------------------------------------------------------

# Simplified and traditional forms (the traditional ones occur in Hong Kong / Taiwan-typed sources).
_SELF_GOVERNANCE = (
    "居民公约", "居民公約", "村规民约", "村規民約", "村民公约", "村民公約",
    "村民自治章程", "社区居民自治章程", "社區居民自治章程", "自治章程",
    "管理规约", "管理規約", "业主规约", "業主規約", "业主公约", "業主公約", "社区规约", "社區規約",
    "业主大会议事规则", "業主大會議事規則",
)

# --- 2. issuing bodies -----------------------------------------------------------------------------------

# What a local place name in a body mention ends with; the text before it is the place.
_PLACE_END = r"(?:特别行政区|自治区|自治州|自治县|自治旗|地区|林区|省|市|州|盟|县|旗|区)"
# Characters a name can be made of: not digits, not punctuation, and none of the date and session words
# that sit between names in a history line (2019年8月28日…第十次会议…).
_NAME_CH = r"[^\W\d_年月日号令次届第经据由在将自，、；。]"
_SESSION = r"(?:第[一二三四五六七八九十百零〇\d]+届)?"

# (kind, pattern). Each mention found in a body string is a candidate; the leftmost one wins, and the
# longest of those starting at the same place (国务院办公厅 over 国务院).
_BODY_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("npcsc", re.compile(r"全国人民代表大会常务委员会|全国人民代表大会常委会|全国人大常委会")),
    ("npc", re.compile(r"全国人民代表大会|全国人大")),
    ("cpgc", re.compile(r"中央人民政府委员会")),
    ("nsc", re.compile(r"国家监察委员会")),
    ("spc", re.compile(r"最高人民法院")),
    ("spp", re.compile(r"最高人民检察院")),
    ("sc_office", re.compile(r"国务院办公厅")),
    # Bodies named 国务院…: 国务院国有资产监督管理委员会, 国务院关税税则委员会, 国务院新闻办公室.
    ("sc_dept", re.compile(
        r"国务院(?!办公厅|关于|令|第|常务|全体|批准|发布|公布|决定)"
        + _NAME_CH + r"{1,14}?(?:委员会|办公室|领导小组|总局|局|署)")),
    ("sc", re.compile(r"国务院")),
    ("local_congress", re.compile(_NAME_CH + r"{0,20}?" + _PLACE_END + _SESSION + r"(?:人民代表大会|人大)")),
    ("local_gov_office", re.compile(_NAME_CH + r"{0,20}?" + _PLACE_END + r"人民政府办公(?:厅|室)")),
    ("local_gov", re.compile(_NAME_CH + r"{0,20}?" + _PLACE_END + r"(?:人民政府|政府)")),
    # Central departments known by a name without one of the usual endings, or by their official short form.
    ("ministry", re.compile(
        r"中国人民银行|国家发展改革委|国家卫生健康委|国家卫生计生委|国家民委|国家网信办|中国证监会|证监会"
        r"|中国银保监会|银保监会|中国银监会|银监会|中国保监会|保监会")),
    # Any other department: …部, …总局, …局, …署, …委员会, …办公室, followed by what follows a name in a
    # history line (令, 第…次部务会议, 发布, a separator or the end).
    ("ministry", re.compile(
        r"(?:中华人民共和国)?" + _NAME_CH + r"{1,16}?(?:部|总局|署|局|委员会|办公室)"
        r"(?=令|第|部务|委务|局务|署务|主任|会议|常务|发布|公布|通过|联合|关于|和|与|及|、|，|,|\s|\)|）|\d|$)")),
]

# A 'ministry' match that is really something else.
_NOT_A_MINISTRY = (
    "人民代表大会", "人大", "人民政府", "法院", "检察院", "监察委员会", "审判委员会", "检察委员会", "国务院",
    "军事委员会", "军委", "中共", "共产党", "中央委员会", "政治局", "纪律检查", "居民委员会", "村民委员会",
    "业主委员会",
)
_LOCAL_LOOKING = re.compile(r"省|自治区|自治州|自治县|^" + _NAME_CH + r"{1,8}?市(?!场)")


@dataclass(frozen=True)
class _Body:
    kind: str
    text: str   # the mention as matched
    start: int


def _clean(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


def _candidates(text: str) -> list[_Body]:
    found = []
    for kind, pattern in _BODY_PATTERNS:
        for match in pattern.finditer(text):
            mention = match.group()
            if kind == "ministry":
                if any(word in mention for word in _NOT_A_MINISTRY):
                    continue
                if region_from_body(mention) is not None or _LOCAL_LOOKING.search(mention):
                    kind = "local_dept"
            found.append(_Body(kind, mention, match.start()))
    return found


def _first_body(text: str) -> _Body | None:
    found = _candidates(_clean(text))
    if not found:
        return None
    return min(found, key=lambda body: (body.start, -len(body.text)))


def _first_body_of(bodies: list[str]) -> _Body | None:
    for text in bodies or []:
        body = _first_body(text)
        if body is not None:
            return body
    return None


# --- names -----------------------------------------------------------------------------------------------

_FIXED_NAMES = {
    "npcsc": "全国人民代表大会常务委员会",
    "npc": "全国人民代表大会",
    "cpgc": "中央人民政府委员会",
    "nsc": "国家监察委员会",
    "spc": "最高人民法院",
    "spp": "最高人民检察院",
    "sc_office": "国务院办公厅",
    "sc": "国务院",
}
# Words that can precede a place inside the matched mention (…通过，根据杭州市…).
_LEAD_WORDS = re.compile(r"^(?:根据|经过?|由|于|在|通过|并|及|和|批准|公布|发布|施行|修正|修订|会议)+")


def _place_part(mention: str, end_word: str) -> str:
    """The place in a local mention: 2019杭州市第十三届人民代表大会 -> 杭州市."""
    head = mention[: mention.index(end_word)] if end_word in mention else mention
    head = re.sub(_SESSION + "$", "", head)
    head = _LEAD_WORDS.sub("", head)
    return head


def _clean_name(body: _Body, context: str) -> str:
    if body.kind in _FIXED_NAMES:
        return _FIXED_NAMES[body.kind]
    if body.kind == "local_congress":
        end_word = "人民代表大会" if "人民代表大会" in body.text else "人大"
        name = _place_part(body.text, end_word) + "人民代表大会"
        rest = context[body.start + len(body.text):]
        if re.match(r"常务委员会|常委会", rest):
            name += "常务委员会"
        return name
    if body.kind == "local_gov_office":
        office = "办公厅" if body.text.endswith("办公厅") else "办公室"
        return _place_part(body.text, "人民政府") + "人民政府" + office
    if body.kind == "local_gov":
        end_word = "人民政府" if "人民政府" in body.text else "政府"
        return _place_part(body.text, end_word) + "人民政府"
    name = _LEAD_WORDS.sub("", body.text)
    if body.kind == "ministry" and name.startswith("中华人民共和国") and len(name) > len("中华人民共和国"):
        name = name[len("中华人民共和国"):]
    return name


def infer_issuing_body(bodies: list[str]) -> str | None:
    """A clean name for the body first mentioned in the history lines: '全国人民代表大会常务委员会',
    '国务院', '最高人民法院', '公安部', '浙江省人民代表大会常务委员会', '杭州市人民政府'; None if none."""
    for text in bodies or []:
        context = _clean(text)
        body = _first_body(context)
        if body is not None:
            return _clean_name(body, context)
    return None


# --- levels ----------------------------------------------------------------------------------------------

# A title that names a notice, an opinion or a reply rather than rules: 国务院关于…的通知.
_NORMATIVE_TITLE = re.compile(r"关于.+的(?:通知|意见|指导意见|实施意见|批复|复函|函|通告|公告|答复)$")
_AMENDING_DECISION = re.compile(r"关于.*(?:修改|废止|修订).*的决定$")
_CONSTITUTION_TITLE = re.compile(r"^(?:中华人民共和国)?宪法(?:修正案)?(?:[(（].*[)）])?$")
# A trailing version note: （2018年修正）, (2020-12-26), 【2019年修订】.
_VERSION_NOTE = re.compile(r"[(（【\[][^()（）【】\[\]]*\d{4}[^()（）【】\[\]]*[)）】\]]$")

_FOLDER_LEVELS = {
    "宪法相关法": "法律", "民法典": "法律", "民法商法": "法律", "行政法": "法律", "经济法": "法律",
    "社会法": "法律", "刑法": "法律", "诉讼与非诉讼程序法": "法律", "法律": "法律",
    "行政法规": "行政法规", "监察法规": "监察法规", "司法解释": "司法解释", "部门规章": "部门规章",
    "地方性法规": "地方性法规", "地方政府规章": "地方政府规章", "规范性文件": "规范性文件",
    "自治规约": "自治规约", "案例": "案例",
}


def _clean_title(title: str) -> str:
    text = _clean(title).strip("《》〈〉“”\"'")
    while True:
        stripped = _VERSION_NOTE.sub("", text)
        if stripped == text:
            return text
        text = stripped


def _is_self_governance(title: str) -> bool:
    return any(word in title for word in _SELF_GOVERNANCE)


def is_self_governance(title: str) -> bool:
    """True for the title of a community self-governance text (村规民约, 居民公约, 管理规约, 业主大会议事规则 …)."""
    return _is_self_governance(_clean_title(title))


def _is_normative_title(title: str) -> bool:
    return bool(_NORMATIVE_TITLE.search(title))


def _level_from_body(body: _Body, title: str) -> str | None:
    kind = body.kind
    if kind == "npc":
        return "宪法" if "宪法" in title else "法律"
    if kind in ("npcsc", "cpgc"):
        return "法律"
    if kind == "nsc":
        return "监察法规"
    if kind in ("spc", "spp"):
        return "司法解释"
    if kind in ("sc_office", "local_gov_office", "local_dept"):
        return "规范性文件"
    if kind == "sc":
        if title.startswith("国务院办公厅") or _is_normative_title(title):
            return "规范性文件"
        if title.startswith("国务院关于") and title.endswith("决定") and not _AMENDING_DECISION.search(title):
            return "规范性文件"
        return "行政法规"
    if kind in ("sc_dept", "ministry"):
        return "规范性文件" if _is_normative_title(title) else "部门规章"
    if kind == "local_congress":
        return "地方性法规"
    if kind == "local_gov":
        return "规范性文件" if _is_normative_title(title) else "地方政府规章"
    return None


def _level_from_folder(folder_hint: str | None, title: str) -> str | None:
    if not folder_hint:
        return None
    # A folder name or a path such as Laws/民法商法 or 地方性法规/浙江: the deepest known component counts.
    for part in reversed([p for p in re.split(r"[/\\]", folder_hint.strip()) if p]):
        part = _clean(part)
        if part == "宪法":
            return "宪法" if _CONSTITUTION_TITLE.match(title) else "法律"
        if part in _FOLDER_LEVELS:
            return _FOLDER_LEVELS[part]
    return None


def _level_from_title(title: str) -> str | None:
    if _CONSTITUTION_TITLE.match(title):
        return "宪法"
    if re.match(r"(?:最高人民法院|最高人民检察院)", title):
        return "司法解释"
    if re.match(r"全国人民代表大会(?:常务委员会)?关于", title):
        return "法律"
    if title.startswith("国务院办公厅"):
        return "规范性文件"
    if title.startswith("国务院关于"):
        if _AMENDING_DECISION.search(title) or re.search(r"的(?:规定|办法|条例)$", title):
            return "行政法规"
        return "规范性文件"
    if re.match(r"(?:最高人民法院)?指导性?案例第?[一二三四五六七八九十百零\d]+号", title):
        return "案例"
    if title.startswith("中华人民共和国") and re.search(r"法$|法典$", title):
        return "法律"
    region = region_from_title(title)
    if region is not None:
        if re.search(r"人民政府办公(?:厅|室)", title):
            return "规范性文件"
        if re.search(r"人民政府关于", title) and _is_normative_title(title):
            return "规范性文件"
        return "地方性法规"
    # Autonomous counties and banners legislate too (自治条例, 单行条例): 峨边彝族自治县自治条例.
    if re.search(r"自治(?:县|旗)", title) and re.search(r"条例$", title):
        return "地方性法规"
    return None


def infer_level(title: str, bodies: list[str], folder_hint: str | None = None) -> str | None:
    """The level of a document: 宪法, 法律, 行政法规, 监察法规, 司法解释, 部门规章, 地方性法规, 地方政府规章,
    规范性文件, 自治规约 or 案例; None when the evidence does not say.

    `bodies` are the body mentions or whole history lines, in document order; the first one naming a body
    decides. `folder_hint` is a LawRefBook folder name (民法商法, 行政法规, 其他 …) or a path ending in one.
    """
    clean_title = _clean_title(title)
    if _is_self_governance(clean_title):
        return "自治规约"
    body = _first_body_of(bodies)
    if body is not None:
        level = _level_from_body(body, clean_title)
        if level is not None:
            return level
    level = _level_from_folder(folder_hint, clean_title)
    if level is not None:
        return level
    return _level_from_title(clean_title)
