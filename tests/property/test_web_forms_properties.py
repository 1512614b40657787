"""No form post, query parameter, path or cookie a visitor sends gets a 5xx from the real app.

Sign-up, log-in, comments, subscriptions and submit are posted as a browser posts them (with
the page's CSRF token) and through the JSON API (with the ``X-CSRF-Token`` header); search
and list pages get arbitrary text and numbers, and raw percent-encoded bytes that are not
UTF-8. A mistake is a 4xx with a message; a 5xx is a bug. The one 5xx the app may answer on
purpose, 502 for arXiv failing, cannot happen here: the stand-in arXiv answers every id.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
from _hostile import FILE_CHAR, file_text
from _site import PropertySite, csrf
from hypothesis import given
from hypothesis import strategies as st

# Text a browser can send (HTTP carries UTF-8, so no lone surrogates).
text = st.one_of(file_text, st.text(FILE_CHAR, max_size=300))
numbers = st.one_of(
    st.integers(-5, 60).map(str),
    st.sampled_from(["0", "-1", "1e3", "NaN", "", "9" * 40, "2147483648", "1_000", " 1"]),
    st.integers().map(str),
)
dates = st.one_of(
    st.dates().map(str),
    st.sampled_from(["0001-01-01", "9999-12-31", "2026-02-30", "1678-01-01", "2199-12-31"]),
    text,
)
raw_bytes = st.binary(max_size=40).map(lambda b: quote(b, safe=""))


def _no_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"


def _form(client: httpx.Client, url: str, fields: dict[str, str]) -> httpx.Response:
    return client.post(url, data={**fields, "csrf_token": csrf(client)}, follow_redirects=False)


def _api(client: httpx.Client, method: str, url: str, body: object) -> httpx.Response:
    return client.request(method, url, json=body, headers={"X-CSRF-Token": csrf(client)})


# -- reading -------------------------------------------------------------------------------------


@given(
    q=text, cat=text, author=text, since=dates, until=dates, mode=text, page=numbers, limit=numbers
)
def test_search_page_and_api_answer_any_parameters(
    site: PropertySite,
    q: str,
    cat: str,
    author: str,
    since: str,
    until: str,
    mode: str,
    page: str,
    limit: str,
) -> None:
    client = site.client()
    form = {"q": q, "cat": cat, "author": author, "since": since, "until": until}
    _no_server_error(client.get("/search", params={**form, "mode": mode, "page": page}))
    api = {"q": q, "mode": mode, "limit": limit, "offset": page}
    _no_server_error(client.get("/api/v1/search", params=api))
    _no_server_error(client.get("/feeds/search.atom", params={"q": q}))


@given(day=dates, period=text, sort=text, page=numbers, limit=numbers)
def test_feeds_and_lists_answer_any_parameters(
    site: PropertySite, day: str, period: str, sort: str, page: str, limit: str
) -> None:
    client = site.client(logged_in=True)
    for url, params in (
        ("/", {"day": day, "period": period, "sort": sort, "page": page}),
        ("/trending", {"period": period, "page": page}),
        ("/library", {"page": page}),
        ("/api/v1/feed", {"day": day, "period": period, "sort": sort, "limit": limit}),
        ("/api/v1/feed", {"offset": page}),
        ("/api/v1/trending", {"period": period, "limit": limit, "offset": page}),
        ("/api/v1/library", {"limit": limit, "offset": page}),
        ("/api/daily_papers", {"date": day, "p": page, "limit": limit}),
        ("/feeds/daily.atom", {"period": period}),
        ("/feeds/trending.atom", {"period": period}),
    ):
        _no_server_error(client.get(url, params=params))


@given(raw=raw_bytes, name=st.sampled_from(["q", "day", "period", "page", "offset", "date"]))
def test_undecodable_query_strings_are_not_server_errors(
    site: PropertySite, raw: str, name: str
) -> None:
    client = site.client()
    for url in ("/search", "/api/v1/search", "/feeds/search.atom", "/", "/api/v1/feed"):
        _no_server_error(client.get(f"{url}?{name}={raw}&q=x{raw}"))


@given(paper_id=st.one_of(text, raw_bytes))
def test_paper_urls_answer_any_id(site: PropertySite, paper_id: str) -> None:
    client = site.client()
    path = paper_id if "%" in paper_id else quote(paper_id, safe="")
    for url in (
        f"/papers/{path}",
        f"/papers/{path}/bibtex",
        f"/api/v1/papers/{path}",
        f"/api/v1/papers/{path}/similar",
        f"/api/v1/papers/{path}/comments",
    ):
        _no_server_error(client.get(url))


# -- accounts ------------------------------------------------------------------------------------


@given(username=text, password=text, same=st.booleans(), email=text, next_=text)
def test_sign_up_answers_any_form(
    site: PropertySite, username: str, password: str, same: bool, email: str, next_: str
) -> None:
    client = site.client()
    fields = {
        "username": username,
        "password": password,
        "password2": password if same else password + "x",
        "email": email,
        "next": next_,
    }
    _no_server_error(_form(client, "/signup", fields))


@given(username=st.one_of(text, st.just("ada")), password=text, next_=text)
def test_log_in_answers_any_form(
    site: PropertySite, username: str, password: str, next_: str
) -> None:
    client = site.client()
    fields = {"username": username, "password": password, "next": next_}
    _no_server_error(_form(client, "/login", fields))


@given(session=st.one_of(text, raw_bytes), token=text)
def test_forged_cookies_and_tokens_are_not_server_errors(
    site: PropertySite, session: str, token: str
) -> None:
    client = site.client()
    headers = {"cookie": f"paperfeed_session={quote(session, safe='')}", "x-csrf-token": ""}
    _no_server_error(client.get("/", headers=headers))
    _no_server_error(client.get("/api/v1/me", headers=headers))
    headers["x-csrf-token"] = quote(token, safe="")
    _no_server_error(client.put(f"/api/v1/papers/{site.paper_ids[0]}/vote", headers=headers))
    _no_server_error(client.post("/logout", headers=headers))


# -- writing -------------------------------------------------------------------------------------


@given(data=st.data(), body=text)
def test_comments_accept_any_body_on_any_paper(
    site: PropertySite, data: st.DataObject, body: str
) -> None:
    paper_id = data.draw(st.one_of(st.sampled_from(site.paper_ids), text), label="paper_id")
    client = site.client(logged_in=True)
    path = quote(paper_id, safe="")
    _no_server_error(_form(client, f"/papers/{path}/comments", {"body": body}))
    _no_server_error(_api(client, "POST", f"/api/v1/papers/{path}/comments", {"body": body}))


@given(email=text, kind=text, period=text, query=text, logged_in=st.booleans())
def test_subscribe_answers_any_form(
    site: PropertySite, email: str, kind: str, period: str, query: str, logged_in: bool
) -> None:
    kind = kind if len(kind) % 3 else "search"
    client = site.client(logged_in=logged_in)
    fields = {"email": email, "kind": kind, "period": period, "query": query}
    _no_server_error(_form(client, "/subscribe", fields))
    if logged_in:
        _no_server_error(_api(client, "POST", "/api/v1/subscriptions", fields))


@given(data=st.data())
def test_submit_answers_any_reference(site: PropertySite, data: st.DataObject) -> None:
    ref = data.draw(
        st.one_of(
            text,
            st.sampled_from(site.paper_ids),
            st.sampled_from(site.paper_ids).map(lambda i: f"https://arxiv.org/abs/{i}v9"),
            st.from_regex(r"\A\d{4}\.\d{4,5}(v\d{1,3})?\Z"),
            st.from_regex(r"\A[a-z-]{1,12}(\.[A-Z]{2})?/\d{7}\Z"),
        ),
        label="ref",
    )
    client = site.client(logged_in=True)
    _no_server_error(_form(client, "/submit", {"ref": ref}))
    _no_server_error(_api(client, "POST", "/api/v1/submit", {"ref": ref}))


@given(
    body=st.one_of(st.binary(max_size=200), text.map(str.encode), st.just(b'{"body": ""}')),
    content_type=st.one_of(
        st.sampled_from(
            [
                "text/plain",
                "application/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "application/json; charset=latin-1",
            ]
        ),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
    ),
)
def test_api_writes_answer_any_body_and_content_type(
    site: PropertySite, body: bytes, content_type: str
) -> None:
    client = site.client(logged_in=True)
    headers = {"X-CSRF-Token": csrf(client), "content-type": content_type}
    for url in (
        f"/api/v1/papers/{site.paper_ids[0]}/comments",
        "/api/v1/submit",
        "/api/v1/subscriptions",
    ):
        _no_server_error(client.post(url, content=body, headers=headers))
