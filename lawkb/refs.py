"""Article references typed by people: '民法典 第1032条', '民法典第一千零三十二条', '民法典 1032',
'刑法第二百六十四条之一', '《中华人民共和国民法典》第1032条'."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .numerals import CN_NUM_CHARS, cn_to_int

_N = rf"[{CN_NUM_CHARS}0-9０-９]+"
_REF = re.compile(
    rf"^\s*《?(?P<law>.*?)》?[\s\u3000]*(?:第[\s\u3000]*(?P<n1>{_N})[\s\u3000]*[条條]?|(?P<n2>[0-9０-９]+)[\s\u3000]*[条條]?)"
    rf"(?:[\s\u3000]*之[\s\u3000]*(?P<sub>{_N}))?[\s\u3000]*$"
)


@dataclass(frozen=True)
class ArticleRef:
    law: str      # as typed, may be empty
    number: int
    sub: int = 0


def parse_ref(text: str) -> ArticleRef | None:
    m = _REF.match(text.strip())
    if not m:
        return None
    try:
        number = cn_to_int(m.group("n1") or m.group("n2"))
        sub = cn_to_int(m.group("sub")) if m.group("sub") else 0
    except ValueError:
        return None
    return ArticleRef(law=m.group("law").strip(" 《》\u3000"), number=number, sub=sub)
