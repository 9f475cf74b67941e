"""Dates and legislative-history lines: 通过 / 修正 / 修订 / 公布 / 发布 / 施行 / 批准, with their bodies."""

from __future__ import annotations

import re
import unicodedata

from lawkb.core.model import HistoryEvent
from lawkb.core.numerals import cn_to_int

_NUM = r"[0-9０-９〇零○一二三四五六七八九十]+"
DATE_RE = re.compile(
    rf"(?:(民國|民国)\s*)?({_NUM})\s*年\s*({_NUM})\s*月\s*({_NUM})\s*日"
)
ISO_RE = re.compile(r"(?<!\d)(\d{4})[-./_](\d{1,2})[-./_](\d{1,2})(?!\d)|(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)")

ACTIONS = ("修正", "修订", "通过", "公布", "发布", "施行", "批准", "废止", "印发")
_ACTION_RE = re.compile("|".join(ACTIONS))


def _iso(y: int, m: int, d: int) -> str | None:
    if not (1900 <= y <= 2100 and 1 <= m <= 12 and 1 <= d <= 31):
        return None
    return f"{y:04d}-{m:02d}-{d:02d}"


def parse_cn_date(match: re.Match) -> str | None:
    try:
        y, m, d = (cn_to_int(match.group(i)) for i in (2, 3, 4))
    except ValueError:
        return None
    if match.group(1):  # Republic-of-China era (Taiwan): 民國111年 = 2022
        y += 1911
    return _iso(y, m, d)


def find_dates(text: str) -> list[tuple[int, int, str]]:
    """All dates in text as (start, end, iso)."""
    out = []
    for m in DATE_RE.finditer(text):
        iso = parse_cn_date(m)
        if iso:
            out.append((m.start(), m.end(), iso))
    return out


def date_from_filename(name: str) -> str | None:
    """'民事诉讼法(2021-12-24).md' or '监察法_20241225.docx' -> '2021-12-24' / '2024-12-25'."""
    for m in ISO_RE.finditer(name):
        y, mo, d = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(4), m.group(5), m.group(6))
        iso = _iso(int(y), int(mo), int(d))
        if iso:
            return iso
    return None


def looks_like_history(text: str) -> bool:
    """A promulgation/history line: a date and an action word, either in （…） or as a line that starts
    with the date (2020年5月28日 第十三届全国人民代表大会第三次会议通过). A narrative sentence that
    merely mentions an adoption (为正确适用2005年…通过的…，制定本解释。) is body text, not history."""
    t = unicodedata.normalize("NFKC", text).strip()
    if len(t) > 1500 or not DATE_RE.search(t) or not _ACTION_RE.search(t):
        return False
    if re.match(r"^第[^\s]{1,8}[条條章节節编編]", t):
        return False
    if t[:1] in "(（":
        return True
    if "。" in t.rstrip("。") or len(t) > 300:
        return False
    return bool(re.match(rf"^(?:根据|经|于)?\s*(?:民國|民国)?\s*{_NUM}\s*年", t) or re.match(
        r"^(?:修正|修订|公布|发布|施行|生效|通过)日期[:：]", t))


def parse_history(text: str) -> list[HistoryEvent]:
    """Split one history line (which may hold several events) into events.

    Each event runs from a date to the next date; its action is the last action word in that span
    (修订通过 counts as 修订), its body the text between the date and the action.
    """
    t = text.strip().strip("（）()").strip()
    dates = find_dates(t)
    events = []
    for i, (start, end, iso) in enumerate(dates):
        stop = dates[i + 1][0] if i + 1 < len(dates) else len(t)
        span = t[end:stop]
        actions = list(_ACTION_RE.finditer(span))
        if not actions:
            # 'label: date' style (修正日期：民國 111 年 05 月 11 日, 施行日期：…)
            label = _ACTION_RE.search(t[max(0, start - 8):start])
            if label:
                events.append(HistoryEvent(action=label.group(0), date=iso, text=t[max(0, start - 8):end]))
            continue
        # '修订通过' / '修正通过' are amendments, not adoptions.
        kinds = [a.group(0) for a in actions]
        action = next((k for k in kinds if k in ("修正", "修订")), kinds[-1])
        if "施行" in kinds and action == "通过" and span.find("施行") < span.find("通过"):
            action = "施行"
        first = actions[0]
        body = span[: first.start()].strip(" \u3000，,、")
        # The body often includes the decision's name: keep only the organ before 《
        body = body.split("《")[0].strip(" \u3000，,、的")
        if body.startswith("起"):
            body = ""
        events.append(HistoryEvent(action=action, date=iso, body=body or None, text=(t[start:stop]).strip()))
    return events


EFFECTIVE_RE = re.compile(rf"自\s*({_NUM}\s*年\s*{_NUM}\s*月\s*{_NUM}\s*日)\s*起\s*施行")


def effective_from_text(text: str) -> str | None:
    """'本法自2021年1月1日起施行。' -> '2021-01-01'."""
    m = EFFECTIVE_RE.search(text)
    if not m:
        return None
    d = DATE_RE.search(m.group(1))
    return parse_cn_date(d) if d else None


def summarize(events: list[HistoryEvent]) -> dict:
    """adopted / promulgated / effective / amendments / version_date from a list of events."""
    out: dict = {"adopted": None, "promulgated": None, "effective": None, "amendments": []}
    for ev in events:
        if ev.action in ("通过", "批准") and out["adopted"] is None:
            out["adopted"] = ev.date
        elif ev.action in ("修正", "修订") or ev.action == "通过":
            # A later 通过 is a 修正案 or an amending decision adopted after the law itself.
            out["amendments"].append(ev.date)
        elif ev.action in ("公布", "发布", "印发"):
            out["promulgated"] = ev.date
            if out["adopted"] is None and not out["amendments"]:
                out["adopted"] = ev.date
        elif ev.action == "施行":
            out["effective"] = ev.date
    dated = [d for d in [out["adopted"], *out["amendments"]] if d]
    out["version_date"] = max(dated) if dated else out["promulgated"]
    return out
