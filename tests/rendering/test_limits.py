"""Templates are user content: rendering one cannot burn the function's CPU or memory, and every
use of a missing merge field (filters, loops) follows the missing-fields policy."""

from __future__ import annotations

import time

import pytest

from automaps.rendering import (MAX_LOOP_ITERATIONS, MAX_OUTPUT, MissingField, TemplateProblem, TemplateTooBig,
                                merge_context, render)
from tests.rendering.test_render import PlainContact

SECONDS = 0.5   # "fails fast": each refusal takes far less (about a millisecond here)


def context(**fields) -> dict:
    return merge_context(PlainContact(fields=fields, tags={"vip", "lead"}))


def refused(template: str, **fields) -> tuple[TemplateTooBig, float]:
    started = time.process_time()
    with pytest.raises(TemplateTooBig) as caught:
        render(template, context(**fields), where="email template 'promo'")
    return caught.value, time.process_time() - started


# ------------------------------------------------------------------ size and CPU


def test_given_a_billion_character_string_when_rendered_then_it_is_refused_at_once_as_a_template_problem():
    problem, seconds = refused("{{ 'x' * 10**9 }}")

    assert isinstance(problem, TemplateProblem)
    assert str(problem) == ("email template 'promo': repeating str 1,000,000,000 times would exceed the limit of "
                            "1,000,000 characters")
    assert seconds < SECONDS


@pytest.mark.parametrize(("template", "says"), [
    ("{{ 10**9 * 'x' }}", "repeating str"),
    ("{{ ['x'] * 10**9 }}", "repeating list 1,000,000,000 times would exceed the limit of 10,000 items"),
    ("{{ 2 ** 100000 }}", "2 ** 100000 would exceed the limit of 4,096 bits"),
    ("{{ 'x' | center(10**9) }}", "| center with 1000000000"),
    ("{{ 'x' | indent(10**9, true) }}", "| indent with 1000000000"),
    ("{{ 'x'.ljust(10**9) }}", "calling ljust with 1000000000"),
    ("{{ '{:>1000000000}'.format('x') }}", "a format width"),
    ("{{ '{:>{w}}'.format('x', w=10**9) }}", "calling format with 1000000000"),
    ("{{ '%-1000000000s' % 'x' }}", "a format width"),
    ("{{ '%*s' % (10**9, 'x') }}", "% with 1000000000"),
    ("{{ '%-1000000000s' | format('x') }}", "a format width"),
    ("{% set a = 'x' * 999999 %}{{ a ~ a }}", "a concatenation (~)"),
    ("{% set a = 'x' * 999999 %}{{ a + a }}", "+ would exceed"),
    ("{% set a = 'x' * 999999 %}{{ [a, a] | join }}", "| join would exceed"),
])
def test_given_an_expression_building_too_much_when_rendered_then_it_is_refused_before_building_it(template, says):
    problem, seconds = refused(template)

    assert says in str(problem)
    assert seconds < SECONDS


def test_given_output_over_the_cap_when_rendered_then_it_is_refused_while_streaming():
    half = MAX_OUTPUT // 2 + 1
    problem, _ = refused(f"{{% set a = 'x' * {half} %}}{{{{ a }}}}{{{{ a }}}}")

    assert "the rendered text would exceed the limit of 1,000,000 characters" in str(problem)
    assert len(render(f"{{{{ 'x' * {MAX_OUTPUT} }}}}", context())) == MAX_OUTPUT, "up to the cap is fine"


def test_given_loops_over_the_iteration_cap_when_rendered_then_they_are_refused():
    problem, seconds = refused("{% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}")

    assert "the loops would exceed the limit of 10,000 iterations" in str(problem)
    assert seconds < SECONDS
    assert "range(1000000000,)" in str(refused("{% for i in range(10**9) %}{% endfor %}")[0])
    assert len(render(f"{{% for i in range({MAX_LOOP_ITERATIONS}) %}}.{{% endfor %}}", context())) == \
        MAX_LOOP_ITERATIONS, "up to the cap is fine"


def test_given_a_macro_that_calls_itself_forever_when_rendered_then_it_is_a_template_problem():
    with pytest.raises(TemplateProblem, match="recursion"):
        render("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", context())


# ------------------------------------------------------------------ missing fields in filters and loops


@pytest.mark.parametrize("template", [
    "{{ contact.interests | length }}",
    "{{ contact.interests | join(', ') }}",
    "{{ contact.interests | list }}",
    "{{ contact.interests | first }}",
    "{{ contact.interests | sort | join }}",
    "{% for i in contact.interests %}{{ i }}{% endfor %}",
    "{{ contact.interests | count }}",
    "{{ contact.interests | int }}",
    "{{ contact.interests | upper }}",
    "Hi {{ 'dear ' ~ contact.interests }}",
])
def test_given_a_filter_or_loop_over_a_missing_field_when_rendered_then_the_field_is_named_not_blank(template):
    with pytest.raises(MissingField) as caught:
        render(template, context(first_name="Ann"))

    assert caught.value.names == ["contact.interests"]


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ contact.interests | default([]) | length }}", "0"),
    ("{{ contact.interests | default(['news']) | join(', ') }}", "news"),
    ("{% for t in contact.tags %}{{ loop.index }}:{{ t }} {% endfor %}", "1:lead 2:vip "),
    ("{{ contact.tags | map('upper') | join(',') }}", "LEAD,VIP"),
    ("{% if contact.interests is defined %}{{ contact.interests | join }}{% else %}none{% endif %}", "none"),
    ("{{ contact.first_name ~ '!' }}", "Ann!"),
    ("{{ '%5s|' % contact.first_name }}", "  Ann|"),
])
def test_given_a_missing_field_handled_by_default_or_a_test_when_rendered_then_it_renders(template, expected):
    assert render(template, context(first_name="Ann")) == expected
