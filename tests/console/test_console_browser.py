"""The console in a real headless browser (Debian's Chromium, driven by Playwright) against the
local runtime served on loopback: a marketer follows a contact from the maps to their timeline,
by mouse and by keyboard, and a screen reader finds its landmarks, headings and labels.
Screenshots go to a temporary folder (UPDATE_SCREENSHOTS=1: docs/screenshots/console-*.png)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.console.conftest import CHROMIUM, Served, shot

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make test installs it)"),
]


def test_given_the_maps_page_then_it_lists_the_maps_with_their_contacts_in_landmarks_and_headings(
    served: Served, page: Any
) -> None:
    # WHEN the console is opened on loopback (no sign-in there)
    page.goto(f"{served.url}/console")
    row = page.locator("#maps-table tbody tr", has=page.get_by_role("link", name="welcome-leads"))
    row.wait_for()

    # THEN welcome-leads is listed with its three contacts entered and still active
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == "Welcome new leads"
    assert cells[1:] == ["3", "3", "0"]
    # AND a screen reader finds the landmarks, one h1, the navigation's current page
    assert page.get_by_role("banner").count() == 1
    assert page.get_by_role("navigation", name="Console").count() == 1
    assert page.get_by_role("main").count() == 1
    assert page.get_by_role("heading", level=1).all_inner_texts() == ["Maps"]
    assert page.get_by_role("link", name="Maps").get_attribute("aria-current") == "page"
    assert page.locator("#who").inner_text() == "Local console (no sign-in)"
    shot(page, "maps")


def test_given_a_map_when_opened_then_its_drawing_shows_the_numbers_per_step(served: Served, page: Any) -> None:
    page.goto(f"{served.url}/console")
    # WHEN welcome-leads is opened from the list
    page.get_by_role("link", name="welcome-leads").click()
    drawing = page.locator("#map-drawing svg")
    drawing.wait_for()

    # THEN the heading names it and has the focus (a screen reader announces the new view)
    assert page.get_by_role("heading", level=1).inner_text() == "Welcome new leads (welcome-leads)"
    assert page.evaluate("document.activeElement.id") == "map-heading"
    # AND the drawing is labelled by its title, and its steps carry their numbers
    labelled_by = drawing.get_attribute("aria-labelledby")
    assert labelled_by and (page.locator(f"svg title[id='{labelled_by}']").text_content() or "").startswith(
        "Map welcome-leads"
    )
    words = drawing.text_content() or ""
    assert "welcome-email" in words and "sent 3" in words and "waiting 3" in words
    # AND the same numbers are in a table a screen reader can read
    row = page.locator("#steps-table tbody tr", has=page.locator("th", has_text="welcome-email"))
    assert row.locator("td").nth(1).inner_text() == "3"  # done
    assert "sent 3" in row.locator("td").nth(4).inner_text()
    assert "Entered 3" in page.locator("#map-totals").inner_text()
    shot(page, "map")


def test_given_the_contacts_page_when_searched_by_keyboard_then_results_are_announced_and_the_timeline_explained(
    served: Served, page: Any
) -> None:
    page.goto(f"{served.url}/console#/contacts")
    page.locator("#view-contacts").wait_for()

    # WHEN Tab is pressed from the top until the search box has the focus
    reached = []
    for _ in range(12):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
        if reached[-1] == "search-q":
            break
    # THEN it got there, and the focus is visible (an outline is drawn)
    assert reached[-1] == "search-q", reached
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    width = page.evaluate("parseFloat(getComputedStyle(document.activeElement).outlineWidth)")
    assert outline != "none" and width >= 2
    # AND the box is labelled
    assert page.get_by_label("Email, phone or tag").count() == 1

    # WHEN an email is typed and Enter pressed
    page.keyboard.type("ann@example.com")
    page.keyboard.press("Enter")
    status = page.locator("#search-status")
    status.filter(has_text="found").wait_for()

    # THEN the live region announces the result, and the contact is listed
    assert status.get_attribute("aria-live") == "polite" and status.get_attribute("role") == "status"
    assert status.inner_text() == "1 contact found."
    result = page.get_by_role("link", name="Ann · ann@example.com")
    assert result.count() == 1
    shot(page, "search")

    # WHEN the result is reached by Tab and opened with Enter
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('#results') !== null"):
            break
    page.keyboard.press("Enter")
    explain = page.locator("#explain")
    explain.filter(has_text="welcome-leads").wait_for()

    # THEN the contact's page shows the explain text, the map they are in, and their timeline
    contact_id = served.contact_id("ann@example.com")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Ann")
    words = explain.inner_text()
    assert words.startswith(f"Contact {contact_id}") and "welcome-leads" in words
    assert page.locator("#enrollments li").first.inner_text().startswith("welcome-leads")
    kinds = page.locator("#timeline li strong").all_inner_texts()
    assert "email.opened" in kinds and len(kinds) >= 5
    shot(page, "contact")


def test_given_every_page_then_every_control_is_reached_by_tab(served: Served, page: Any) -> None:
    views = {"#/maps": "#maps-table tbody a", "#/maps/welcome-leads": "#map-drawing svg", "#/contacts?q=ann%40example.com": "#results a"}
    for view, shown in views.items():
        page.goto("about:blank")
        page.goto(f"{served.url}/console{view}")
        page.locator(shown).first.wait_for()
        controls = page.evaluate(
            """() => Array.from(document.querySelectorAll('a[href], button, input, [tabindex="0"]'))
                 .filter((e) => e.offsetParent !== null || e === document.activeElement)
                 .map((e) => e.id || e.getAttribute('href') || e.textContent.trim())"""
        )
        seen = set()
        for _ in range(len(controls) + 5):
            page.keyboard.press("Tab")
            seen.add(
                page.evaluate(
                    "(e => e.id || e.getAttribute('href') || e.textContent.trim())(document.activeElement)"
                )
            )
        assert set(controls) <= seen, (view, set(controls) - seen)


def test_given_a_contact_whose_name_is_markup_then_the_page_shows_it_as_text(served: Served, page: Any) -> None:
    from automaps.store.contacts import ContactStore

    # GIVEN a contact whose first name is an HTML image with a script in its onerror
    evil, _ = ContactStore().upsert_by_email(
        "eve@example.com", {"first_name": '<img src=x onerror="window.pwned=1">'}, tags=["<b>vip</b>"]
    )
    # WHEN the console searches for them and opens them
    page.goto(f"{served.url}/console#/contacts?q=eve%40example.com")
    page.locator("#results a").wait_for()
    page.locator("#results a").click()
    page.locator("#profile dd").first.wait_for()

    # THEN the name is shown as the text it is, and nothing ran
    assert page.get_by_role("heading", level=1).inner_text().startswith('<img src=x onerror="window.pwned=1">')
    assert page.locator("#main img").count() == 0 and page.locator("#main b").count() == 0
    assert page.evaluate("window.pwned === undefined")
    assert evil.id in page.locator("#profile").inner_text()


def test_given_a_long_timeline_then_older_entries_come_on_request(served: Served, page: Any) -> None:
    from datetime import timedelta

    from automaps.store.contacts import ContactStore

    # GIVEN a contact with 60 entries more in their history than one page of 50 shows
    store = ContactStore()
    kim, _ = store.upsert_by_email("kim@example.com", {"first_name": "Kim"})
    start = served.runtime.clock.now() - timedelta(days=30)
    for day in range(60):
        store.record(kim.id, "note.added", {"text": f"call {day}"}, at=start + timedelta(hours=day))
    page.goto(f"{served.url}/console#/contacts/{kim.id}")
    older = page.get_by_role("button", name="Show older entries")
    older.wait_for()
    assert page.locator("#timeline li").count() == 50

    # WHEN the older entries are asked for (by keyboard)
    older.focus()
    page.keyboard.press("Enter")

    # THEN the rest follow, and the button goes
    page.locator("#timeline li").nth(50).wait_for()
    assert page.locator("#timeline li").count() > 60 and older.is_hidden()



def test_given_a_drawing_with_script_then_only_the_allowed_svg_reaches_the_page(served: Served, page: Any) -> None:
    import json

    # GIVEN the map's answer carried a drawing with a script, event attributes, a link and foreign HTML
    hostile = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 100 100" '
        'onload="window.pwned=1"><title>Map evil</title><script>window.pwned=2</script>'
        '<style>rect{fill:red}</style><a xlink:href="javascript:window.pwned=3"><text x="1" y="10">click</text></a>'
        '<foreignObject><div xmlns="http://www.w3.org/1999/xhtml"><img src="x" onerror="window.pwned=4"/></div>'
        '</foreignObject><rect width="10" height="10" fill="url(https://example.com/x)" onclick="window.pwned=5"/>'
        '<text x="1" y="30">done 3</text></svg>'
    )

    def answer(route: Any) -> None:
        body = {"map": {"id": "evil", "name": "Evil"}, "svg": hostile, "stats": None, "steps": []}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/console/api/maps/evil", answer)
    page.goto(f"{served.url}/console#/maps/evil")
    drawing = page.locator("#map-drawing svg")
    drawing.wait_for()

    # THEN the drawing's text and shapes are there, and nothing that runs or links
    assert "done 3" in (drawing.text_content() or "")
    assert drawing.locator("rect").count() == 1
    for tag in ("script", "style", "a", "foreignObject", "img", "div"):
        assert page.locator(f"#map-drawing {tag}").count() == 0, tag
    attributes = page.evaluate(
        "Array.from(document.querySelectorAll('#map-drawing *')).flatMap(e => e.getAttributeNames())"
    )
    assert not [name for name in attributes if name.startswith("on") or "href" in name]
    assert page.locator("#map-drawing rect").get_attribute("fill") is None  # url() to elsewhere dropped
    page.locator("#map-drawing rect").dispatch_event("click")
    assert page.evaluate("window.pwned === undefined")
    # AND what the parser's inert copy of the answer tried to run, the CSP blocked (and said so)
    blocked = [problem for problem in page.problems if "violates the following Content Security Policy" in problem]
    page.problems[:] = [problem for problem in page.problems if problem not in blocked]
