"""Turning request arguments into a search Query, with errors a person can act on."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from lawkb.core.model import LEVELS, STATUSES
from lawkb.core.versions import iso_day
from lawkb.search.contract import MAX_QUERY_CHARS, Filters, Query

from .errors import WebError

MAX_K = 100


def _int(args: MultiDict, name: str, default: int, lo: int, hi: int) -> int:
    raw = args.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise WebError(400, f"参数 {name} 应为整数，收到 {raw[:20]!r}") from None
    if not lo <= value <= hi:
        raise WebError(400, f"参数 {name} 应在 {lo} 到 {hi} 之间")
    return value


def as_of_date(args: MultiDict) -> str | None:
    raw = (args.get("as_of") or "").strip()
    if not raw:
        return None
    try:
        return iso_day(raw)
    except ValueError:
        raise WebError(400, f"日期格式应为 YYYY-MM-DD，收到 {raw[:20]!r}") from None


def filters(args: MultiDict) -> Filters:
    levels = tuple(x for x in args.getlist("level") if x)
    statuses = tuple(x for x in args.getlist("status") if x)
    for x in levels:
        if x not in LEVELS:
            raise WebError(400, f"未知的效力级别 {x[:20]!r}；可选：{'、'.join(LEVELS)}")
    for x in statuses:
        if x not in STATUSES:
            raise WebError(400, f"未知的时效性 {x[:20]!r}；可选：{'、'.join(STATUSES)}")
    return Filters(level=levels, region=(args.get("region") or "").strip() or None, status=statuses,
                   law=(args.get("law") or "").strip() or None, as_of=as_of_date(args))


def question(args: MultiDict, *, required: bool) -> str:
    q = (args.get("q") or "").strip()
    if required and not q:
        raise WebError(400, "缺少参数 q（要查询的问题）")
    if len(q) > MAX_QUERY_CHARS:
        raise WebError(400, f"问题太长：最多 {MAX_QUERY_CHARS} 字")
    return q


def api_query(args: MultiDict) -> Query:
    return Query(question(args, required=True), k=_int(args, "k", 10, 1, MAX_K),
                 offset=_int(args, "offset", 0, 0, 10_000), filters=filters(args))


def page_query(args: MultiDict, page_size: int) -> tuple[Query, int]:
    page = _int(args, "page", 1, 1, 1000)
    return Query(question(args, required=False), k=page_size, offset=(page - 1) * page_size,
                 filters=filters(args)), page
