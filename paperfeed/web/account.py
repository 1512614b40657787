"""Sign-up, log-in/out and password change pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed import accounts
from paperfeed.errors import PaperfeedError
from paperfeed.web.context import log_in, log_out, render, require_user, verify_csrf, workspace_of

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


@router.post("/signup", dependencies=[Depends(verify_csrf)])
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
    user = accounts.authenticate(workspace_of(request), username, password)
    if user is None:
        return render(
            request,
            "login.html",
            status=400,
            error="wrong username or password",
            next=_safe_next(next),
            username=username,
        )
    log_in(request, user)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[Depends(verify_csrf)])
def logout(request: Request) -> RedirectResponse:
    log_out(request)
    return RedirectResponse("/", status_code=303)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request) -> Response:
    if request.session.get("uid") is None:
        return RedirectResponse("/login?next=/account", status_code=303)
    require_user(request)
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
    try:
        user = accounts.change_password(workspace_of(request), user.pk, current, new)
    except PaperfeedError as exc:
        return render(request, "account.html", status=400, error=str(exc))
    log_in(request, user)  # this session carries on; every other one ends
    return render(request, "account.html", message="password changed")
