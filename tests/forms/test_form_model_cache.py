"""A form's submission model is built once per definition, not on every post (issue 12: local
and Lambda time per post), and an edited form is validated by its new definition at once."""

from __future__ import annotations

import json

import pytest
import yaml

from automaps.intake import forms
from automaps.store.content import ContentStore
from functions.public_api import app
from tests.conftest import ROOT, load_event


def newsletter() -> dict:
    return yaml.safe_load((ROOT / "content/forms/newsletter.yaml").read_text())


def test_given_one_form_definition_when_posts_are_validated_then_its_model_is_built_once():
    # GIVEN the newsletter form (as loaded on each post: a new FormDefinition object each time)
    first = forms.FormDefinition.model_validate(newsletter())
    second = forms.FormDefinition.model_validate(newsletter())
    forms._model_of.cache_clear()

    # WHEN two posts are validated
    forms.validate(first, {"email": "ada@example.com", "age": "52"})
    values = forms.validate(second, {"email": "bob@example.com", "age": "41"})

    # THEN one model was built and used for both, and it still types and cleans the values
    assert forms._submission_model(first) is forms._submission_model(second)
    assert forms._model_of.cache_info().misses == 1 and forms._model_of.cache_info().hits >= 2
    assert values == {"email": "bob@example.com", "age": 41}


def test_given_a_form_edited_after_a_post_then_the_next_post_is_validated_by_the_new_definition(aws, lambda_context):
    # GIVEN the newsletter form, and a post accepted by it
    ContentStore().put("FORM", "newsletter", newsletter())
    event = load_event("form_post_json.json")
    assert app.lambda_handler(event, lambda_context)["statusCode"] == 202

    # WHEN the form is pushed again with a new required field
    edited = newsletter()
    edited["fields"].append({"name": "company", "type": "text", "required": True})
    ContentStore().put("FORM", "newsletter", edited)

    # THEN a post without it is refused, naming the field (the old model is not reused)
    refused = app.lambda_handler({**event, "body": json.dumps({"email": "new@example.com"})}, lambda_context)
    assert refused["statusCode"] == 400
    assert "company" in refused["body"]
    # AND a post with it is accepted
    body = json.dumps({"email": "new@example.com", "company": "Acme"})
    assert app.lambda_handler({**event, "body": body}, lambda_context)["statusCode"] == 202


@pytest.mark.parametrize("field_type", ["number", "checkbox"])
def test_given_two_forms_whose_field_differs_in_type_then_each_validates_with_its_own_model(field_type):
    # GIVEN two definitions of one form id whose "extra" field differs only in type
    text = forms.FormDefinition.model_validate(
        {**newsletter(), "fields": [{"name": "email", "type": "email"}, {"name": "extra", "type": "text"}]}
    )
    typed = forms.FormDefinition.model_validate(
        {**newsletter(), "fields": [{"name": "email", "type": "email"}, {"name": "extra", "type": field_type}]}
    )

    # THEN the same value is text for one and refused as not a number / not a checkbox for the other
    assert forms.validate(text, {"email": "ada@example.com", "extra": "maybe"})["extra"] == "maybe"
    with pytest.raises(forms.InvalidSubmission) as refused:
        forms.validate(typed, {"email": "ada@example.com", "extra": "maybe"})
    assert refused.value.errors[0]["field"].endswith("extra")
