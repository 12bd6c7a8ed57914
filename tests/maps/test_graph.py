"""`automaps graph`: a map as Mermaid text and as an SVG (automaps.maps.graph), with counts per step."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import yaml

from automaps.maps.graph import to_mermaid, to_svg
from automaps.maps.loader import load_map
from automaps.maps.model import walk
from automaps_local.cli import main
from tests.maps.conftest import FIXTURES, ROOT

SVG = "{http://www.w3.org/2000/svg}"
MAPS = sorted((ROOT / "maps").glob("*.yaml")) + sorted((ROOT / "tests/e2e/maps").glob("*.yaml"))
MAPS += sorted(FIXTURES.glob("*.yaml"))
WELCOME = ROOT / "maps/welcome-leads.yaml"
GRAPHS = ROOT / "docs/graphs"
COUNTS = {
    "tag-lead": {"waiting": 0, "done": 120, "skipped": 0, "failed": 0},
    "welcome-email": {"done": 118, "failed": 2, "sent": 118, "opened": 50, "rates": {"opened": 50 / 118}},
    "two-days-later": {"waiting": 37, "done": 81},
}


def _step_groups(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {group.get("data-step"): group for group in root.iter(f"{SVG}g") if group.get("data-step") is not None}


@pytest.mark.parametrize("path", MAPS, ids=lambda p: p.stem)
def test_given_an_example_map_when_drawn_then_mermaid_and_an_svg_with_one_labelled_node_per_step(path):
    """GIVEN any example map WHEN drawn THEN the Mermaid text is a flowchart naming every step,
    and the SVG parses as XML with one group per step, labelled in words for screen readers."""
    map_ = load_map(path)
    labels = [ref.label for ref in walk(map_)]

    mermaid = to_mermaid(map_)
    svg = to_svg(map_)

    assert "\nflowchart TD\n" in mermaid
    assert all(f"<b>{label}</b>" in mermaid for label in labels)
    groups = _step_groups(svg)
    assert sorted(groups) == sorted(labels)
    assert all(
        group.get("role") == "img" and group.get("aria-label", "").startswith(label) for label, group in groups.items()
    )
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text.startswith(f"Map {map_.id}: ")
    desc = root.find(f"{SVG}desc").text
    assert f"{len(labels)} steps. " in desc and "Contacts enter on: " in desc


def test_given_the_welcome_map_when_drawn_then_its_condition_and_its_wait_are_in_words():
    """GIVEN welcome-leads WHEN drawn as Mermaid THEN the branch says what it tests, the wait
    how long and until when, and the nudge its delay and its only_if."""
    mermaid = to_mermaid(load_map(WELCOME))

    assert "if opened email 'welcome-email' or clicked link 'welcome-email'" in mermaid
    assert "wait 2 days, then the next 09:00 in the contact's timezone (else America/New_York)" in mermaid
    assert "runs after 4 hours<br/>only if field age #gt; 45" in mermaid
    assert "form submitted: newsletter" in mermaid
    assert 's3 -->|"yes"| s4' in mermaid and 's3 -->|"no"| s5' in mermaid


def test_given_counts_when_drawn_then_each_step_carries_its_numbers():
    """GIVEN counts per step (the steps of stats.read_map) WHEN drawn THEN each step shows its
    numbers, a rate as a percentage beside its count, in both formats."""
    map_ = load_map(WELCOME)

    mermaid = to_mermaid(map_, COUNTS)
    groups = _step_groups(to_svg(map_, COUNTS))

    assert "<i>waiting 0 · done 120 · skipped 0 · failed 0</i>" in mermaid
    assert "<i>done 118 · failed 2</i><br/><i>sent 118 · opened 50 (42%)</i>" in mermaid
    assert groups["two-days-later"].get("aria-label").endswith("(waiting 37 · done 81)")
    texts = ["".join(t.itertext()) for t in groups["welcome-email"].iter(f"{SVG}text")]
    assert texts[-2:] == ["done 118 · failed 2", "sent 118 · opened 50 (42%)"]
    assert "sent" not in groups["thank-you-sms"].get("aria-label")


def test_given_a_map_when_drawn_twice_and_in_another_process_then_the_bytes_are_the_same():
    """GIVEN a map WHEN drawn twice, and again in a process with another hash seed THEN the
    output is byte for byte the same (the files in docs/graphs/ do not churn)."""
    map_ = load_map(ROOT / "maps/lead-nurture.yaml")
    script = (
        "import sys; from automaps.maps.graph import to_svg, to_mermaid; from automaps.maps.loader import load_map;"
        f"m = load_map({str(ROOT / 'maps/lead-nurture.yaml')!r}); sys.stdout.write(to_svg(m) + to_mermaid(m))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": f"{ROOT / 'layers/automaps'}:{ROOT / 'local'}"}

    other = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)

    assert to_svg(map_) == to_svg(map_)
    assert other.stdout == to_svg(map_) + to_mermaid(map_)


HOSTILE = """\
id: hostile
name: "Tom & Jerry's <script>alert(1)</script> \\"map\\""
description: "a ]]> b --> c"
triggers:
  - tag_added: {tag: "x\\"><script>"}
steps:
  - id: check
    if: {has_tag: "a<b&c\\"d'e"}
    then:
      - send_sms: {text: "</text><script>alert('x')</script> #quot; ` & done"}
"""


def test_given_labels_with_markup_characters_when_drawn_then_they_are_text_not_markup(tmp_path):
    """GIVEN a map whose name, trigger, condition value and text hold < & " ' and markup WHEN
    drawn THEN the SVG parses, holds no script element, and shows the characters as written;
    the Mermaid labels hold no raw quote or angle bracket of theirs."""
    path = tmp_path / "hostile.yaml"
    path.write_text(HOSTILE)
    map_ = load_map(path)

    svg = to_svg(map_)
    mermaid = to_mermaid(map_)

    root = ET.fromstring(svg)
    assert not [element for element in root.iter() if element.tag.endswith("script")]
    assert root.find(f"{SVG}title").text == 'Map hostile: Tom & Jerry\'s <script>alert(1)</script> "map"'
    check = _step_groups(svg)["check"]
    assert check.get("aria-label") == "check: if has tag 'a<b&c\"d'e'"
    assert "a<b&c\"d'e" in "".join(check.itertext())
    assert "<script" not in mermaid and "a#lt;b#amp;c#quot;d'e" in mermaid
    assert "#35;quot;" in mermaid  # a '#' of the text cannot start an entity code
    assert yaml.safe_load(mermaid.split("---")[1])["title"] == map_.name


def test_given_a_go_to_back_when_drawn_then_it_is_an_edge_back_to_its_target():
    """GIVEN loop-journey (a go_to back to 'remind') WHEN drawn THEN the go_to step points back
    at its target with a dashed edge, in Mermaid and in the SVG."""
    map_ = load_map(ROOT / "tests/e2e/maps/loop-journey.yaml")

    mermaid = to_mermaid(map_)
    root = ET.fromstring(to_svg(map_))

    assert "<b>again</b><br/>go to remind" in mermaid
    assert '-.->|"go to"| s0' in mermaid
    [back] = [p for p in root.iter(f"{SVG}path") if "back" in (p.get("class") or "").split()]
    assert back.find(f"{SVG}title").text == "from again to remind: go to"


def test_given_a_step_that_adds_to_another_map_when_drawn_then_the_other_map_is_a_node_with_the_return():
    """GIVEN lead-nurture (add_to_automation customer-onboarding, return: true) WHEN drawn THEN
    the other map is a node, linked by 'adds to' and 'comes back'; its goal is drawn too."""
    mermaid = to_mermaid(load_map(ROOT / "maps/lead-nurture.yaml"))

    assert 'm0[["<b>map customer-onboarding</b><br/>another map"]]' in mermaid
    assert '-.->|"adds to"| m0' in mermaid and 'm0 -.->|"comes back"|' in mermaid
    assert "<b>goal bought</b>" in mermaid or "<b>bought</b><br/>goal: event purchase.made" in mermaid


def test_given_the_cli_when_drawing_to_a_file_then_the_suffix_picks_the_format_and_check_finds_it_stale(tmp_path):
    """GIVEN automaps graph WHEN -o ends in .svg THEN an SVG is written; --check exits 0 while
    it is current and 1 once the file differs; a map with errors exits 2."""
    out = tmp_path / "welcome.svg"

    assert main(["graph", str(WELCOME), "-o", str(out)]) == 0
    assert out.read_text().startswith("<svg ")
    assert main(["graph", str(WELCOME), "-o", str(out), "--check"]) == 0
    out.write_text(out.read_text().replace("welcome-email", "welcome"))
    assert main(["graph", str(WELCOME), "-o", str(out), "--check"]) == 1
    assert main(["graph", str(tmp_path / "missing.yaml")]) == 2
    assert main(["graph", str(WELCOME), "-o", str(tmp_path / "welcome.md")]) == 0
    assert (tmp_path / "welcome.md").read_text().startswith("```mermaid\n---\ntitle: ")


def test_given_the_committed_graphs_then_they_are_what_automaps_graph_draws_now():
    """GIVEN docs/graphs/welcome-leads.svg and .mmd WHEN checked THEN they are current
    (regenerate: automaps graph maps/welcome-leads.yaml -o docs/graphs/welcome-leads.svg, and .mmd)."""
    for suffix in (".svg", ".mmd"):
        assert main(["graph", str(WELCOME), "-o", str(GRAPHS / f"welcome-leads{suffix}"), "--check"]) == 0


def test_given_counts_of_steps_the_map_no_longer_has_or_odd_values_then_they_are_left_out():
    """GIVEN counts for a removed step, a step whose numbers are not a mapping, and values that
    are not numbers WHEN drawn THEN the map draws, showing only the numbers it can."""
    counts = {"removed-step": {"done": 3}, "tag-lead": None, "welcome-email": {"done": 2, "sent": "2", "x": True}}

    groups = _step_groups(to_svg(load_map(WELCOME), counts))  # type: ignore[arg-type]

    assert groups["welcome-email"].get("aria-label").endswith("(done 2)")  # (nor a 0 of a count not always shown)
    assert not groups["tag-lead"].get("aria-label").endswith(")")
    assert "removed-step" not in groups


def test_given_every_kind_of_step_when_drawn_then_each_says_what_it_does_in_words():
    """GIVEN the every-step fixture WHEN drawn as Mermaid THEN dates, offsets, windows, weekdays and
    timezones of waits and `when`, switch cases, fork branches, goals, wait_until and the map's goal
    are all in words."""
    mermaid = to_mermaid(load_map(FIXTURES / "every-step.yaml")).replace("<br/>", " ")

    assert "runs at 2026-12-24T09:00:00+01:00" in mermaid
    assert "runs 1 hour before the contact's field webinar_at, skipped if already past" in mermaid
    assert "runs inside 09:00-17:00 on mon, tue, wed, thu, fri in the contact's timezone (else Europe/Paris)" in mermaid
    assert "wait 1 day 12 hours" in mermaid and "wait until 2027-01-04T08:00:00Z" in mermaid
    assert "-->|\"has tag 'vip'\"|" in mermaid and '-->|"otherwise"|' in mermaid
    assert '-->|"branch 1"|' in mermaid and '-->|"branch 2"|' in mermaid
    assert "goal: has tag 'customer'; at most 3 days, then go on" in mermaid
    assert (
        "wait until event purchase.made, cart_id = #quot;{{ event.cart_id }}#quot;; at most 2 hours, then leave the map"
        in mermaid
    )
    assert "anywhere in the map: event purchase.refunded, then leave the map" in mermaid
    assert "wait until the next 09:30 on mon, tue, wed, thu, fri in the contact's timezone" in mermaid
    assert "wait until 1 week before the contact's field renews_at, skipped if already past" in mermaid
    assert "end: leaves the map" in mermaid


def test_given_the_counts_stats_reads_then_zeros_of_rare_counts_and_raw_totals_are_left_out():
    """GIVEN a step's counts as stats.read_map gives them (every counter, mostly 0) WHEN drawn THEN
    outcomes and sends/opens/clicks show even at 0, the other counters only when not 0, and the
    raw totals (opens, clicks) behind the unique counts not at all."""
    read = {"waiting": 0, "done": 3, "skipped": 0, "failed": 0, "unknown": 0, "deferred": 1, "sent": 3,
            "delivered": 0, "opened": 0, "clicked": 0, "bounced": 1, "complained": 0, "unsubscribed": 0,
            "opens": 0, "clicks": 0, "channel": "email", "rates": {"opened": 0.0, "bounced": 1 / 3}}

    mermaid = to_mermaid(load_map(WELCOME), {"nudge-email": read})

    assert ("<i>waiting 0 · done 3 · skipped 0 · failed 0</i><br/>"
            "<i>sent 3 · opened 0 (0%) · clicked 0 · bounced 1 (33%)</i><br/><i>deferred 1</i>") in mermaid
