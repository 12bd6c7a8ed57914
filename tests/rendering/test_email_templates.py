"""Email templates are data: the shipped ones are valid, and stored ones load by name."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import yaml

from automaps.store.content import ContentStore
from automaps.rendering import (EmailTemplate, MissingField, TemplateProblem, UnknownTemplate,
                                load_email_template, merge_context, render)
from tests.conftest import ROOT

TEMPLATES = sorted((ROOT / "content" / "templates").glob("*.yaml"))


@dataclass
class PlainContact:
    id: str = "c_1"
    fields: dict = field(default_factory=dict)
    tags: set = field(default_factory=set)


def render_all(template: EmailTemplate, fields: dict) -> list[str]:
    context = merge_context(PlainContact(fields=fields))
    return [render(template.subject, context), render(template.html, context, html=True),
            render(template.text or "", context)]


def test_the_shipped_templates_are_the_ones_the_maps_use():
    from automaps.maps.loader import load_maps
    from automaps.maps.model import walk

    used = {ref.step.send_email.template for m in load_maps(ROOT / "maps") for ref in walk(m)
            if getattr(ref.step, "kind", "") == "send_email" and ref.step.send_email.template}
    assert [path.stem for path in TEMPLATES] == sorted(used)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_given_a_shipped_template_when_rendered_for_a_full_contact_then_the_name_appears(path):
    template = EmailTemplate.model_validate(yaml.safe_load(path.read_text()))

    subject, html, text = render_all(template, {
        "first_name": "Jane", "webinar_at": "2026-12-03T17:00:00Z", "timezone": "Europe/Paris"})

    assert "Jane" in html and "{{" not in html + text + subject


def test_given_the_webinar_confirmation_when_rendered_then_the_time_is_in_the_contacts_timezone():
    template = EmailTemplate.model_validate(
        yaml.safe_load((ROOT / "content/templates/webinar-confirmation.yaml").read_text()))

    _, html, text = render_all(template, {"first_name": "Jane", "webinar_at": "2026-12-03T17:00:00Z",
                                          "timezone": "Europe/Paris"})

    assert "Thursday 03 December 2026 at 18:00 CET" in text


def test_given_the_welcome_template_when_the_contact_has_no_first_name_then_the_default_greets_them():
    template = EmailTemplate.model_validate(yaml.safe_load((ROOT / "content/templates/welcome.yaml").read_text()))

    subject, _, _ = render_all(template, {})

    assert subject == "Welcome aboard, there!"


def test_given_the_webinar_confirmation_when_the_date_is_missing_then_it_is_named():
    template = EmailTemplate.model_validate(
        yaml.safe_load((ROOT / "content/templates/webinar-confirmation.yaml").read_text()))

    with pytest.raises(MissingField) as missing:
        render(template.text, merge_context(PlainContact(fields={"first_name": "Jane"})))
    assert missing.value.names == ["contact.webinar_at"]


def test_given_a_stored_template_when_loaded_by_name_then_it_comes_back_validated(aws):
    ContentStore().put("TEMPLATE", "welcome", {"subject": "Hi", "html": "<p>Hi</p>"})

    template = load_email_template("welcome")

    assert template == EmailTemplate(subject="Hi", html="<p>Hi</p>")
    assert template.marketing is True and template.text is None


def test_given_no_such_template_when_loaded_then_the_error_names_it(aws):
    with pytest.raises(UnknownTemplate, match="'spring-sale'"):
        load_email_template("spring-sale")


def test_given_a_stored_template_with_a_typo_when_loaded_then_the_error_names_template_and_field(aws):
    ContentStore().put("TEMPLATE", "welcome", {"subjcet": "Hi", "html": "<p>Hi</p>"})

    with pytest.raises(TemplateProblem) as problem:
        load_email_template("welcome")
    assert "'welcome'" in str(problem.value) and "subjcet" in str(problem.value)
