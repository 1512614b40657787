"""Fixtures for the browser tests: the real app on the demo corpus, in Debian's Chromium.

``site`` serves ``create_app`` with uvicorn on 127.0.0.1 (an ephemeral port, in a thread)
over a workspace holding the bundled demo corpus, whose shipped vectors make it ready in a
few seconds. ``browser`` is one Chromium for the session; each test gets a fresh context
(cookies, viewport, colour scheme) through ``new_context``, which records every request and
error so a test can assert the pages stayed local and quiet. ``reader`` is an account that
has commented on and saved the math paper, for tests that want a lived-in, logged-in view.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from _browser_helpers import (
    CHROMIUM,
    DESKTOP,
    LAUNCH_ARGS,
    PASSWORD,
    NewContext,
    Reader,
    Site,
    Traffic,
    post_comment,
    sign_up,
)
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from sqlalchemy import select

from paperfeed.catalog.demo import demo_files, load_demo
from paperfeed.community import accounts
from paperfeed.config import Settings
from paperfeed.db import Paper
from paperfeed.search.catchup import catch_up
from paperfeed.web.app import create_app
from paperfeed.workspace import Workspace

MATH_COMMENT = "Mass–energy: **bold** claim, $E=mc^2$, and $$\\sum_{i=1}^n x_i^2$$"


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if not demo_files():
        pytest.skip("demo corpus not built: no paperfeed/assets/demo/hf_daily/*.json.gz")
    workspace = Workspace.create(Settings(data_dir=tmp_path_factory.mktemp("browser") / "data"))
    load_demo(workspace)
    catch_up(workspace)
    # The first account becomes admin; take it here so the tests sign up ordinary readers.
    accounts.create_user(workspace, "site-admin", PASSWORD)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(create_app(workspace), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Site(f"http://127.0.0.1:{port}", workspace, _math_paper(workspace))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
        workspace.db.engine.dispose()


def _math_paper(workspace: Workspace) -> str:
    """A paper whose abstract has inline TeX. The demo has no ``$…$`` pair (its dollars are
    prices), but a few abstracts use ``\\(…\\)``, which the page renders the same way."""
    with workspace.db.session() as session:
        found = session.scalar(
            select(Paper.id).where(Paper.abstract.contains("\\(")).order_by(Paper.id)
        )
    assert found, "no demo abstract with \\( math"
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def new_context(browser: Browser, site: Site) -> Iterator[NewContext]:
    """Make browser contexts that record their traffic; all are closed after the test."""
    made: list[BrowserContext] = []

    def make(**options: Any) -> tuple[BrowserContext, Traffic]:
        options.setdefault("viewport", DESKTOP)
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        traffic = Traffic(site.url)
        traffic.watch(context)
        made.append(context)
        return context, traffic

    yield make
    for context in made:
        context.close()


@pytest.fixture
def page(new_context: NewContext) -> tuple[Page, Traffic]:
    context, traffic = new_context()
    return context.new_page(), traffic


@pytest.fixture(scope="session")
def reader(browser: Browser, site: Site) -> Reader:
    """Signed up through the form; commented (Markdown + math) on, and saved, the math paper."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_up(page, site.url, "reader")
    page.goto(f"{site.url}/papers/{site.math_paper}")
    post_comment(page, MATH_COMMENT)
    page.locator(".paper-actions .save-button").click()
    expect(page.locator(".paper-actions .save-button")).to_have_attribute("aria-pressed", "true")
    state = context.storage_state()
    context.close()
    return Reader("reader", state)
