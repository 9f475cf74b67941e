"""Metadata a parsed document does not state outright: level, issuing body, region, aliases, repeal clauses,
folder hints from known corpus layouts, and a user's sidecar overrides."""

from __future__ import annotations

import json
import re
from pathlib import Path

from lawkb.core.model import KIND_ARTICLE, LEVELS, STATUSES, ParsedDocument, short_title
from lawkb.core.regions import normalize_region, region_from_body, region_from_title

from .blocks import IngestError
from .classify import infer_issuing_body, infer_level

# LawRefBook's top-level folders and what they say about a file.
_LAWREFBOOK_LEVEL = {
    "宪法": "宪法", "宪法相关法": "法律", "民法典": "法律", "民法商法": "法律", "行政法": "法律", "经济法": "法律",
    "社会法": "法律", "刑法": "法律", "诉讼与非诉讼程序法": "法律", "行政法规": "行政法规", "司法解释": "司法解释",
    "部门规章": "部门规章", "案例": "案例", "地方性法规": "地方性法规",
}


def path_hints(path: Path) -> dict:
    """Hints from where a file sits, for corpora with a known layout (LawRefBook)."""
    parts = path.parts
    hints: dict = {}
    for i, part in enumerate(parts):
        if part == "DLC" and i + 1 < len(parts):
            hints["folder_level"] = "地方性法规"
            region = normalize_region(parts[i + 1].replace("地方法规", ""))
            if region:
                hints["region_province"] = region.province
        elif part in _LAWREFBOOK_LEVEL and "folder_level" not in hints:
            hints["folder_level"] = _LAWREFBOOK_LEVEL[part]
            if part not in ("地方性法规", "案例", "行政法规", "司法解释", "部门规章"):
                hints["category"] = part
        if part == "部门规章" and i + 2 < len(parts):
            hints["issuing_body"] = parts[i + 1]
        if part == "案例" and i + 2 < len(parts):
            hints["category"] = parts[i + 1]
    return hints


_REPEAL_RE = re.compile(r"(?:同时|即行|予以|起|一并)废止|(?:同时|即行)失效")
_TITLE_RE = re.compile(r"《((?:[^《》]|〈[^〉]*〉)+)》")


def find_repeals(doc: ParsedDocument) -> list[dict]:
    """Repeal clauses in the document's own articles: '……《X》、《Y》同时废止。'"""
    out = []
    for a in doc.articles:
        if a.kind != KIND_ARTICLE or "废止" not in a.text and "失效" not in a.text:
            continue
        for sentence in re.split(r"(?<=[。；])", a.text):
            m = _REPEAL_RE.search(sentence)
            if not m:
                continue
            before = sentence[: m.start()]
            titles = [t for t in _TITLE_RE.findall(before) if not t.startswith("关于修改")]
            if titles:
                out.append({"titles": titles, "article": a.key, "text": sentence.strip()})
    return out


_NATIONAL_LEVELS = {"宪法", "法律", "行政法规", "监察法规", "司法解释", "部门规章"}


def enrich(doc: ParsedDocument, hints: dict) -> None:
    """Fill level, issuing body and region from content, then from folder hints."""
    bodies = [ev.body for ev in doc.history if ev.body]
    if doc.doc_number:
        bodies.append(doc.doc_number)
    front = doc.extra.get("front_matter", [])
    bodies.extend(front[:3])
    if doc.issuing_body:
        bodies.insert(0, doc.issuing_body)
    doc.issuing_body = doc.issuing_body or infer_issuing_body(bodies) or hints.get("issuing_body")
    doc.level = doc.level or infer_level(doc.title, bodies, hints.get("folder_level"))
    title_region = region_from_title(doc.title)
    if title_region and doc.level in _NATIONAL_LEVELS:
        # History lines copied from the national law of the same name (seen in LawRefBook) must not
        # turn a provincial regulation into a national one: the title's place name wins.
        doc.warnings.append(f"history names a national body but the title is local ({title_region.province}); "
                            f"level taken as {hints.get('folder_level') or '地方性法规'}")
        doc.level = hints.get("folder_level") or "地方性法规"
        doc.issuing_body = hints.get("issuing_body")
    region = title_region or (region_from_body(doc.issuing_body) if doc.issuing_body else None)
    if region is None:
        for body in bodies:
            region = region_from_body(body)
            if region:
                break
    if region:
        doc.region_province = doc.region_province or region.province
        doc.region_city = doc.region_city or region.city
    doc.region_province = doc.region_province or hints.get("region_province")
    doc.category = doc.category or hints.get("category")
    st = short_title(doc.title)
    if st != doc.title and st not in doc.aliases:
        doc.aliases.append(st)
    doc.extra["repeals"] = find_repeals(doc)


SIDECAR_FIELDS = {
    "title", "aliases", "level", "issuing_body", "region", "region_province", "region_city", "category",
    "adopted", "promulgated", "effective", "version_date", "status", "doc_number",
}
_DATE_FIELDS = {"adopted", "promulgated", "effective", "version_date"}


def sidecar_path(path: Path) -> Path | None:
    for make in (lambda: path.with_name(path.name + ".meta.json"), lambda: path.with_suffix(".meta.json")):
        try:
            candidate = make()
            if candidate.is_file():
                return candidate
        except (OSError, ValueError):   # a name near the 255-byte limit has no room for the suffix
            continue
    return None


def apply_sidecar(doc: ParsedDocument, path: Path) -> None:
    """Override fields from `<file>.meta.json` (or `<stem>.meta.json`). Unknown keys are an error, so a
    typo never silently does nothing."""
    side = sidecar_path(path)
    if side is None:
        return
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IngestError(f"sidecar {side.name} is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(data, dict):
        raise IngestError(f"sidecar {side.name} must hold a JSON object")
    unknown = set(data) - SIDECAR_FIELDS
    if unknown:
        raise IngestError(f"sidecar {side.name}: unknown field(s) {sorted(unknown)}; allowed: {sorted(SIDECAR_FIELDS)}")
    for key, value in data.items():
        if key in _DATE_FIELDS and value is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)):
            raise IngestError(f"sidecar {side.name}: {key} must be YYYY-MM-DD, got {value!r}")
        if key == "level" and value not in LEVELS:
            raise IngestError(f"sidecar {side.name}: level must be one of {LEVELS}")
        if key == "status" and value not in STATUSES:
            raise IngestError(f"sidecar {side.name}: status must be one of {STATUSES}")
        if key == "region":
            region = normalize_region(str(value))
            if region is None:
                raise IngestError(f"sidecar {side.name}: unknown region {value!r}")
            doc.region_province, doc.region_city = region.province, region.city
            continue
        if key == "aliases":
            doc.aliases = [str(a) for a in value]
            continue
        setattr(doc, key, value)
    doc.extra["sidecar"] = side.name
