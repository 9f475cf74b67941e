"""Every error the site reports carries an HTTP status; one handler renders it, as JSON under /api and
/healthz, as a page elsewhere, with the same message."""

from __future__ import annotations

import re

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, SecurityError

from lawkb.core.errors import KBError, QueryError

# Chinese wording for the statuses people can meet; the API keeps a stable English code beside it.
_TITLES = {
    400: ("bad_request", "请求有误"),
    403: ("forbidden", "没有权限"),
    404: ("not_found", "没有找到"),
    405: ("method_not_allowed", "不支持这种请求方式"),
    409: ("conflict", "与现有内容冲突"),
    413: ("too_large", "提交的内容太大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    422: ("unprocessable", "无法处理提交的内容"),
    429: ("rate_limited", "请求太频繁"),
    500: ("internal_error", "服务器内部错误"),
    503: ("unavailable", "服务暂时不可用"),
}

_HTTP_MESSAGES = {
    400: "请求有误，请检查后重试。",
    404: "没有这个页面或接口，请检查网址。",
    405: "这个地址不支持这种请求方式。",
    403: "没有权限进行这个操作。",
    409: "与现有内容冲突，未做任何更改。",
    413: "提交的内容超过了大小限制。",
    415: "不支持这种内容类型。",
    422: "提交的内容无法处理。",
    429: "请求太频繁，请稍后再试。",
    503: "服务暂时不可用，请稍后再试。",
    500: "服务器内部错误，请稍后再试。",
}


class WebError(Exception):
    """An error raised by a view, with the status and message the person or client should see, and
    optionally a stable code more specific than the status's (JSON `code`)."""

    def __init__(self, status: int, message: str, *, headers: dict | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.code = code


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


_CJK = re.compile(r"[\u4e00-\u9fff]")


def _describe(exc: Exception) -> tuple[int, str, dict, str | None]:
    """status, the message a person reads, headers, and a specific code where the error has one."""
    if isinstance(exc, WebError):
        status, message, headers, code = exc.status, exc.message, exc.headers, exc.code
    elif isinstance(exc, (QueryError, KBError)):
        status, headers = getattr(exc, "status", 400), {}
        message = getattr(exc, "zh", None) or str(exc)   # errors that speak both languages carry .zh
        code = getattr(exc, "code", None)
    elif isinstance(exc, SecurityError):   # a Host not in LAWKB_WEB_TRUSTED_HOSTS
        return 400, "请求的主机名不在本站允许的范围内。", {}, "untrusted_host"
    elif isinstance(exc, HTTPException):
        headers = {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "retry-after")}
        status = exc.code or 500
        return status, _HTTP_MESSAGES.get(status, "请求无法完成。"), headers, None
    else:
        return 500, _HTTP_MESSAGES[500], {}, None
    if not _CJK.search(message):
        # Library errors are written for the command line; a page never shows one untranslated.
        message = _HTTP_MESSAGES.get(status, "请求无法完成，请检查后重试。")
    return status, message, headers, code if isinstance(code, str) else None


def render_error(exc: Exception):
    status, message, headers, specific = _describe(exc)
    code, title = _TITLES.get(status, ("error", "出错了"))
    code = specific or code
    if wants_json():
        resp = jsonify({"error": {"status": status, "code": code, "message": message}})
    elif specific == "untrusted_host":
        # No URL can be built for a host the app does not serve, so not the site's template either.
        resp = Response(f"<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>{title}</title>"
                        f"<main><h1>{title}</h1><p>{message}</p></main></html>", mimetype="text/html")
    else:
        resp = render_template("error.html", status=status, title=title, message=message)
    return resp, status, headers


def register(app: Flask) -> None:
    @app.errorhandler(Exception)
    def _handle(exc: Exception):
        if not isinstance(exc, (WebError, KBError, QueryError, HTTPException)):
            app.logger.exception("unhandled error on %s", request.path)
        return render_error(exc)
