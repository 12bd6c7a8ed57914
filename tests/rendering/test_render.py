"""Merge fields: sandboxed, escaped where HTML, and never sent blank when a field is missing."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from jinja2.sandbox import SecurityError

from automaps import rendering
from automaps.rendering import (MissingField, TemplateProblem, TemplateSyntaxProblem, UnsafeTemplate,
                                html_to_text, merge_context, render)


@dataclass
class PlainContact:
    """The three attributes merge_context reads from a contact."""

    id: str = "c_1"
    fields: dict = field(default_factory=dict)
    tags: set = field(default_factory=set)


def context(**fields) -> dict:
    return merge_context(PlainContact(fields=fields, tags={"vip", "lead"}),
                         event={"form": "newsletter"}, offer={"code": "WELCOME10"})


# ------------------------------------------------------------------ values and defaults

def test_given_a_contact_when_merge_fields_are_rendered_then_the_values_appear():
    text = render("Hi {{ contact.first_name }}, code {{ offer.code }} from {{ event.form }} "
                  "({{ contact.id }}; {{ contact.tags | join(',') }})", context(first_name="Jane"))

    assert text == "Hi Jane, code WELCOME10 from newsletter (c_1; lead,vip)"


def test_given_a_missing_field_with_a_default_when_rendered_then_the_default_is_used():
    text = render("Hi {{ contact.first_name | default('friend') }}, "
                  "{{ event.order.id | default('no order') }}", context())

    assert text == "Hi friend, no order"


def test_given_a_field_that_is_present_but_empty_when_rendered_then_it_counts_as_missing():
    assert render("Hi {{ contact.first_name | default('friend') }}", context(first_name="  ")) == "Hi friend"
    with pytest.raises(MissingField) as missing:
        render("Hi {{ contact.first_name }}", context(first_name=""))
    assert missing.value.names == ["contact.first_name"]


def test_given_a_missing_field_used_in_a_condition_when_rendered_then_it_is_simply_false():
    text = render("Hello{% if contact.company %} from {{ contact.company }}{% endif %}!", context())

    assert text == "Hello!"


def test_given_a_field_named_like_a_dict_method_when_rendered_then_the_field_value_is_used():
    assert render("{{ contact.items }} {{ contact['keys'] }}", context(items="3 items", keys="k")) == "3 items k"


# ------------------------------------------------------------------ missing fields

def test_given_fields_without_defaults_are_missing_when_rendered_then_all_are_named_and_nothing_is_returned():
    with pytest.raises(MissingField) as missing:
        render("Hi {{ contact.first_name }}, your {{ offer.product.name }} and {{ contact.first_name }} "
               "{{ contact.last_name | upper }}", context(), where="email template 'welcome' (subject)")

    assert missing.value.names == ["contact.first_name", "offer.product.name", "contact.last_name"]
    assert "email template 'welcome' (subject)" in str(missing.value)


@pytest.mark.parametrize("template, name", [
    ("{{ contact.age + 1 }}", "contact.age"),
    ("{{ unknown_variable }}", "unknown_variable"),
    ("{{ contact['zip'] }}", "contact.zip"),
    ("{{ event.order.total * 2 }}", "event.order.total"),
])
def test_given_a_missing_field_in_an_expression_when_rendered_then_it_is_named(template, name):
    with pytest.raises(MissingField) as missing:
        render(template, context())
    assert missing.value.names == [name]


def test_given_html_when_a_field_is_missing_then_it_is_detected_too():
    with pytest.raises(MissingField) as missing:
        render("<p>Hi {{ contact.first_name }}</p>", context(), html=True)
    assert missing.value.names == ["contact.first_name"]


# ------------------------------------------------------------------ escaping

def test_given_contact_data_with_markup_when_rendered_as_html_then_it_is_escaped():
    html = render("<p>Hi {{ contact.first_name }}</p>", context(first_name='<script>alert("x")</script>&'),
                  html=True)

    assert html == "<p>Hi &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;</p>"


def test_given_contact_data_with_markup_when_rendered_as_text_then_it_is_left_alone():
    assert render("Hi {{ contact.first_name }}", context(first_name="Tom & Jerry <3")) == "Hi Tom & Jerry <3"


# ------------------------------------------------------------------ the sandbox

@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ contact.first_name.__class__ }}",
    "{{ contact.__class__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ missing_name.__class__ }}",
])
def test_given_a_template_reaching_for_python_internals_when_rendered_then_a_security_error_is_raised(template):
    with pytest.raises(SecurityError):
        render(template, context(first_name="Jane"))


def test_given_a_template_that_mutates_its_data_when_rendered_then_it_is_refused():
    with pytest.raises(UnsafeTemplate):
        render("{{ contact.tags.append('owned') }}", context())


# ------------------------------------------------------------------ broken templates

def test_given_a_syntax_error_when_rendered_then_the_problem_names_the_template_and_line():
    with pytest.raises(TemplateSyntaxProblem) as problem:
        render("Hello\n{{ contact.first_name ", context(), where="email template 'nudge' (html)")

    assert problem.value.line == 2
    assert str(problem.value).startswith("email template 'nudge' (html), line 2:")
    assert isinstance(problem.value, ValueError)


def test_given_a_template_that_fails_whatever_the_contact_when_rendered_then_it_is_a_template_problem():
    with pytest.raises(TemplateProblem):
        render("{{ 1 / 0 }}", context())


def test_given_the_same_template_twice_when_rendered_then_it_is_compiled_once():
    rendering._compiled.cache_clear()
    for name in ("Ann", "Bob"):
        render("Hi {{ contact.first_name }} (cache test)", context(first_name=name))

    info = rendering._compiled.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    assert info.maxsize == rendering.TEMPLATE_CACHE_SIZE


# ------------------------------------------------------------------ html to text

def test_given_an_html_body_when_converted_to_text_then_blocks_become_lines_and_links_show_urls():
    text = html_to_text("<html><head><style>p{}</style></head><body><h1>Welcome &amp; hello</h1>"
                        "<p>Read <a href=\"https://x.test/guide\">the guide</a>.</p><ul><li>one</li>"
                        "<li>two</li></ul></body></html>")

    assert text == "Welcome & hello\n\nRead the guide (https://x.test/guide).\n\n- one\n- two\n"


# ------------------------------------------------------------------ helpers for callers

def test_given_templates_when_their_variables_are_listed_then_only_top_level_names_used_come_back():
    used = rendering.referenced_variables("Hi {{ contact.first_name }}",
                                          "{% if event.form %}{{ unsubscribe_url }}{% endif %}", None, "{{ broken")

    assert used == {"contact", "event", "unsubscribe_url"}


def test_given_a_date_field_when_formatted_then_it_shows_in_the_contacts_timezone():
    text = render("{{ contact.webinar_at | datetime('%d %b %H:%M %Z', contact.timezone) }}",
                  context(webinar_at="2026-07-01T16:30:00Z", timezone="America/New_York"))

    assert text == "01 Jul 12:30 EDT"


def test_given_an_unknown_timezone_when_a_date_is_formatted_then_it_shows_in_utc():
    assert render("{{ contact.at | datetime('%H:%M %Z', 'Mars/Olympus') }}",
                  context(at="2026-07-01T16:30:00+00:00")) == "16:30 UTC"


def test_given_a_missing_date_field_when_formatted_then_it_is_named():
    with pytest.raises(MissingField) as missing:
        render("{{ contact.webinar_at | datetime }}", context())
    assert missing.value.names == ["contact.webinar_at"]


def test_given_a_date_field_that_is_not_a_date_when_formatted_then_it_is_a_template_problem():
    with pytest.raises(TemplateProblem, match="not a date-time"):
        render("{{ contact.webinar_at | datetime }}", context(webinar_at="next tuesday"))
