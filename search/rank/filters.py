"""A query's filters checked once, with one wording for every store, and the law a `law` filter names
looked up: what the stores receive is a ResolvedFilters they only have to apply."""

from __future__ import annotations

from lawkb.core.errors import QueryError
from lawkb.core.model import LEVELS, LOCAL_LEVELS, STATUSES
from lawkb.core.regions import normalize_region
from lawkb.core.versions import iso_day
from lawkb.search.contract import Filters
from lawkb.search.store.protocol import KnowledgeBase, ResolvedFilters

from .cited import law_ids


def resolve_filters(kb: KnowledgeBase, f: Filters) -> ResolvedFilters:
    unknown = [x for x in f.level if x not in LEVELS]
    if unknown:
        raise QueryError(f"未知的效力级别“{unknown[0]}”，可选：{'、'.join(LEVELS)}")
    bad_status = [x for x in f.status if x not in STATUSES]
    if bad_status:
        raise QueryError(f"未知的时效状态“{bad_status[0]}”，可选：{'、'.join(STATUSES)}")
    if f.as_of:
        try:
            iso_day(f.as_of)
        except ValueError as exc:
            raise QueryError(f"日期 as_of 有误：{exc}") from None
    region = None
    if f.region:
        region = normalize_region(f.region)
        if region is None:
            raise QueryError(f"无法识别的地区“{f.region}”：请填写省或市，例如 北京、杭州")
    return ResolvedFilters(
        levels=tuple(f.level), region=region, local_levels=bool(set(f.level) & LOCAL_LEVELS),
        statuses=tuple(f.status), law_ids=frozenset(law_ids(kb, f.law)) if f.law else None, as_of=f.as_of)
