"""Sign-up, log-in/out and password change pages.

Log-in is throttled on *failed* attempts (per username tried and per client address,
``paperfeed.community.throttle``), checked before the password is hashed; a wrong current
password on the password-change form counts as a failed log-in of that account. Sign-up is
limited per address.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed.community import accounts, throttle
from paperfeed.errors import PaperfeedError, RateLimitedError, WrongPasswordError
from paperfeed.web.context import (
    current_user,
    http_status,
    log_in,
    log_out,
    render,
    require_user,
    verify_csrf,
    workspace_of,
)
from paperfeed.web.limits import client_address, limit

router = APIRouter(include_in_schema=False)


def _safe_next(target: str) -> str:
    """Only same-site paths: a crafted ``next`` must not send people elsewhere."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.get("/signup", response_class=HTMLResponse)
def signup_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "signup.html", next=_safe_next(next), username="", email="")


def _login_account(username: str) -> str | None:
    """The per-account key of a log-in attempt: the name, if any account could have it."""
    username = username.strip()
    return username.lower() if accounts.USERNAME_PATTERN.match(username) else None


def _with_retry_after(response: Response, error: PaperfeedError) -> Response:
    if isinstance(error, RateLimitedError) and error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


@router.post("/signup", dependencies=[Depends(verify_csrf), limit("signup")])
def signup(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    password2: str = Form(""),
    email: str = Form(""),
    next: str = Form("/"),
) -> Response:
    context = {"next": _safe_next(next), "username": username, "email": email}
    if password != password2:
        return render(
            request, "signup.html", status=400, error="the two passwords differ", **context
        )
    try:
        user = accounts.create_user(workspace_of(request), username, password, email or None)
    except PaperfeedError as exc:
        return render(request, "signup.html", status=400, error=str(exc), **context)
    log_in(request, user)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", next=_safe_next(next), username="")


@router.post("/login", dependencies=[Depends(verify_csrf)])
def login(
    request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("/")
) -> Response:
    workspace, address = workspace_of(request), client_address(request)
    account = _login_account(username)
    context = {"next": _safe_next(next), "username": username}
    try:
        throttle.check(workspace, "login", address, account)
    except RateLimitedError as exc:
        page = render(request, "login.html", status=429, error=str(exc), **context)
        return _with_retry_after(page, exc)
    user = accounts.authenticate(workspace, username, password)
    if user is None:
        throttle.record(workspace, "login", address, account)
        return render(
            request, "login.html", status=400, error="wrong username or password", **context
        )
    log_in(request, user)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[Depends(verify_csrf)])
def logout(request: Request) -> RedirectResponse:
    log_out(request)
    return RedirectResponse("/", status_code=303)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request) -> Response:
    if current_user(request) is None:
        return RedirectResponse("/login?next=/account", status_code=303)
    return render(request, "account.html")


@router.post("/account/password", dependencies=[Depends(verify_csrf)])
def change_password(
    request: Request,
    current: str = Form(""),
    new: str = Form(""),
    new2: str = Form(""),
) -> Response:
    user = require_user(request)
    if new != new2:
        return render(request, "account.html", status=400, error="the two new passwords differ")
    workspace, address = workspace_of(request), client_address(request)
    account = user.username.lower()
    try:
        throttle.check(workspace, "login", address, account)
        user = accounts.change_password(workspace, user.pk, current, new)
    except PaperfeedError as exc:
        if isinstance(exc, WrongPasswordError):
            throttle.record(workspace, "login", address, account)
        page = render(request, "account.html", status=http_status(exc), error=str(exc))
        return _with_retry_after(page, exc)
    log_in(request, user)  # every session of the user ended; this browser gets a new one
    return render(request, "account.html", message="password changed")
