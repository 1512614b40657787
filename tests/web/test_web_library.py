"""The personal library: saving, listing newest first, and the BibTeX export."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from urllib.parse import urlsplit

from _web_helpers import HfEntry, Site, api_write, card_ids, cards, csrf, page_of, post_form, press

Listing = dict[date, list[HfEntry]]
ENTRY = re.compile(r"@misc\{([^,]+),\n(.*?)\n\}\n", re.S)


def library_ids(client) -> list[str]:
    data = client.get("/api/v1/library", params={"limit": 500}).json()
    assert data["total"] == len(data["papers"])
    return [p["id"] for p in data["papers"]]


def parse_bibtex(text: str) -> list[tuple[str, dict[str, str]]]:
    """(key, fields) of each ``@misc`` entry; the whole text must be made of such entries."""
    entries = ENTRY.findall(text)
    assert "".join(m.group(0) for m in ENTRY.finditer(text)).count("@") == text.count("@")
    out = []
    for key, body in entries:
        fields = dict(re.findall(r"^  (\w+) = \{(.*)\},?$", body, re.M))
        assert len(fields) == body.count("\n") + 1, body  # every line is one field
        out.append((key, fields))
    return out


def test_saving_is_idempotent_and_unsaving_too(site: Site, hf_listing: Listing) -> None:
    entry = hf_listing[date(2026, 4, 28)][0]
    bob = site.client("bob")
    for _ in range(2):
        saved = api_write(bob, "PUT", f"/api/v1/library/{entry.id}")
        assert saved.status_code == 200
        assert (saved.json()["id"], saved.json()["saved"]) == (entry.id, True)
    assert library_ids(bob) == [entry.id]
    assert library_ids(site.client("cyd")) == []  # each user has their own
    for _ in range(2):
        removed = api_write(bob, "DELETE", f"/api/v1/library/{entry.id}")
        assert removed.status_code == 200 and removed.json()["saved"] is False
    assert library_ids(bob) == []


def test_the_library_lists_the_latest_saved_first(site: Site, hf_listing: Listing) -> None:
    picked = [hf_listing[date(2026, 4, 24)][3], hf_listing[date(2026, 5, 5)][9],
              hf_listing[date(2026, 4, 29)][0]]  # fmt: skip
    bob = site.client("bob")
    for entry in picked:
        api_write(bob, "PUT", f"/api/v1/library/{entry.id}")
    newest_first = [e.id for e in reversed(picked)]
    assert library_ids(bob) == newest_first
    page = bob.get("/library")
    assert page.status_code == 200
    assert card_ids(page.text) == newest_first
    assert all(c.saved for c in cards(page.text))
    assert '<a href="/library.bib" download>Export BibTeX (3)</a>' in page.text
    # Saving one again does not move it.
    api_write(bob, "PUT", f"/api/v1/library/{picked[0].id}")
    assert library_ids(bob) == newest_first


def test_the_save_button_works_without_javascript(site: Site, hf_listing: Listing) -> None:
    entry = hf_listing[date(2026, 5, 1)][2]
    cyd = site.client("cyd")
    action = f"/papers/{entry.id}/save"
    response = press(cyd, cyd.get(f"/papers/{entry.id}").text, action)
    assert response.status_code == 303
    assert library_ids(cyd) == [entry.id]
    page = cyd.get(f"/papers/{entry.id}").text
    assert "Saved<span" in page
    assert press(cyd, page, action).status_code == 303  # the button now unsaves
    assert library_ids(cyd) == []
    empty = cyd.get("/library").text
    assert "Nothing saved yet." in empty and "library.bib" not in empty


def test_the_library_pages(site: Site, hf_listing: Listing) -> None:
    ids = [e.id for entries in hf_listing.values() for e in entries][:45]
    bob = site.client("bob")
    token = csrf(bob)
    for paper_id in ids:
        api_write(bob, "PUT", f"/api/v1/library/{paper_id}", token=token)
    first, third = bob.get("/library").text, bob.get("/library?page=3").text
    assert page_of(first) == (1, 3) and page_of(third) == (3, 3)
    assert card_ids(first) == ids[::-1][:20]
    assert card_ids(third) == ids[::-1][40:]
    window = bob.get("/api/v1/library", params={"limit": 5, "offset": 40}).json()
    assert window["total"] == 45
    assert [p["id"] for p in window["papers"]] == ids[::-1][40:45]


def test_the_bibtex_export_has_one_sound_entry_per_paper(site: Site, hf_listing: Listing) -> None:
    everything = {e.id: e for entries in hf_listing.values() for e in entries}
    ada = site.client("ada")
    token = csrf(ada)
    for paper_id in everything:
        assert api_write(ada, "PUT", f"/api/v1/library/{paper_id}", token=token).status_code == 200
    response = ada.get("/library.bib")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-bibtex; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="paperfeed-library.bib"'
    )
    text = response.text
    assert text.count("@misc{") == len(everything) == 116
    depth = 0
    for char in text:  # balanced braces, never closing more than opened
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
    entries = parse_bibtex(text)
    keys = Counter(key for key, _ in entries)
    assert len(keys) == len(entries) and max(keys.values()) == 1
    assert all(re.fullmatch(r"[a-z0-9]+", key) for key in keys)
    assert {fields["eprint"] for _, fields in entries} == set(everything)
    for _, fields in entries:
        paper = everything[fields["eprint"]]
        assert fields["title"] == "{" + " ".join(paper.title.split()).replace("&", r"\&") + "}"
        assert fields["year"] == str(paper.published.year)
        assert fields["url"] == f"https://arxiv.org/abs/{paper.id}"
        assert fields["archivePrefix"] == "arXiv"
        assert fields["author"].split(" and ")[0] == paper.authors[0]
    # The library order: the first entry is the last saved.
    assert entries[0][1]["eprint"] == list(everything)[-1]


def test_the_library_needs_a_login(site: Site, hf_listing: Listing) -> None:
    visitor = site.client()
    page = visitor.get("/library", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Flibrary"
    export = visitor.get("/library.bib", follow_redirects=False)
    assert export.status_code == 303
    assert urlsplit(export.headers["location"]).path == "/login"
    api = visitor.get("/api/v1/library")
    assert (api.status_code, api.json()) == (401, {"error": "log in first"})
    entry = hf_listing[date(2026, 5, 5)][0]
    put = api_write(visitor, "PUT", f"/api/v1/library/{entry.id}")
    assert put.status_code == 401
    form = post_form(visitor, f"/papers/{entry.id}/save", {"saved": "true"})
    assert form.status_code == 303 and urlsplit(form.headers["location"]).path == "/login"
    assert "/library" not in visitor.get("/").text.split("<main", 1)[0]  # no nav link
    assert api_write(site.client("bob"), "PUT", "/api/v1/library/2604.99999").status_code == 404


def test_a_paper_hidden_after_saving_leaves_the_library(site: Site, hf_listing: Listing) -> None:
    kept, hidden = hf_listing[date(2026, 4, 30)][0], hf_listing[date(2026, 4, 30)][1]
    bob = site.client("bob")
    for entry in (kept, hidden):
        api_write(bob, "PUT", f"/api/v1/library/{entry.id}")
    admin = site.client("ada")
    hide = admin.post(
        f"/papers/{hidden.id}/hide",
        data={"csrf_token": csrf(admin), "hidden": "true"},
        follow_redirects=False,
    )
    assert hide.status_code == 303
    # Listed, it could not be removed: unsaving a hidden paper is a 404.
    assert library_ids(bob) == [kept.id]
    assert card_ids(bob.get("/library").text) == [kept.id]
    assert "@misc{" in (bib := bob.get("/library.bib").text) and hidden.id not in bib
    admin.post(
        f"/papers/{hidden.id}/hide",
        data={"csrf_token": csrf(admin), "hidden": "false"},
        follow_redirects=False,
    )
    assert library_ids(bob) == [hidden.id, kept.id]  # shown again, the save is still there
