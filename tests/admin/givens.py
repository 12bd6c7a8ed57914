"""Givens of the admin API specifications: tasks assigned by the assign_task step."""

from __future__ import annotations

from typing import Any

from automaps.store.contacts import Contact
from automaps.journeys.steps import TaskEvent
from automaps.store.tasks import Task, TaskStore, task_id_for
from functions.assign_task import app as assign_task
from tests.conftest import FakeLambdaContext, load_event


def assigned(contact: Contact, *, state_entered_time: str = "2026-11-02T08:00:03.000Z", **settings: Any) -> Task:
    """GIVEN the assign_task step ran for ``contact`` (fixture settings, with ``settings`` changed)."""
    event = load_event("assign_task.json")
    event = {**event, "contact_id": contact.id, "state_entered_time": state_entered_time,
             "execution_id": f"{event['execution_id']}-{contact.id}",  # one execution per contact
             "settings": {**event["settings"], **settings}}
    assert assign_task.lambda_handler(event, FakeLambdaContext())["outcome"] == "done"
    task = TaskStore().get(task_id_for(contact.id, TaskEvent.model_validate(event).idempotency_key))
    assert task is not None
    return task
