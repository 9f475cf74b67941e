"""Request hygiene: security headers (a CSP that allows no inline script), form tokens against
cross-site request forgery, a per-client rate limit, and the admin token check.

Searching needs no cookie. Only a page that shows a POST form sets one: a random value, HttpOnly and
SameSite=Strict; the form carries an HMAC of it under the app's secret, so a third-party page can
neither read nor forge the pair. The JSON API takes no cookie and so needs no such token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request

from .errors import WebError

CSRF_COOKIE = "lawkb_csrf"
CSRF_FIELD = "csrf_token"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def _sign(value: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def csrf_token() -> str:
    """The token for a form on this page; makes the response carry the cookie it is bound to."""
    if "csrf_cookie" not in g:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        g.csrf_cookie = cookie if len(cookie) == 64 else secrets.token_hex(32)
        g.csrf_set = cookie != g.csrf_cookie
    return _sign(g.csrf_cookie)


def check_csrf() -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = request.form.get(CSRF_FIELD, "")
    if not cookie or not sent or not hmac.compare_digest(_sign(cookie), sent):
        raise WebError(400, "表单已失效或来源不明（防跨站请求保护）。请刷新页面后重新提交。")


def check_origin() -> None:
    """An API POST that a browser sends from another site's page is refused: a third-party page could
    otherwise make visitors' browsers upload files to the site. Browsers say so in Sec-Fetch-Site
    (cross-site, same-site) and in an Origin naming another host; scripts and curl send neither and are
    not affected."""
    fetch_site = request.headers.get("Sec-Fetch-Site", "").lower()
    if fetch_site in ("cross-site", "same-site"):
        raise WebError(403, _CROSS_SITE, code="cross_site")
    origin = request.headers.get("Origin")
    if origin is None:
        return
    host = urlsplit(origin).netloc if origin != "null" else "null"
    if host.lower() != request.host.lower():
        raise WebError(403, _CROSS_SITE, code="cross_site")


_CROSS_SITE = "拒绝来自其他网站的请求（跨站提交保护）。请在本站页面上操作。"


class RateLimiter:
    """A token bucket per client address: `per_minute` requests, refilled continuously.
    Addresses are kept in memory only, for as long as their bucket is not full again."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._last_sweep = time.monotonic()

    def allow(self, client: str) -> float:
        """0 when the request may go ahead, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, stamp = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - stamp) * self.rate)
            if tokens < 1:
                self._buckets[client] = (tokens, now)
                return (1 - tokens) / self.rate
            self._buckets[client] = (tokens - 1, now)
            if now - self._last_sweep > 60:
                self._sweep(now)
            return 0.0

    def _sweep(self, now: float) -> None:
        full_after = self.capacity / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
        self._last_sweep = now


def require_admin() -> None:
    """Admin actions exist only when an operator set a token, and then need it as a bearer token."""
    token = current_app.config.get("ADMIN_TOKEN") or ""
    if not token:
        raise WebError(404, "管理接口未启用（设置 LAWKB_WEB_ADMIN_TOKEN 后可用）。")
    sent = request.headers.get("Authorization", "")
    if not sent.startswith("Bearer ") or not hmac.compare_digest(sent[7:].encode(), token.encode()):
        raise WebError(403, "管理令牌无效。", headers={"WWW-Authenticate": "Bearer"})


def register(app: Flask) -> None:
    per_minute = int(app.config.get("RATE_LIMIT_PER_MINUTE") or 0)
    limiter = RateLimiter(per_minute) if per_minute > 0 else None

    @app.before_request
    def _limits():
        if limiter is not None and request.endpoint not in ("static", "api.healthz"):
            wait = limiter.allow(request.remote_addr or "-")
            if wait:
                raise WebError(429, "请求太频繁，请稍后再试。", headers={"Retry-After": str(int(wait) + 1)})
        if request.method == "POST" and not request.path.startswith("/api/"):
            check_csrf()
        elif request.method == "POST":
            check_origin()

    @app.after_request
    def _headers(resp):
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if g.get("csrf_set"):
            resp.set_cookie(CSRF_COOKIE, g.csrf_cookie, httponly=True, samesite="Strict",
                            secure=request.is_secure, path="/")
        return resp

    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["CSRF_FIELD"] = CSRF_FIELD
