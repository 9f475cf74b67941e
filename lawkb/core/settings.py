"""Every setting lawkb reads, in one table.

A value comes from, in order: the command line (where a command offers it), the environment variable,
the settings file (TOML, `LAWKB_SETTINGS` or ./lawkb.toml), the default. `lawkb settings` prints the table.
"""

from __future__ import annotations

import datetime as _dt
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: Any
    help: str
    kind: type = str
    secret: bool = False  # printed masked by `lawkb settings`


SETTINGS: list[Setting] = [
    Setting("kb", "LAWKB_KB", "kb", "Knowledge-base locator: a directory (embedded store) or an http(s):// URL."),
    Setting("shared", "LAWKB_SHARED", "../shared",
            "Folder holding corpus/lawrefbook, corpus/samples, eval/ and models/ (tests and benchmarks)."),
    Setting("model", "LAWKB_MODEL", "",
            "Embedding model: a local directory (ONNX + tokenizer.json, or a sentence-transformers model)."),
    Setting("query_adapter", "LAWKB_QUERY_ADAPTER", "auto",
            "Learned map on query vectors (search/encode/adapter.py): auto (the one shipped for the model in use), "
            "none, or a path to an adapter file."),
    Setting("encoder_tuning", "LAWKB_ENCODER_TUNING", "auto",
            "Fine-tuning applied to the embedding model (search/encode/tuning.py): auto (the one shipped for the "
            "model files in use; built once into the cache), none, or a path to a tuning file. Changing it "
            "changes the model id, so `lawkb embed` re-embeds."),
    Setting("search_feedback", "LAWKB_SEARCH_FEEDBACK", "on",
            "Pseudo-relevance feedback (search/rank/feedback.py): on (the results below the first page are "
            "re-ranked with words borrowed from the first ones) or off, which saves about 4 ms of CPU a "
            "search."),
    Setting("cache", "LAWKB_CACHE", "~/.cache/lawkb",
            "Where downloaded and built models (models/<name>/) and the unpacked LawRefBook snapshot (corpus/) are kept."),
    Setting("offline", "LAWKB_OFFLINE", "",
            "Set to 1 to forbid any model download (search then uses what is local, or runs lexically)."),
    Setting("max_file_mb", "LAWKB_MAX_FILE_MB", 50,
            "Files larger than this many MiB are refused at ingest (reported, not read).", int),
    Setting("ingest_parse_seconds", "LAWKB_INGEST_PARSE_SECONDS", 120,
            "Longest a file may take to parse at ingest; a parse that takes longer is stopped and the file "
            "reported, the batch goes on (0: no limit).", float),
    Setting("ingest_parse_mb", "LAWKB_INGEST_PARSE_MB", 2048,
            "Memory (MiB) one file's parse may take at ingest, above what an idle parse worker holds; a parse "
            "that needs more is stopped and the file reported, the batch goes on (0: no limit).", int),
    Setting("today", "LAWKB_TODAY", "",
            "The date statuses are computed for (YYYY-MM-DD); empty means the real date."),
    Setting("web_host", "LAWKB_WEB_HOST", "127.0.0.1", "Address `lawkb serve` listens on (0.0.0.0 for all)."),
    Setting("web_port", "LAWKB_WEB_PORT", 8000, "Port `lawkb serve` listens on.", int),
    Setting("web_threads", "LAWKB_WEB_THREADS", 8, "Worker threads of the site's WSGI server.", int),
    Setting("web_connection_limit", "LAWKB_WEB_CONNECTION_LIMIT", 1000,
            "Open connections `lawkb serve` holds at most; when full, the one that has been sending its request "
            "longest is closed to make room. Capped by the process's open-file limit.", int),
    Setting("web_header_timeout", "LAWKB_WEB_HEADER_TIMEOUT", 10,
            "Seconds a client has to send a request (from connecting, or from its first byte on a kept-alive "
            "connection), plus one second per web_min_upload_rate bytes sent; then it is closed (408).", int),
    Setting("web_min_upload_rate", "LAWKB_WEB_MIN_UPLOAD_RATE", 1024,
            "Bytes a second a request (headers and body) must average beyond web_header_timeout.", int),
    Setting("web_channel_timeout", "LAWKB_WEB_CHANNEL_TIMEOUT", 30,
            "Seconds an idle kept-alive connection (no request under way) stays open.", int),
    Setting("web_heavy_slots", "LAWKB_WEB_HEAVY_SLOTS", 0,
            "Searches, exports and tool requests answered at once; the rest wait in line. 0: web_threads - 2.",
            int),
    Setting("web_queue_timeout", "LAWKB_WEB_QUEUE_TIMEOUT", 10,
            "Seconds a request may wait in line for a thread before it is answered 503 with Retry-After.", int),
    Setting("web_trusted_proxy", "LAWKB_WEB_TRUSTED_PROXY", "",
            "Address of the reverse proxy whose X-Forwarded-For / X-Forwarded-Proto are believed (e.g. "
            "127.0.0.1); empty: those headers are ignored and the peer's address is the client's."),
    Setting("web_rate_limit", "LAWKB_WEB_RATE_LIMIT", 120,
            "Requests per minute one client address may make to the site (0: no limit).", int),
    Setting("web_max_upload_mb", "LAWKB_WEB_MAX_UPLOAD_MB", 5,
            "Largest request body (form or upload) the site accepts, in MiB.", int),
    Setting("web_admin_token", "LAWKB_WEB_ADMIN_TOKEN", "",
            "Enables the site's admin API (ingest, rebuild) behind this bearer token; empty: disabled."),
    Setting("web_query_log", "LAWKB_WEB_QUERY_LOG", "",
            "File the site appends search queries to (JSON lines, never addresses); empty: no logging."),
    Setting("web_trusted_hosts", "LAWKB_WEB_TRUSTED_HOSTS", "",
            "Host names the site answers to, comma-separated (law.example.org,localhost); others get a 400. "
            "Empty: any Host is answered, but none is ever written into a link or redirect."),
    Setting("web_public_url", "LAWKB_WEB_PUBLIC_URL", "",
            "The site's address as people reach it (https://law.example.org); full links in the API and "
            "exports use it. Empty: links are written as paths (/articles/…), or with a trusted host."),
    Setting("web_secret", "LAWKB_WEB_SECRET", "",
            "Key for the site's form tokens; empty: a random key per process (forms expire on restart)."),
    Setting("es_api_key", "LAWKB_ES_API_KEY", "",
            "Elasticsearch API key (base64 id:key), used instead of user and password when set.", secret=True),
    Setting("es_user", "LAWKB_ES_USER", "", "Elasticsearch user name (basic authentication)."),
    Setting("es_password", "LAWKB_ES_PASSWORD", "", "Elasticsearch password for es_user.", secret=True),
    Setting("es_ca_certs", "LAWKB_ES_CA_CERTS", "",
            "CA certificate (PEM file) that signed the Elasticsearch node's TLS certificate."),
    Setting("es_replicas", "LAWKB_ES_REPLICAS", 0,
            "Replicas of each new Elasticsearch index (0 on one node; 1 or more on a cluster).", int),
    Setting("es_vectors", "LAWKB_ES_VECTORS", "hnsw",
            "Vector index type of new Elasticsearch indices: hnsw (float32) or int8_hnsw (quantised, 4x smaller)."),
]
_BY_NAME = {s.name: s for s in SETTINGS}


def _file_values() -> dict:
    path = Path(os.environ.get("LAWKB_SETTINGS", "lawkb.toml"))
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return data.get("lawkb", data)


def get(name: str, override: Any = None) -> Any:
    """The value of a setting, converted to its kind."""
    setting = _BY_NAME[name]
    if override not in (None, ""):
        value = override
    elif os.environ.get(setting.env, "") != "":
        value = os.environ[setting.env]
    else:
        value = _file_values().get(name, setting.default)
    return setting.kind(value) if value is not None else None


def cache_dir() -> Path:
    """lawkb's cache folder (setting `cache`): models, their digests, the unpacked corpus snapshot."""
    return Path(str(get("cache") or "~/.cache/lawkb")).expanduser()


def today() -> str:
    return get("today") or _dt.date.today().isoformat()


def shared_dir() -> Path:
    return Path(get("shared")).expanduser().resolve()
