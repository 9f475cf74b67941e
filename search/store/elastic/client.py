"""Connecting to Elasticsearch from a locator, and turning every connection fault into one clear line.

A locator is ``http(s)://host:port[/prefix]``; the path names the index prefix (default ``lawkb``), so
several knowledge bases can share a cluster. Credentials and the CA certificate come only from settings
(environment or settings file), never from the locator, so they stay out of shell history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lawkb.core import settings
from lawkb.core.errors import KBError

DEFAULT_PREFIX = "lawkb"
SUPPORTED_MAJOR = 8
_PREFIX_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,60}$")


@dataclass(frozen=True)
class Locator:
    url: str      # scheme://host:port, no path
    prefix: str   # index-name prefix

    def __str__(self) -> str:
        return f"{self.url}/{self.prefix}" if self.prefix != DEFAULT_PREFIX else self.url


def parse_locator(locator: str) -> Locator:
    try:
        parts = urlsplit(locator)
        port = parts.port
    except ValueError as exc:
        raise KBError(f"not a valid Elasticsearch URL {locator!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KBError(f"not a valid Elasticsearch URL {locator!r}: give http(s)://host:port[/index-prefix]")
    if parts.username or parts.password:
        raise KBError("put Elasticsearch credentials in LAWKB_ES_USER/LAWKB_ES_PASSWORD or LAWKB_ES_API_KEY, "
                      "not in the URL")
    prefix = parts.path.strip("/") or DEFAULT_PREFIX
    if not _PREFIX_RE.match(prefix):
        raise KBError(f"index prefix {prefix!r} in {locator!r} is not usable: lowercase letters, digits, - and _")
    if port is None:
        port = 443 if parts.scheme == "https" else 9200
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return Locator(url=f"{parts.scheme}://{host}:{port}", prefix=prefix)


def connect(loc: Locator, *, timeout: float = 30.0) -> Any:
    """A checked client: the server answers, accepts the credentials and is Elasticsearch 8.x."""
    try:
        from elasticsearch import Elasticsearch
    except ImportError:
        raise KBError("the Elasticsearch backend needs its client: pip install 'lawkb[es]'") from None
    kwargs: dict[str, Any] = {"request_timeout": timeout, "retry_on_timeout": True, "max_retries": 2}
    api_key = settings.get("es_api_key")
    user, password = settings.get("es_user"), settings.get("es_password")
    if api_key:
        kwargs["api_key"] = api_key
    elif user:
        kwargs["basic_auth"] = (user, password or "")
    ca = settings.get("es_ca_certs")
    if ca:
        kwargs["ca_certs"] = ca
    try:
        client = Elasticsearch(loc.url, **kwargs)
    except ValueError as exc:
        raise KBError(f"not a valid Elasticsearch URL {loc.url!r}: {exc}") from None
    with translate_errors(loc.url):
        info = client.info()
    version = str(info.get("version", {}).get("number", "?"))
    major = version.split(".")[0]
    if major != str(SUPPORTED_MAJOR):
        raise KBError(f"Elasticsearch at {loc.url} is version {version}; lawkb needs {SUPPORTED_MAJOR}.x "
                      f"(the major version of its client)")
    return client


class translate_errors:
    """A context manager that re-raises client and transport errors as one-line KBErrors."""

    def __init__(self, url: str, what: str = "") -> None:
        self.url, self.what = url, what

    def __enter__(self) -> translate_errors:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None or isinstance(exc, KBError):
            return False
        message = describe(exc, self.url)
        if message is None:
            return False
        raise KBError(f"{self.what}: {message}" if self.what else message) from None


def describe(exc: BaseException, url: str) -> str | None:
    """One line for a client/transport error, or None when it is not one."""
    try:
        import elastic_transport as et
        import elasticsearch as es
    except ImportError:
        return None
    if isinstance(exc, es.UnsupportedProductError):
        return f"{url} is not an Elasticsearch server"
    if isinstance(exc, es.AuthenticationException):
        return (f"Elasticsearch at {url} refused the credentials (401): set LAWKB_ES_API_KEY, or "
                "LAWKB_ES_USER and LAWKB_ES_PASSWORD")
    if isinstance(exc, es.AuthorizationException):
        return f"Elasticsearch at {url} denied the request (403): the user or API key lacks the privilege"
    if isinstance(exc, et.TlsError):
        return f"TLS to {url} failed ({_first_line(exc)}): set LAWKB_ES_CA_CERTS to the cluster's CA certificate"
    if isinstance(exc, et.ConnectionTimeout):
        return f"Elasticsearch at {url} did not answer in time"
    if isinstance(exc, et.ConnectionError):
        text = str(exc)
        if "refused" in text.lower():
            return f"cannot connect to Elasticsearch at {url}: connection refused (is it running? `lawkb es-node`)"
        if "name or service not known" in text.lower() or "nodename nor servname" in text.lower() \
                or "failed to resolve" in text.lower():
            return f"cannot connect to Elasticsearch at {url}: unknown host"
        return f"cannot connect to Elasticsearch at {url}: {_first_line(exc)}"
    if isinstance(exc, es.NotFoundError) and getattr(exc, "meta", None) is not None \
            and exc.meta.headers.get("x-elastic-product") != "Elasticsearch":
        return f"no Elasticsearch at {url} (it answered 404)"
    if isinstance(exc, es.ApiError):
        return f"Elasticsearch at {url} answered {exc.meta.status}: {_reason(exc)}"
    return None


def _reason(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        cause = (err.get("root_cause") or [err])[0]
        return f"{cause.get('type')}: {cause.get('reason')}"
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
