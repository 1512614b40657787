"""The Content-Security-Policy holds in a real browser: Debian's Chromium reports no
violation on the main pages, and what the pages do with script still works under it
(KaTeX renders the math of an abstract and a comment, Swagger UI draws the API on /docs).

Violations are caught twice: the ``securitypolicyviolation`` events the document fires
(collected by an init script, which the policy does not govern) and the console errors
Chromium logs for them (``Traffic``).
"""

from __future__ import annotations

import pytest
from _browser_helpers import NewContext, Reader, Site, browser_test
from playwright.sync_api import Page, expect

pytestmark = browser_test

COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"} ` +
    `at ${event.sourceFile}:${event.lineNumber}`
  );
});
"""


def violations(page: Page) -> list[str]:
    return page.evaluate("() => window.__cspViolations")


def assert_policy_held(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.ok, url
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp, url
    page.wait_for_load_state("networkidle")
    assert violations(page) == [], url


@pytest.mark.parametrize(
    "path",
    ["/", "/search?q=language+models", "/trending", "/login", "/signup", "/about"],
)
def test_pages_run_without_policy_violations(
    new_context: NewContext, site: Site, path: str
) -> None:
    context, traffic = new_context()
    context.add_init_script(COLLECT_VIOLATIONS)
    page = context.new_page()
    assert_policy_held(page, site.url + path)
    traffic.assert_clean()


def test_math_renders_under_the_policy(new_context: NewContext, site: Site, reader: Reader) -> None:
    """The reader's comment holds ``$E=mc^2$``; the abstract, ``\\(…\\)`` math."""
    context, traffic = new_context(storage_state=reader.storage_state)
    context.add_init_script(COLLECT_VIOLATIONS)
    page = context.new_page()
    assert_policy_held(page, f"{site.url}/papers/{site.math_paper}")
    expect(page.locator(".comment .katex").first).to_be_visible()
    expect(page.locator(".comment .katex-error")).to_have_count(0)
    assert "E=mc" in page.locator(".comment .katex annotation").first.text_content()
    expect(page.locator(".abstract-full .katex").first).to_be_visible()
    assert violations(page) == []
    traffic.assert_clean()


def test_api_docs_work_under_the_policy(new_context: NewContext, site: Site) -> None:
    context, traffic = new_context()
    context.add_init_script(COLLECT_VIOLATIONS)
    page = context.new_page()
    assert_policy_held(page, f"{site.url}/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    expect(page.get_by_text("/api/v1/feed", exact=True).first).to_be_visible()
    assert violations(page) == []
    traffic.assert_clean()


def test_an_injected_inline_script_is_blocked_and_reported(
    new_context: NewContext, site: Site
) -> None:
    """What the policy is for (markup that slipped through sanitising cannot run script),
    and proof that the checks above would see a violation."""
    context, _ = new_context()
    context.add_init_script(COLLECT_VIOLATIONS)
    page = context.new_page()
    page.goto(f"{site.url}/login")
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.__injected = true";
          document.body.append(script);
        }"""
    )
    page.wait_for_function("() => window.__cspViolations.length > 0")
    assert page.evaluate("() => window.__injected") is None
    assert any(v.startswith("script-src") for v in violations(page))
