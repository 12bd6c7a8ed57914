"""update_contact: literal values, merge fields, relative dates and clearing, recorded by name."""

from __future__ import annotations

from functions.update_contact import app
from tests.actions.conftest import event_for, kinds, retried_alike


def test_given_a_contact_when_fields_are_updated_then_values_merge_fields_and_dates_are_stored(
        store, contact, lambda_context, clock):
    result = app.lambda_handler(event_for("update_contact", contact), lambda_context)

    assert result["outcome"] == "done"
    fields = store.get(contact.id).fields
    assert fields["lifecycle"] == "lead"
    assert fields["greeting"] == "Hello Jane"
    assert fields["welcomed_at"] == "2026-11-02T08:00:00Z"
    assert fields["trial_ends_at"] == "2026-11-16T08:00:00Z"
    assert "cold_reason" not in fields
    (updated,) = store.history(contact.id, kinds=["contact.updated"])
    assert updated.detail == {"set": ["greeting", "lifecycle", "trial_ends_at", "welcomed_at"],
                              "cleared": ["cold_reason"]}


def test_given_a_relative_date_in_the_past_when_set_then_it_is_utc_with_a_trailing_z(store, contact, lambda_context,
                                                                                     clock):
    event = event_for("update_contact", contact, settings={"set": {"last_seen": {"ago": {"hours": 2, "minutes": 30}}}})

    app.lambda_handler(event, lambda_context)

    assert store.get(contact.id).fields["last_seen"] == "2026-11-02T05:30:00Z"


def test_given_the_trigger_event_when_a_merge_field_reads_it_then_its_value_is_stored(store, contact, lambda_context):
    event = event_for("update_contact", contact, settings={"set": {"plan": "{{ event.fields.plan }}"}})

    app.lambda_handler(event, lambda_context)

    assert store.get(contact.id).fields["plan"] == "pro"


def test_given_the_update_ran_when_the_visit_is_retried_then_nothing_changes_again(store, contact, lambda_context,
                                                                                  clock):
    event = event_for("update_contact", contact)
    first = app.lambda_handler(event, lambda_context)
    version = store.get(contact.id).version
    clock.advance(seconds=4)

    assert retried_alike(app.lambda_handler(event, lambda_context), first)
    assert store.get(contact.id).version == version
    assert store.get(contact.id).fields["welcomed_at"] == "2026-11-02T08:00:00Z"
    assert kinds(store, contact).count("step.done") == 1
    assert kinds(store, contact).count("contact.updated") == 1


def test_given_a_customer_when_only_if_excludes_customers_then_the_update_is_skipped(store, contact, lambda_context):
    store.change_tags(contact.id, add=["customer"])

    result = app.lambda_handler(event_for("update_contact", contact), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "only_if not met")
    assert "lifecycle" not in store.get(contact.id).fields
    (skipped,) = store.history(contact.id, kinds=["step.skipped"])
    assert skipped.detail["only_if"] == {"not": {"has_tag": "customer"}}
    assert skipped.detail["inputs"][0]["has_tag"] == "customer" and skipped.detail["inputs"][0]["result"] is True


def test_given_a_missing_merge_field_when_the_policy_is_skip_then_the_step_is_skipped_naming_it(
        store, contact, lambda_context):
    event = event_for("update_contact", contact, settings={"set": {"title": "Dear {{ contact.company }}"}})

    result = app.lambda_handler(event, lambda_context)

    assert result["outcome"] == "skipped" and "contact.company" in result["reason"]
    assert result["detail"] == {"missing": ["contact.company"]}
    assert "title" not in store.get(contact.id).fields
    assert store.history(contact.id, kinds=["step.skipped"])[0].detail["missing"] == ["contact.company"]


def test_given_a_missing_merge_field_when_the_policy_is_fail_then_the_step_fails_naming_it(
        store, contact, lambda_context):
    event = event_for("update_contact", contact, missing_fields="fail",
                      settings={"set": {"title": "Dear {{ contact.company }}"}})

    result = app.lambda_handler(event, lambda_context)

    assert result["outcome"] == "failed" and "contact.company" in result["reason"]
    assert "step.failed" in kinds(store, contact)


def test_given_an_address_of_another_contact_when_set_as_email_then_the_step_fails_and_nothing_changes(
        store, contact, lambda_context):
    store.upsert_by_email("sam@example.org", {})
    event = event_for("update_contact", contact, settings={"set": {"email": "SAM@example.org", "lifecycle": "x"}})

    result = app.lambda_handler(event, lambda_context)

    assert result["outcome"] == "failed"
    assert "S***@example.org already belongs to another contact" in result["reason"]
    assert store.get(contact.id).fields["email"] == "jane@example.com"
    assert store.find_by_email("sam@example.org").id != contact.id


def test_given_a_broken_merge_field_when_the_step_runs_then_it_fails_naming_the_setting(
        store, contact, lambda_context):
    event = event_for("update_contact", contact, settings={"set": {"title": "Dear {{ contact.first_name "}})

    result = app.lambda_handler(event, lambda_context)

    assert result["outcome"] == "failed"
    assert result["reason"].startswith("template problem: set.title of step 'mark-welcomed'")
    assert "title" not in store.get(contact.id).fields
