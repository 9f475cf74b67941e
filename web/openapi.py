"""The OpenAPI 3.1 description of /api/v1, written out by hand so it says exactly what the views do."""

from __future__ import annotations


def _err(desc: str) -> dict:
    return {"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _ok(desc: str, schema: dict | None = None) -> dict:
    return {"description": desc, "content": {"application/json": {"schema": schema or {"type": "object"}}}}


def _q(name: str, desc: str, *, required: bool = False, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": required, "description": desc,
            "schema": schema or {"type": "string"}}


def spec(server: str, levels: list[str], statuses: list[str]) -> dict:
    errors = {"400": _err("Bad request"), "404": _err("Not found"), "429": _err("Rate limited")}
    text_body = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["text"],
        "properties": {"text": {"type": "string"}, "as_of": {"type": "string", "format": "date"}}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "lawkb API", "version": "1",
                 "description": "Search Chinese laws at article level; look up, check citations, tasks and "
                                "community conventions. No cookies and no authentication (except admin)."},
        "servers": [{"url": server}],
        "paths": {
            "/api/v1/search": {"get": {
                "summary": "Search articles for a question in plain words or a citation",
                "parameters": [
                    _q("q", "The question (at most 2000 characters)", required=True),
                    _q("region", "Province or city, e.g. 北京, 杭州"),
                    _q("level", "Only these levels (repeatable)", schema={"type": "string", "enum": levels}),
                    _q("status", "Version status (repeatable; default 现行有效)",
                       schema={"type": "string", "enum": statuses}),
                    _q("law", "Only this law (title, short title or alias)"),
                    _q("as_of", "Versions in force on this date", schema={"type": "string", "format": "date"}),
                    _q("k", "Hits to return (1-100)", schema={"type": "integer", "default": 10}),
                    _q("offset", "Hits to skip", schema={"type": "integer", "default": 0}),
                ],
                "responses": {"200": _ok("Hits with the keys of `lawkb search --json`",
                                         {"$ref": "#/components/schemas/SearchResult"}), **errors}}},
            "/api/v1/articles/{article_id}": {"get": {
                "summary": "One article of one version (the permalink's data)",
                "parameters": [{"name": "article_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _ok("The article, with citation and url"), **errors}}},
            "/api/v1/lookup": {"get": {
                "summary": "Exact lookup: 民法典1032, 民法典第一千零三十二条, 刑法第二百六十四条之一",
                "parameters": [_q("ref", "The reference", required=True),
                               _q("as_of", "Version in force on this date", schema={"type": "string", "format": "date"})],
                "responses": {"200": _ok("The article, with citation and url"), **errors}}},
            "/api/v1/laws": {"get": {
                "summary": "List laws (at most 1000; total says how many matched)",
                "parameters": [_q("q", "Part of the title"), _q("level", "Level"), _q("region", "Region"),
                               _q("status", "Status")],
                "responses": {"200": _ok("{total, laws}"), **errors}}},
            "/api/v1/laws/{law_id}": {"get": {
                "summary": "One law with its versions",
                "parameters": [{"name": "law_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _ok("The law"), **errors}}},
            "/api/v1/citecheck": {"post": {
                "summary": "Check the legal citations in a text", "requestBody": text_body,
                "responses": {"200": _ok("{citations, marked_html}"), "415": _err("Not JSON"),
                              "503": _err("Tool not installed"), **errors}}},
            "/api/v1/taskcheck": {"post": {
                "summary": "Legal basis of community tasks: JSON {tasks, region} or multipart file (CSV/XLSX)",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"type": "object", "required": ["tasks"], "properties": {
                        "tasks": {"type": "array", "items": {"type": ["string", "object"]}},
                        "region": {"type": "string"}}}},
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "file": {"type": "string", "format": "binary"}, "region": {"type": "string"}}}}}},
                "responses": {"200": _ok("{tasks, summary}"), "413": _err("Too many tasks or too large"),
                              "503": _err("Tool not installed"), **errors}}},
            "/api/v1/convention": {"post": {
                "summary": "Check a draft 居民公约 / 管理规约: JSON {text} or multipart file (TXT/MD/DOCX)",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"type": "object", "required": ["text"],
                                                    "properties": {"text": {"type": "string"}}}},
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "file": {"type": "string", "format": "binary"}}}}}},
                "responses": {"200": _ok("{clauses}"), "503": _err("Tool not installed"), **errors}}},
            "/api/v1/admin/reindex": {"post": {
                "summary": "Rebuild the lexical index (only when LAWKB_WEB_ADMIN_TOKEN is set)",
                "security": [{"bearer": []}],
                "responses": {"200": _ok("Timings"), "403": _err("Wrong token"), "404": _err("Admin disabled")}}},
            "/api/v1/admin/ingest": {"post": {
                "summary": "Ingest one uploaded document (only when LAWKB_WEB_ADMIN_TOKEN is set)",
                "security": [{"bearer": []}],
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}}},
                "responses": {"200": _ok("Ingest report"), "403": _err("Wrong token"), "404": _err("Admin disabled")}}},
            "/healthz": {"get": {"summary": "Health: KB counts, model, background embedding progress",
                                 "responses": {"200": _ok("{status: ok, ...}"), "500": _err("Unhealthy")}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                    "status": {"type": "integer"}, "code": {"type": "string"}, "message": {"type": "string"}}}}},
                "SearchResult": {"type": "object", "properties": {
                    "query": {"type": "string"}, "mode": {"type": "string", "enum": ["hybrid", "lexical"]},
                    "total": {"type": "integer"}, "notes": {"type": "array", "items": {"type": "string"}},
                    "took_ms": {"type": "number"},
                    "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}}}},
                "Hit": {"type": "object", "properties": {
                    "article_id": {"type": "string"}, "law_id": {"type": "string"}, "law_title": {"type": "string"},
                    "article_no": {"type": ["string", "null"]}, "text": {"type": "string"},
                    "score": {"type": "number"}, "level": {"type": ["string", "null"]}, "status": {"type": "string"},
                    "region": {"type": ["string", "null"]}, "path": {"type": "array", "items": {"type": "string"}},
                    "version_date": {"type": ["string", "null"]}, "effective": {"type": ["string", "null"]},
                    "snippet_html": {"type": "string", "description": "Escaped text with <mark> around matches"},
                    "why": {"type": "object"}, "source": {"type": ["string", "null"]}}},
            },
        },
    }
