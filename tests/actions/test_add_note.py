"""add_note: the rendered note is added once per visit of the step."""

from __future__ import annotations

from automaps.journeys.steps import TaskEvent
from functions.add_note import app
from tests.actions.conftest import event_for, kinds, retried_alike


def test_given_a_contact_when_a_note_is_added_then_its_merge_fields_are_rendered(store, contact, lambda_context):
    event = event_for("add_note", contact)

    result = app.lambda_handler(event, lambda_context)

    (note,) = store.notes(contact.id)
    assert note["text"] == "Signed up as Jane via the newsletter form"
    assert note["note_id"] == TaskEvent.model_validate(event).idempotency_key == result["detail"]["note_id"]
    (added,) = store.history(contact.id, kinds=["note.added"])
    assert added.detail == {"note_id": note["note_id"]} and added.step_id == "note-signup"


def test_given_a_note_was_added_when_the_visit_is_retried_then_there_is_still_one_note(store, contact,
                                                                                       lambda_context):
    event = event_for("add_note", contact)
    first = app.lambda_handler(event, lambda_context)

    again = app.lambda_handler(event, lambda_context)

    assert retried_alike(again, first)
    assert len(store.notes(contact.id)) == 1
    assert kinds(store, contact).count("note.added") == 1
    assert kinds(store, contact).count("step.done") == 1


def test_given_the_step_is_visited_again_later_then_a_second_note_is_added(store, contact, lambda_context, clock):
    app.lambda_handler(event_for("add_note", contact), lambda_context)
    clock.advance(days=7)

    app.lambda_handler(event_for("add_note", contact, state_entered_time="2026-11-09T08:00:03.012Z"), lambda_context)

    assert [n["at"] for n in store.notes(contact.id)] == ["2026-11-02T08:00:00Z", "2026-11-09T08:00:00Z"]
