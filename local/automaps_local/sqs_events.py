"""Lambda's SQS poller, in-process: the template's ``Type: SQS`` events deliver to their functions.

moto's own event source mapping (``Queue.add_message`` -> ``send_sqs_batch``) deletes a whole
batch whenever the function returns, ignores ``batchItemFailures``, fakes the receive count and
never redelivers a failed message; so the runtime polls for it, as Lambda does:

* when a message is added to a queue an event source reads (``moto_patches`` calls
  :meth:`SqsDelivery.added` in the sender's thread, after moto stored it), the visible messages
  are received in batches (``BatchSize``, with their real attributes: ``ApproximateReceiveCount``,
  ``SentTimestamp``, ...) and the function is invoked before SendMessage returns;
* the answer decides: with ``ReportBatchItemFailures`` the ``batchItemFailures`` stay in the
  queue and the rest is deleted; a function error leaves the whole batch;
* what stays comes back once its visibility ends (the queue's ``VisibilityTimeout``, or what
  the function set with ChangeMessageVisibility): a poller thread sleeps on the virtual clock
  until the earliest message is visible again, as a clock participant, so ``run_until_settled``
  and ``--fast-forward`` wait for (and jump to) redeliveries like they do for Wait states.
  SQS's redrive policy applies on those receives (moto moves a message received
  ``maxReceiveCount`` times to the dead-letter queue).

Without a clock (``clock=None``: tests on plain moto) messages are delivered when they are sent
and never redelivered.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from automaps import aws
from automaps_local.clock import VirtualClock
from automaps_local.stack import ACCOUNT, REGION, SqsEventSource

LOG = logging.getLogger(__name__)

Invoker = Callable[[str, Any], Any]  # (function logical id, event) -> result
MAX_BATCHES_PER_DELIVERY = 1000


class SqsDelivery:
    def __init__(self, sources: list[SqsEventSource], invoker: Invoker, clock: VirtualClock | None = None) -> None:
        self.sources = {s.queue_name: s for s in sources if s.enabled}
        self.invoker = invoker
        self.clock = clock
        self._lock = threading.Lock()
        self._pollers: dict[str, threading.Thread] = {}
        self._closed = threading.Event()
        self.invocations = 0

    # ------------------------------------------------------------------ from moto_patches
    def added(self, queue_name: str) -> None:
        """A message was stored in ``queue_name`` (any thread): deliver what is visible now."""
        source = self.sources.get(queue_name)
        if source is None or self._closed.is_set():
            return
        with self.clock.hold() if self.clock else contextlib.nullcontext():
            try:
                self.deliver(source)
            except Exception as error:  # noqa: BLE001  (the poller's trouble, never the sender's: the message stays queued)
                LOG.warning("delivery from %s failed: %s: %s", source.queue_name, type(error).__name__, error)
            self._watch(source)

    # ------------------------------------------------------------------ one delivery
    def deliver(self, source: SqsEventSource) -> int:
        """Invoke the function with the queue's visible messages, batch after batch; returns the
        number of messages delivered."""
        sqs, delivered = aws.client("sqs"), 0
        for _ in range(MAX_BATCHES_PER_DELIVERY):
            messages = sqs.receive_message(
                QueueUrl=source.queue_url,
                MaxNumberOfMessages=min(10, source.batch_size),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not messages:
                break
            delivered += len(messages)
            failed = self._invoke(source, messages)
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                try:
                    sqs.delete_message_batch(
                        QueueUrl=source.queue_url,
                        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                    )
                except Exception as error:  # noqa: BLE001  (as on AWS: the messages come back after their visibility timeout)
                    LOG.warning("deleting %d messages from %s failed: %s", len(done), source.queue_name, error)
        return delivered

    def _invoke(self, source: SqsEventSource, messages: list[dict[str, Any]]) -> set[str]:
        """The ids of the messages that failed."""
        event = {"Records": [_record(m, source) for m in messages]}
        self.invocations += 1
        try:
            result = self.invoker(source.function, event)
        except Exception as error:  # noqa: BLE001  (the whole batch comes back after its visibility timeout)
            LOG.warning("%s failed on %s: %s: %s", source.function, source.queue_name, type(error).__name__, error)
            return {m["MessageId"] for m in messages}
        if not source.report_failures:
            return set()
        if result is not None and not isinstance(result, dict):
            return {m["MessageId"] for m in messages}  # Lambda treats an unreadable answer as a failure
        return {str(f.get("itemIdentifier")) for f in (result or {}).get("batchItemFailures") or []}

    # ------------------------------------------------------------------ redeliveries
    def _watch(self, source: SqsEventSource) -> None:
        """Messages left in the queue: make sure a poller will deliver them once visible."""
        if self.clock is None or next_visible(source.queue_name) is None:
            return
        with self._lock:
            if source.queue_name in self._pollers or self._closed.is_set():
                return
            key = self.clock.begin(("sqs", source.queue_name))  # in the caller's thread: never looks idle
            thread = threading.Thread(
                target=self._poll, args=(source, key), daemon=True, name=f"sqs-poller-{source.queue_name}"
            )
            self._pollers[source.queue_name] = thread
        thread.start()

    def _poll(self, source: SqsEventSource, key: Any) -> None:
        assert self.clock is not None
        try:
            while not self._closed.is_set():
                with self._lock:
                    at = next_visible(source.queue_name)
                    if at is None:
                        del self._pollers[source.queue_name]
                        return
                if not self.clock.sleep_until(at, owner=key):
                    return
                self.deliver(source)
        except Exception:  # a poller must not die silently
            LOG.exception("SQS poller of %s stopped", source.queue_name)
        finally:
            with self._lock:
                if self._pollers.get(source.queue_name) is threading.current_thread():
                    del self._pollers[source.queue_name]
            self.clock.end(key)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            threads = list(self._pollers.values())
        for thread in threads:
            thread.join(timeout=5)


def next_visible(queue_name: str) -> datetime | None:
    """When the earliest message left in the queue is visible again (virtual time); None if empty."""
    from automaps_local import moto_patches

    millis = moto_patches.sqs_next_visible(ACCOUNT, REGION, queue_name)
    return None if millis is None else datetime.fromtimestamp(millis / 1000, UTC) + timedelta(milliseconds=1)


def _record(message: dict[str, Any], source: SqsEventSource) -> dict[str, Any]:
    """One record of the SQS event Lambda sends (the receive's own attributes)."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{source.queue_name}",
        "awsRegion": REGION,
    }


@contextlib.contextmanager
def in_process(sources: list[SqsEventSource], invoker: Invoker) -> Iterator[SqsDelivery]:
    """Only the SQS deliveries (no clock, no redelivery), for tests on plain moto."""
    from automaps_local import moto_patches

    delivery = SqsDelivery(sources, invoker)
    with moto_patches.sqs_listener(delivery.added):
        yield delivery


def template_handlers(stack: Any) -> Invoker:
    """An invoker that calls a template function's handler (``functions.<dir>.app``) in-process,
    without registering anything in moto's Lambda (for :func:`in_process`)."""
    import importlib
    from pathlib import Path

    from automaps_local.runtime import FakeContext

    def invoke(logical: str, event: Any) -> Any:
        props = stack.template.function_properties(logical)
        code_uri = str(props.get("CodeUri", "")).strip("/")
        module_file, handler = str(props.get("Handler", "app.lambda_handler")).rsplit(".", 1)
        module = importlib.import_module(".".join([*Path(code_uri).parts, *module_file.split(".")]))
        context = FakeContext(
            f"{stack.stack_name}-{logical}",
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{stack.stack_name}-{logical}",
            int(props.get("MemorySize", 128)),
            int(props.get("Timeout", 3)),
        )
        return getattr(module, handler)(event, context)

    return invoke
