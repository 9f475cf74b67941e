"""Imported once by the parse forkserver (budget.PRELOAD): parses a small built-in text, so that what
the readers build on first use (region tables, compiled patterns) is built there once and shared by
every worker forked from it, instead of once per worker in every batch."""

from __future__ import annotations

from pathlib import Path

from .blocks import IngestError
from .pipeline import read_document

_SAMPLE = """# 某某市物业管理条例

2020年1月1日某某市人民代表大会常务委员会通过

<!-- INFO END -->

## 第一章 总则

第一条　为了规范物业管理活动，根据《中华人民共和国民法典》第二百七十一条和有关法律、行政法规，制定本条例。

第二条　本条例自2020年5月1日起施行。
"""

try:
    read_document(_SAMPLE.encode("utf-8"), Path("/nonexistent/lawkb-warm/某某市物业管理条例.md"))
except IngestError:
    pass
