"""Stand up what template.yaml declares inside moto.

``LocalStack(template).create_data()`` creates the tables, secrets and queues and fills the
environment the functions read (their Globals and own Environment, resolved). Functions, state
machines and API routes are added by the local runtime on top of this.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from automaps import aws
from automaps_local.template import Resolver, Template

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "automaps"

_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes",
               "StreamSpecification")


@dataclass
class LocalStack:
    template: Template
    stack_name: str = STACK
    parameters: dict[str, Any] = field(default_factory=dict)
    physical: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        refs = {**self.template.parameter_defaults(), **self.parameters}
        self.resolver = Resolver(
            pseudo={"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": self.stack_name,
                    "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"},
            refs=refs,
        )

    # ------------------------------------------------------------------ data resources
    def create_data(self) -> None:
        for logical, resource in self.template.of_type("AWS::DynamoDB::Table").items():
            self._create_table(logical, resource.get("Properties", {}))
        for logical, resource in self.template.of_type("AWS::SecretsManager::Secret").items():
            self._create_secret(logical, resource.get("Properties", {}))
        for logical in self.template.of_type("AWS::SQS::Queue"):
            url = aws.client("sqs").create_queue(QueueName=f"{self.stack_name}-{logical}")["QueueUrl"]
            self.resolver.refs[logical] = url
            self.resolver.attributes[(logical, "Arn")] = (
                f"arn:aws:sqs:{REGION}:{ACCOUNT}:{self.stack_name}-{logical}")

    def _create_table(self, logical: str, props: dict[str, Any]) -> None:
        name = f"{self.stack_name}-{logical}"
        spec = {k: props[k] for k in _TABLE_KEYS if k in props}
        aws.client("dynamodb").create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **spec)
        self.resolver.refs[logical] = name
        self.resolver.attributes[(logical, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"

    def _create_secret(self, logical: str, props: dict[str, Any]) -> None:
        length = props.get("GenerateSecretString", {}).get("PasswordLength", 64)
        value = aws.client("secretsmanager").get_random_password(
            PasswordLength=length, ExcludePunctuation=True)["RandomPassword"]
        arn = aws.client("secretsmanager").create_secret(
            Name=f"{self.stack_name}-{logical}", SecretString=value)["ARN"]
        self.resolver.refs[logical] = arn

    # ------------------------------------------------------------------ environment
    def function_environment(self, logical: str) -> dict[str, str]:
        props = self.template.function_properties(logical)
        variables = props.get("Environment", {}).get("Variables", {})
        return {k: str(self.resolver.resolve(v)) for k, v in variables.items()}

    def export_environment(self) -> dict[str, str]:
        """Set, in os.environ, the union of every function's environment.

        The handlers run in one process, so their variables must agree; a conflict is an error.
        """
        merged: dict[str, str] = {}
        for logical in self.template.of_type("AWS::Serverless::Function"):
            for key, value in self.function_environment(logical).items():
                if merged.setdefault(key, value) != value:
                    raise RuntimeError(f"template.yaml: functions disagree on {key} ({merged[key]} vs {value})")
        os.environ.update(merged)
        return merged
