"""Chinese numerals both ways, as used in article numbers (第一千零三十二条, 第二百六十四条之一)."""

from __future__ import annotations

_DIGITS = {"〇": 0, "零": 0, "○": 0, "Ｏ": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "三": 3, "叁": 3,
           "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8,
           "九": 9, "玖": 9}
_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000, "万": 10000}
CN_NUM_CHARS = "〇零○一二两三四五六七八九十百千万壹贰叁肆伍陆柒捌玖拾佰仟"

_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


def cn_to_int(text: str) -> int:
    """Parse a Chinese or Arabic numeral (一千零三十二, 十五, 1032, １０３２, 二〇二〇).

    Raises ValueError for anything that is not a numeral.
    """
    s = text.strip().translate(_FULLWIDTH)
    if not s:
        raise ValueError("empty numeral")
    if s.isdigit():
        return int(s)
    if any(ch not in _DIGITS and ch not in _UNITS for ch in s):
        raise ValueError(f"not a numeral: {text!r}")
    if not any(ch in _UNITS for ch in s):
        # Positional form such as 二〇二〇 (years).
        return int("".join(str(_DIGITS[ch]) for ch in s))
    total, section, digit = 0, 0, None
    for ch in s:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
            continue
        unit = _UNITS[ch]
        if unit == 10000:
            section += digit or 0
            total += section * unit
            section = 0
        else:
            # A bare 十 at the start means 一十 (十五 = 15).
            section += (1 if digit is None else digit) * unit
        digit = None
    return total + section + (digit or 0)


def int_to_cn(n: int) -> str:
    """Write n the way statutes do: 1032 -> 一千零三十二, 10 -> 十, 110 -> 一百一十."""
    if n < 0:
        raise ValueError("negative numeral")
    if n == 0:
        return "零"
    digits = "零一二三四五六七八九"
    if n >= 10000:
        high, low = divmod(n, 10000)
        rest = int_to_cn(low) if low else ""
        if low and low < 1000:
            rest = "零" + rest
        return int_to_cn(high) + "万" + rest
    out = []
    units = [(1000, "千"), (100, "百"), (10, "十")]
    zero_pending = False
    for value, name in units:
        d, n = divmod(n, value)
        if d:
            if zero_pending:
                out.append("零")
                zero_pending = False
            out.append(digits[d] + name)
        elif out:
            zero_pending = True
    if n:
        if zero_pending:
            out.append("零")
        out.append(digits[n])
    text = "".join(out)
    if text.startswith("一十"):
        text = text[1:]
    return text


def article_no_text(number: int, sub: int = 0) -> str:
    """(264, 1) -> '第二百六十四条之一', the form statutes print."""
    base = f"第{int_to_cn(number)}条"
    return base + (f"之{int_to_cn(sub)}" if sub else "")
