"""Every error the site reports carries an HTTP status; one handler renders it, as JSON under /api and
/healthz, as a page elsewhere, with the same message."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from lawkb.core.errors import KBError, QueryError

# Chinese wording for the statuses people can meet; the API keeps a stable English code beside it.
_TITLES = {
    400: ("bad_request", "请求有误"),
    403: ("forbidden", "没有权限"),
    404: ("not_found", "没有找到"),
    405: ("method_not_allowed", "不支持这种请求方式"),
    413: ("too_large", "提交的内容太大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    429: ("rate_limited", "请求太频繁"),
    500: ("internal_error", "服务器内部错误"),
    503: ("unavailable", "服务暂时不可用"),
}

_HTTP_MESSAGES = {
    400: "请求有误，请检查后重试。",
    404: "没有这个页面或接口，请检查网址。",
    405: "这个地址不支持这种请求方式。",
    413: "提交的内容超过了大小限制。",
    500: "服务器内部错误，请稍后再试。",
}


class WebError(Exception):
    """An error raised by a view, with the status and message the person or client should see."""

    def __init__(self, status: int, message: str, *, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def _describe(exc: Exception) -> tuple[int, str, dict]:
    if isinstance(exc, WebError):
        return exc.status, exc.message, exc.headers
    if isinstance(exc, QueryError):
        return 400, str(exc), {}
    if isinstance(exc, KBError):
        return getattr(exc, "status", 400), str(exc), {}
    if isinstance(exc, HTTPException):
        headers = {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "retry-after")}
        status = exc.code or 500
        return status, _HTTP_MESSAGES.get(status, exc.description or exc.name), headers
    return 500, "服务器内部错误，请稍后再试。", {}


def render_error(exc: Exception):
    status, message, headers = _describe(exc)
    code, title = _TITLES.get(status, ("error", "出错了"))
    if wants_json():
        resp = jsonify({"error": {"status": status, "code": code, "message": message}})
    else:
        resp = render_template("error.html", status=status, title=title, message=message)
    return resp, status, headers


def register(app: Flask) -> None:
    @app.errorhandler(Exception)
    def _handle(exc: Exception):
        if not isinstance(exc, (WebError, KBError, QueryError, HTTPException)):
            app.logger.exception("unhandled error on %s", request.path)
        return render_error(exc)
