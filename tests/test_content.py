"""Content (templates, forms, the map registry) is data in the content table."""

from automaps.store.content import ContentStore


def test_given_a_stored_template_when_it_is_read_back_then_nested_values_round_trip(aws):
    store = ContentStore()
    store.put("TEMPLATE", "welcome", {"subject": "Hi {{ contact.first_name }}", "weights": [1, 2.5], "n": 3})

    assert store.get("TEMPLATE", "welcome") == {"subject": "Hi {{ contact.first_name }}", "weights": [1, 2.5], "n": 3}
    assert store.get("TEMPLATE", "missing") is None


def test_given_items_of_several_kinds_when_one_kind_is_listed_then_only_that_kind_comes_back(aws):
    store = ContentStore()
    store.put("FORM", "newsletter", {"fields": []})
    store.put("FORM", "webinar", {"fields": []})
    store.put("TEMPLATE", "welcome", {"subject": "x"})

    assert sorted(store.list("FORM")) == ["newsletter", "webinar"]
