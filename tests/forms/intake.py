"""The EnrollQueue's messages delivered to the intake consumer (functions/enroll), as Lambda's
SQS event source would: what a form post queued is enrolled when the test says so."""

from __future__ import annotations

import os
from typing import Any

from automaps import aws as aws_clients


def deliver_enrollments(lambda_context: Any) -> int:
    """Receive every message on the EnrollQueue, hand them to the consumer, delete the processed
    ones. Returns how many were delivered."""
    from functions.enroll import app

    sqs = aws_clients.client("sqs")
    url = os.environ["ENROLL_QUEUE_URL"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    delivered = 0
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       AttributeNames=["All"]).get("Messages", [])
        if not messages:
            return delivered
        records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                    "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": "us-east-1"}
                   for m in messages]
        failed = {f["itemIdentifier"] for f in app.lambda_handler({"Records": records}, lambda_context)
                  .get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        delivered += len(messages)
        if failed:
            return delivered
