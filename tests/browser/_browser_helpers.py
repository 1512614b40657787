"""Helpers shared by the browser tests (imported as ``_browser_helpers``, like ``_core_helpers``).

The tests drive Debian's Chromium (``apt-get install chromium``; ``make test`` installs it when
run as root), never a browser that Playwright downloads. Without it they skip.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from paperfeed.workspace import Workspace

CHROMIUM = Path("/usr/bin/chromium")
# What a closed network needs: no background connections, no QUIC, no sandbox (CI runs as root).
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
PASSWORD = "correct horse battery"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 800}

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"browser tests need Debian's Chromium at {CHROMIUM}: run `make test` as root, "
    "or `sudo apt-get install chromium fonts-dejavu-core`",
)
browser_test = [pytest.mark.browser, needs_chromium]

# Inputs without any label, as the accessibility tree would see them.
UNLABELLED_JS = """() => [...document.querySelectorAll(
    'input:not([type=hidden]), textarea, select')]
  .filter(el => !(el.labels && [...el.labels].some(l => l.textContent.trim()))
                && !(el.getAttribute('aria-label') || '').trim()
                && !(el.getAttribute('aria-labelledby') || '').trim())
  .map(el => el.outerHTML)"""

# Pages narrower than their content scroll sideways on a phone; the 1 px allows rounding.
OVERFLOW_JS = """() => {
  const doc = document.scrollingElement;
  const wide = [...document.querySelectorAll('body *')]
    .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
    .filter(el => !el.closest('.visually-hidden, .skip'))
    .slice(0, 5)
    .map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''));
  return {scrollWidth: doc.scrollWidth, innerWidth: window.innerWidth, wide};
}"""

# WCAG relative luminance of an element's computed background (or text) colour.
LUMINANCE_JS = """([selector, property]) => {
  const value = getComputedStyle(document.querySelector(selector))[property];
  const [r, g, b] = value.match(/[\\d.]+/g).slice(0, 3).map(Number).map(c => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}"""


# new_context(**options) -> (context, traffic): a fresh, recorded browser context.
NewContext = Callable[..., tuple[BrowserContext, "Traffic"]]


@dataclass
class Site:
    """The app served on 127.0.0.1 over the demo corpus."""

    url: str
    workspace: Workspace
    math_paper: str  # a demo paper whose abstract holds TeX math


@dataclass
class Reader:
    """A signed-up account and its logged-in session, for new browser contexts."""

    username: str
    storage_state: Any


@dataclass
class Traffic:
    """Every request and every error the pages of one browser context produced."""

    origin: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def watch(self, context: BrowserContext) -> None:
        context.on("request", lambda request: self.requests.append(request.url))
        context.on(
            "console",
            lambda message: (
                self.errors.append(f"console: {message.text} ({message.location})")
                if message.type == "error"
                else None
            ),
        )
        context.on("weberror", lambda error: self.errors.append(f"page error: {error.error}"))
        context.on(
            "response",
            lambda response: (
                self.errors.append(f"HTTP {response.status}: {response.url}")
                if response.status >= 400
                else None
            ),
        )

    def external(self) -> list[str]:
        """Requests that left this machine's test server (data: and blob: URLs stay local)."""
        local = (self.origin + "/", "data:", "blob:")
        return [url for url in self.requests if not url.startswith(local)]

    def assert_clean(self) -> None:
        assert self.requests, "no requests were recorded"
        assert self.external() == [], f"pages fetched from elsewhere: {self.external()}"
        assert self.errors == [], f"the pages reported errors: {self.errors}"


def sign_up(page: Page, origin: str, username: str) -> None:
    """Create an account through the signup form; the page ends up logged in."""
    page.goto(f"{origin}/signup")
    fill_signup(page, username)
    expect(page.locator("nav.account")).to_contain_text(username)


def fill_signup(page: Page, username: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email (optional, for digests)").fill(f"{username}@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()


def log_in(page: Page, username: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def post_comment(page: Page, body: str) -> None:
    """Post a comment on the open paper page and wait for the page it redirects to."""
    page.get_by_label(re.compile("Add a comment")).fill(body)
    page.get_by_role("button", name="Post comment").click()
    page.wait_for_url(re.compile(r"#comment-\d+$"))
    page.wait_for_load_state()


def settle(page: Page) -> None:
    """Wait until scripts ran and web fonts (KaTeX's) are in, so layout and pixels are final."""
    page.wait_for_load_state("load")
    page.evaluate("document.fonts.ready.then(() => true)")


def luminance(page: Page, selector: str, prop: str = "backgroundColor") -> float:
    return page.evaluate(LUMINANCE_JS, [selector, prop])


def contrast(a: float, b: float) -> float:
    """WCAG contrast ratio of two relative luminances (1 to 21)."""
    light, dark = max(a, b), min(a, b)
    return (light + 0.05) / (dark + 0.05)
