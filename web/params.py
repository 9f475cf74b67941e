"""Turning request arguments into a search Query, with errors a person can act on."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from lawkb.core.model import LEVELS, STATUSES
from lawkb.core.versions import iso_day
from lawkb.search.contract import MAX_QUERY_CHARS, Filters, Query

from .errors import WebError

MAX_K = 100


MAX_TEXT_CHARS = 200_000  # a draft or an advice letter to check: a long convention is ~30,000 characters
MAX_TASK_CHARS = 500      # one assigned task, as a line of a task list
MAX_NAME_CHARS = 200   # a law's name or a region: longer is not a name (and SQLite's LIKE refuses huge patterns)
# The query arguments a result page's links carry on; anything else (Flask's _anchor, _external …) is dropped.
PAGE_ARGS = ("q", "region", "level", "status", "law", "as_of")


def int_arg(args: MultiDict, name: str, default: int, lo: int, hi: int) -> int:
    raw = args.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if raw.isascii() else int("x")   # int() also reads ２ and other scripts' digits
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
    return Filters(level=levels, region=name_arg(args, "region"), status=statuses, law=name_arg(args, "law"),
                   as_of=as_of_date(args))


def name_arg(args: MultiDict, name: str) -> str | None:
    value = (args.get(name) or "").strip()
    if len(value) > MAX_NAME_CHARS:
        raise WebError(400, f"参数 {name} 太长：最多 {MAX_NAME_CHARS} 字")
    return value or None


def page_args(args: MultiDict) -> dict[str, list[str]]:
    """The arguments a pager link repeats: only the search's own."""
    return {k: args.getlist(k) for k in PAGE_ARGS if args.getlist(k)}


def question(args: MultiDict, *, required: bool) -> str:
    q = (args.get("q") or "").strip()
    if required and not q:
        raise WebError(400, "缺少参数 q（要查询的问题）")
    if len(q) > MAX_QUERY_CHARS:
        raise WebError(400, f"问题太长：最多 {MAX_QUERY_CHARS} 字")
    return q


def api_query(args: MultiDict) -> Query:
    return Query(question(args, required=True), k=int_arg(args, "k", 10, 1, MAX_K),
                 offset=int_arg(args, "offset", 0, 0, 10_000), filters=filters(args))


def page_query(args: MultiDict, page_size: int) -> tuple[Query, int]:
    page = int_arg(args, "page", 1, 1, 1000)
    return Query(question(args, required=False), k=page_size, offset=(page - 1) * page_size,
                 filters=filters(args)), page


def body_text(data: dict, name: str, *, max_chars: int = MAX_TEXT_CHARS, required: bool = True) -> str | None:
    """A JSON body's text field: a string (not a list, number or object) of bounded length."""
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise WebError(400, f"缺少字段 {name}（应为非空字符串）")
        return None
    if not isinstance(value, str):
        raise WebError(400, f"字段 {name} 应为字符串")
    if len(value) > max_chars:
        raise WebError(413, f"字段 {name} 太长：最多 {max_chars} 字")
    if required and not value.strip():
        raise WebError(400, f"字段 {name} 不能为空")
    return value


def body_name(data: dict, name: str) -> str | None:
    """A JSON body's name field (region, law): a short string or nothing."""
    value = body_text(data, name, max_chars=MAX_NAME_CHARS, required=False)
    return value.strip() or None if value is not None else None


def task_list(value: object, max_tasks: int) -> list[str | dict]:
    """Tasks as JSON gives them: a list of strings, or of objects with `task` and optional `department`
    strings; each bounded in length, the list in count."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise WebError(400, "字段 tasks 应为非空的任务列表（字符串或对象）")
    if len(value) > max_tasks:
        raise WebError(413, f"一次最多检查 {max_tasks} 项任务，收到 {len(value)} 项")
    for t in value:
        fields = [t] if isinstance(t, str) else [t.get("task"), t.get("department")] if isinstance(t, dict) else None
        if fields is None or not isinstance(fields[0], str) or not all(f is None or isinstance(f, str) for f in fields):
            raise WebError(400, "每项任务应为字符串，或含 task（字符串）和可选 department（字符串）的对象")
        if any(f is not None and len(f) > MAX_TASK_CHARS for f in fields):
            raise WebError(413, f"单项任务或部门名称最多 {MAX_TASK_CHARS} 字")
    return value
