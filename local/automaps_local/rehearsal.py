"""A deploy rehearsal: our real template.yaml, packaged and transformed as `sam deploy` would,
created as a stack in moto's CloudFormation, so the ``--stack-name`` paths of the CLI (push,
doctor, secret, admin, publish, diff) run against the stack they will meet in an account.

    with rehearsal.rehearsed("automaps", ROOT, {"EmailFrom": "news@example.com"}) as stack:
        ...  # stack.outputs, stack.physical; the CLI with --stack-name automaps

(``rehearsed`` is ``mock_aws()`` and :func:`moto_gaps` around :func:`create_stack`; the pytest
fixture ``rehearsal`` in tests/rehearsal/conftest.py is that stack.) It takes about a second.

The three steps, each usable alone:

1. :func:`package` does what `sam package` does to the SAM template: every ``CodeUri`` and
   ``ContentUri`` folder becomes an object in :data:`ARTIFACTS_BUCKET`; a ``DefinitionUri`` file
   is inlined as the state machine's ``Definition`` (CloudFormation applies
   ``DefinitionSubstitutions`` to either the same way).
2. :func:`transform` runs samtranslator offline (as `sam validate` does), with a managed policy
   loader that answers fixed ARNs instead of asking IAM.
3. :func:`create_stack` uploads the artifacts and creates the stack, within :func:`moto_gaps`.

What moto 5.2.5's CloudFormation does not do, and what the rehearsal does about it:

- resource types it has no model for are skipped with a warning, and their ``Ref`` is None. The
  ones our template needs get a small model here (:data:`ADAPTED`), each creating the resource
  through moto's own backend: Secrets Manager secrets (with a generated value), Scheduler
  schedule groups, the SES configuration set and its event destination, SNS subscriptions,
  CloudWatch alarms, Lambda aliases, state machine versions and aliases, and the console's
  Cognito user pool, its domain and app client (moto's cognito-idp issues their tokens). The rest stay skipped
  (:func:`unsupported`): ``AWS::ApiGateway::Stage``, ``AWS::SQS::QueuePolicy``,
  ``AWS::Scheduler::Schedule`` and whatever the template adds later: nothing the CLI reads.
- ``AWS::ApiGateway::RestApi`` needs a ``Name`` (CloudFormation takes the body's title) and
  ignores ``Body``, and a Deployment of a REST API without methods is refused: the body's paths
  and methods are created here from the (Swagger 2.0) body SAM generates, without the
  integrations' ``credentials: arn:aws:iam::*:user/*`` (IAM auth's "the caller's credentials",
  which moto refuses as a cross-account role).
- ``AWS::StepFunctions::StateMachine`` ignores ``DefinitionSubstitutions``: they are applied
  here, as an ``Fn::Sub`` over the definition. It has no ``StateMachineRevisionId`` attribute:
  the versions' (optional) property is dropped. Versions and aliases of state machines are
  published and created through moto's backend (its CloudFormation has no model for them).
- ``AWS::Lambda::Version`` has no ``Version`` attribute in moto: replaced by a model that
  publishes the version and answers it; ``AWS::Lambda::Alias`` is created through moto's backend.
- Functions are created with a placeholder zip and never run: what moto delivers to them (an SQS
  event source, a stream) is recorded in :data:`DELIVERIES` (moto would start Docker); the local
  runtime runs them, from the same template.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import secrets
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ARTIFACTS_BUCKET = "automaps-rehearsal-artifacts"
ACCOUNT_ID = "123456789012"  # moto's default account
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]

# the AWS managed policies a template may name in Policies (samtranslator asks IAM for this map)
MANAGED_POLICIES = {
    name: f"arn:aws:iam::aws:policy/{path}{name}"
    for name, path in {
        "AWSLambdaBasicExecutionRole": "service-role/",
        "AWSLambdaSQSQueueExecutionRole": "service-role/",
        "AWSLambdaDynamoDBExecutionRole": "service-role/",
        "AWSLambdaRole": "service-role/",
        "AWSXrayWriteOnlyAccess": "",
        "AWSXRayDaemonWriteAccess": "",
        "CloudWatchLambdaInsightsExecutionRolePolicy": "",
        "AmazonBedrockReadOnly": "",
    }.items()
}


class RehearsalError(RuntimeError):
    pass


@dataclass
class Packaged:
    """A packaged SAM template and the artifacts it names (S3 key -> zip bytes)."""

    template: dict[str, Any]
    artifacts: dict[str, bytes] = field(default_factory=dict)


@dataclass
class RehearsalStack:
    name: str
    region: str
    template: dict[str, Any]  # the CloudFormation template created (transformed, gaps filled)
    outputs: dict[str, str]
    physical: dict[str, str]  # logical id -> physical id
    unsupported: dict[str, list[str]]  # resource type moto skipped -> logical ids

    def resource_types(self) -> dict[str, str]:
        return {name: r["Type"] for name, r in self.template["Resources"].items()}


# ---------------------------------------------------------------- 1. sam package


def _zip_of(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        if folder.is_dir():
            for path in sorted(folder.rglob("*.py")):
                if "__pycache__" not in path.parts:
                    archive.write(path, path.relative_to(folder).as_posix())
        else:
            archive.writestr("app.py", "")
    return buffer.getvalue()


def package(root: Path, template_name: str = "template.yaml", zip_code: bool = False) -> Packaged:
    """The SAM template as `sam package` leaves it: local folders as S3 objects of
    :data:`ARTIFACTS_BUCKET`, definitions inlined. ``zip_code``: zip the folders' Python files
    (else each artifact is an empty placeholder zip; moto never runs them)."""
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((root / template_name).read_text())
    packaged = Packaged(template=template)
    placeholder = _zip_of(Path("/nonexistent"))
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                object_key = f"{logical_id}.zip"
                packaged.artifacts[object_key] = _zip_of(root / properties[key]) if zip_code else placeholder
                properties[key] = f"s3://{ARTIFACTS_BUCKET}/{object_key}"
        uri = properties.get("DefinitionUri")
        if isinstance(uri, str) and not uri.startswith("s3://"):
            properties["Definition"] = json.loads((root / uri).read_text())
            del properties["DefinitionUri"]
    return packaged


# ---------------------------------------------------------------- 2. sam transform, offline


class FixedManagedPolicies:
    """samtranslator's ManagedPolicyLoader without IAM: fixed ARNs of AWS managed policies."""

    def load(self) -> dict[str, str]:
        return dict(MANAGED_POLICIES)


def transform(sam_template: dict[str, Any], parameters: dict[str, str] | None = None, region: str = "us-east-1") -> Any:
    """The CloudFormation template samtranslator makes of ``sam_template`` (no AWS call)."""
    from samtranslator.translator.transform import transform as sam_transform

    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region  # samtranslator's ArnGenerator reads the partition from it
    try:
        return sam_transform(copy.deepcopy(sam_template), dict(parameters or {}), FixedManagedPolicies())
    finally:
        if previous is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous


def fill_template_gaps(cfn_template: dict[str, Any]) -> dict[str, Any]:
    """What CloudFormation does and moto's models do not, done in the template: a REST API's
    name from its body's title, state machines' DefinitionSubstitutions applied."""
    template = copy.deepcopy(cfn_template)
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.setdefault("Properties", {})
        if resource["Type"] == "AWS::ApiGateway::RestApi" and "Name" not in properties:
            properties["Name"] = logical_id
        if resource["Type"] == "AWS::StepFunctions::StateMachineVersion":
            properties.pop("StateMachineRevisionId", None)  # moto's machines have no such attribute
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            substitutions = properties.pop("DefinitionSubstitutions", None)
            if substitutions and "DefinitionString" in properties:
                definition = properties["DefinitionString"]
                if isinstance(definition, dict) and "Fn::Join" in definition:
                    separator, parts = definition["Fn::Join"]
                    definition = separator.join(parts)
                if not isinstance(definition, str):
                    raise RehearsalError(f"{logical_id}: DefinitionString is neither text nor Fn::Join of text")
                # ${Name} of the substitutions only; any other ${...} stays literal as in CloudFormation
                definition = re.sub(
                    r"\$\{(?!(?:" + "|".join(map(re.escape, substitutions)) + r")\})", "${!", definition
                )
                properties["DefinitionString"] = {"Fn::Sub": [definition, substitutions]}
    return template


# ---------------------------------------------------------------- 3. moto's missing models


def _backend(service: str, account_id: str, region: str) -> Any:
    import importlib

    module = importlib.import_module(f"moto.{service}.models")
    backends = {"awslambda": "lambda_backends"}.get(service, f"{service}_backends")
    return getattr(module, backends)[account_id][region]


def _adapters() -> dict[str, type]:
    from moto.core.common_models import CloudFormationModel

    class _Adapted(CloudFormationModel):
        TYPE = ""
        NAME_PROPERTY = ""

        def __init__(self, physical_id: str, attributes: dict[str, str] | None = None) -> None:
            self._physical_id = physical_id
            self._attributes = attributes or {}

        @property
        def physical_resource_id(self) -> str:
            return self._physical_id

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return True

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            if attribute_name in self._attributes:
                return self._attributes[attribute_name]
            from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

            raise UnformattedGetAttTemplateException()

        @classmethod
        def cloudformation_type(cls) -> str:
            return cls.TYPE

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @classmethod
        def delete_from_cloudformation_json(cls, *args: Any, **kwargs: Any) -> None:
            return None

    class Secret(_Adapted):
        TYPE = "AWS::SecretsManager::Secret"

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> Secret:
            properties = cloudformation_json.get("Properties", {})
            value = properties.get("SecretString")
            if value is None:
                generate = properties.get("GenerateSecretString", {})
                value = secrets.token_hex(int(generate.get("PasswordLength", 32)) // 2)
            name = properties.get("Name") or resource_name
            secret = _backend("secretsmanager", account_id, region_name).create_secret(
                name=name,
                secret_string=value,
                secret_binary=None,
                description=properties.get("Description"),
                tags=None,
                kms_key_id=None,
                client_request_token=None,
                replica_regions=[],
                force_overwrite=False,
            )
            arn = json.loads(secret)["ARN"] if isinstance(secret, str) else secret.arn
            return cls(arn, {"Id": arn})

    class ScheduleGroup(_Adapted):
        TYPE = "AWS::Scheduler::ScheduleGroup"

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> ScheduleGroup:
            name = cloudformation_json.get("Properties", {}).get("Name") or resource_name
            group = _backend("scheduler", account_id, region_name).create_schedule_group(name=name, tags=[])
            return cls(name, {"Arn": group.arn})

    class ConfigurationSet(_Adapted):
        TYPE = "AWS::SES::ConfigurationSet"

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> ConfigurationSet:
            name = cloudformation_json.get("Properties", {}).get("Name") or resource_name
            _backend("sesv2", account_id, region_name).create_configuration_set(
                configuration_set_name=name,
                tracking_options={},
                delivery_options={},
                reputation_options={},
                sending_options={},
                tags=[],
                suppression_options={},
                vdm_options={},
            )
            return cls(name)

    class ConfigurationSetEventDestination(_Adapted):
        TYPE = "AWS::SES::ConfigurationSetEventDestination"

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> ConfigurationSetEventDestination:
            properties = cloudformation_json["Properties"]
            destination = dict(properties["EventDestination"])
            name = destination.pop("Name", resource_name)
            ses = _backend("ses", account_id, region_name)
            ses.create_configuration_set_event_destination(
                configuration_set_name=properties["ConfigurationSetName"],
                event_destination={"Name": name, **destination},
            )
            return cls(name)

    class Subscription(_Adapted):
        TYPE = "AWS::SNS::Subscription"

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> Subscription:
            properties = cloudformation_json["Properties"]
            subscription = _backend("sns", account_id, region_name).subscribe(
                properties["TopicArn"], properties["Endpoint"], properties["Protocol"]
            )
            return cls(subscription.arn)

    class Alarm(_Adapted):
        TYPE = "AWS::CloudWatch::Alarm"

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> Alarm:
            p = cloudformation_json["Properties"]
            name = p.get("AlarmName") or resource_name
            _backend("cloudwatch", account_id, region_name).put_metric_alarm(
                name=name,
                namespace=p.get("Namespace"),
                metric_name=p.get("MetricName"),
                metric_data_queries=None,
                comparison_operator=p["ComparisonOperator"],
                evaluation_periods=int(p["EvaluationPeriods"]),
                datapoints_to_alarm=None,
                period=int(p.get("Period", 60)),
                threshold=float(p.get("Threshold", 0)),
                statistic=p.get("Statistic"),
                extended_statistic=None,
                description=p.get("AlarmDescription"),
                dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in p.get("Dimensions", [])],
                alarm_actions=list(p.get("AlarmActions", [])),
                ok_actions=list(p.get("OKActions", [])),
                insufficient_data_actions=[],
                unit=None,
                actions_enabled=True,
                treat_missing_data=p.get("TreatMissingData"),
            )
            arn = f"arn:aws:cloudwatch:{region_name}:{account_id}:alarm:{name}"
            return cls(name, {"Arn": arn})

    class LambdaAlias(_Adapted):
        TYPE = "AWS::Lambda::Alias"

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> LambdaAlias:
            p = cloudformation_json["Properties"]
            version = str(p.get("FunctionVersion") or "$LATEST")
            alias = _backend("awslambda", account_id, region_name).create_alias(
                name=p["Name"],
                function_name=p["FunctionName"],
                function_version=version,
                description=p.get("Description", ""),
                routing_config=None,
            )
            return cls(alias.arn, {"AliasArn": alias.arn})

    class LambdaVersion(_Adapted):
        TYPE = "AWS::Lambda::Version"  # moto's model has no attributes (Fn::GetAtt <Version>.Version)

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> LambdaVersion:
            name = cloudformation_json["Properties"]["FunctionName"]
            published = _backend("awslambda", account_id, region_name).publish_version(name, "")
            if published is None:
                raise RehearsalError(f"{resource_name}: no function {name} to publish a version of")
            version = str(published.version)
            arn = f"arn:aws:lambda:{region_name}:{account_id}:function:{published.function_name}:{version}"
            return cls(arn, {"Version": version})

    class StateMachineVersion(_Adapted):
        TYPE = "AWS::StepFunctions::StateMachineVersion"  # published through moto's backend

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> StateMachineVersion:
            p = cloudformation_json["Properties"]
            machine = _backend("stepfunctions", account_id, region_name).describe_state_machine(p["StateMachineArn"])
            machine.publish(description=p.get("Description"))
            return cls(machine.latest_version.arn)

    class StateMachineAlias(_Adapted):
        TYPE = "AWS::StepFunctions::StateMachineAlias"  # created through moto's backend

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> StateMachineAlias:
            p = cloudformation_json["Properties"]
            preference = p.get("DeploymentPreference") or {}
            routes = (
                [{"stateMachineVersionArn": preference["StateMachineVersionArn"], "weight": 100}]
                if preference.get("StateMachineVersionArn")
                else [
                    {"stateMachineVersionArn": r["StateMachineVersionArn"], "weight": int(r["Weight"])}
                    for r in p.get("RoutingConfiguration", [])
                ]
            )
            alias = _backend("stepfunctions", account_id, region_name).create_state_machine_alias(
                name=p.get("Name", "live"), routing_configuration=routes, description=p.get("Description")
            )
            return cls(alias.arn, {"Arn": alias.arn})

    class UserPool(_Adapted):
        TYPE = "AWS::Cognito::UserPool"  # created through moto's cognito-idp backend

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> UserPool:
            p = dict(cloudformation_json.get("Properties", {}))
            name = p.pop("UserPoolName", None) or resource_name
            pool = _backend("cognitoidp", account_id, region_name).create_user_pool(name, p)
            provider = f"cognito-idp.{region_name}.amazonaws.com/{pool.id}"
            return cls(
                pool.id,
                {
                    "Arn": pool.arn,
                    "UserPoolId": pool.id,
                    "ProviderName": provider,
                    "ProviderURL": f"https://{provider}",
                },
            )

    class UserPoolDomain(_Adapted):
        TYPE = "AWS::Cognito::UserPoolDomain"

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> UserPoolDomain:
            p = cloudformation_json["Properties"]
            _backend("cognitoidp", account_id, region_name).create_user_pool_domain(
                p["UserPoolId"], p["Domain"], p.get("CustomDomainConfig")
            )
            return cls(p["Domain"], {"CloudFrontDistribution": f"{p['Domain']}.cloudfront.net"})

    class UserPoolClient(_Adapted):
        TYPE = "AWS::Cognito::UserPoolClient"

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> UserPoolClient:
            p = dict(cloudformation_json["Properties"])
            pool_id, secret = p.pop("UserPoolId"), bool(p.pop("GenerateSecret", False))
            client = _backend("cognitoidp", account_id, region_name).create_user_pool_client(pool_id, secret, p)
            return cls(client.id, {"ClientId": client.id, "Name": p.get("ClientName", "")})

    return {
        model.TYPE: model
        for model in (
            Secret,
            ScheduleGroup,
            ConfigurationSet,
            ConfigurationSetEventDestination,
            Subscription,
            Alarm,
            LambdaAlias,
            LambdaVersion,
            StateMachineVersion,
            StateMachineAlias,
            UserPool,
            UserPoolDomain,
            UserPoolClient,
        )
    }


ADAPTED = (
    "AWS::SecretsManager::Secret",
    "AWS::Scheduler::ScheduleGroup",
    "AWS::SES::ConfigurationSet",
    "AWS::SES::ConfigurationSetEventDestination",
    "AWS::SNS::Subscription",
    "AWS::CloudWatch::Alarm",
    "AWS::Lambda::Alias",
    "AWS::StepFunctions::StateMachineVersion",
    "AWS::StepFunctions::StateMachineAlias",
    "AWS::Lambda::Version",
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolDomain",
    "AWS::Cognito::UserPoolClient",
)
REPLACED = ("AWS::Lambda::Version",)  # moto's own model lacks what the template needs


def unsupported(cfn_template: dict[str, Any]) -> dict[str, list[str]]:
    """Resource types of ``cfn_template`` that moto's CloudFormation skips (with the adapters
    of :func:`moto_gaps` in place, if it is active): type -> logical ids."""
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map

    known = get_model_map()
    found: dict[str, list[str]] = {}
    for logical_id, resource in cfn_template.get("Resources", {}).items():
        kind = resource["Type"]
        if kind not in known and kind not in NULL_MODELS and not kind.startswith("Custom::"):
            found.setdefault(kind, []).append(logical_id)
    return found


DELIVERIES: list[tuple[str, str]] = []  # (function name, event) moto delivered (SQS, SNS, streams), not run


@contextmanager
def moto_gaps() -> Iterator[None]:
    """Within it, moto's CloudFormation creates the resource types of :data:`ADAPTED` and the
    paths and methods of a REST API's body; what moto delivers to a function (an SQS event source,
    a stream) is appended to :data:`DELIVERIES` instead of run (moto would start Docker)."""
    from moto.apigateway import models as apigateway
    from moto.cloudformation.parsing import get_model_map

    DELIVERIES.clear()
    models = get_model_map()
    replaced = {kind: models[kind] for kind in REPLACED if kind in models}
    added = {kind: model for kind, model in _adapters().items() if kind not in models or kind in REPLACED}
    models.update(added)
    original = apigateway.RestAPI.__dict__["create_from_cloudformation_json"]

    def create_rest_api(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        api = original.__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        body = cloudformation_json["Properties"].get("Body")
        if isinstance(body, dict) and body.get("paths"):
            openapi = {k: v for k, v in copy.deepcopy(body).items() if k != "swagger"} | {"openapi": "3.0.1"}
            for methods in openapi["paths"].values():
                for method in methods.values():
                    integration = method.get("x-amazon-apigateway-integration", {})
                    if integration.get("credentials") == "arn:aws:iam::*:user/*":  # the caller's (IAM auth)
                        del integration["credentials"]  # moto takes it for another account's role
            apigateway.apigateway_backends[account_id][region_name].put_rest_api(api.id, openapi, False)
        return api

    from moto.awslambda.models import LambdaFunction

    invoke = LambdaFunction.__dict__["invoke"]

    def recorded(function: Any, body: str, request_headers: Any, response_headers: Any) -> str:
        DELIVERIES.append((function.function_name, body))
        return "null"

    LambdaFunction.invoke = recorded  # type: ignore[method-assign,assignment]
    apigateway.RestAPI.create_from_cloudformation_json = classmethod(create_rest_api)  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        LambdaFunction.invoke = invoke  # type: ignore[method-assign]
        apigateway.RestAPI.create_from_cloudformation_json = original  # type: ignore[method-assign]
        for kind in added:
            models.pop(kind, None)
        models.update(replaced)


# ---------------------------------------------------------------- the stack


def create_stack(
    stack_name: str,
    root: Path,
    parameters: dict[str, str] | None = None,
    region: str = "us-east-1",
    template_name: str = "template.yaml",
) -> RehearsalStack:
    """Package, transform and create ``root``'s template as stack ``stack_name`` in moto (call
    within ``mock_aws()`` and :func:`moto_gaps`). Raises RehearsalError if creation fails."""
    import boto3

    packaged = package(root, template_name)
    cfn_template = fill_template_gaps(transform(packaged.template, parameters, region))
    s3 = boto3.client("s3", region_name=region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
    else:
        s3.create_bucket(Bucket=ARTIFACTS_BUCKET, CreateBucketConfiguration={"LocationConstraint": region})  # type: ignore[typeddict-item]
    for key, body in packaged.artifacts.items():
        s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=key, Body=body)
    cfn = boto3.client("cloudformation", region_name=region)
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(cfn_template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
        Capabilities=CAPABILITIES,  # type: ignore[arg-type]
    )
    [stack] = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise RehearsalError(f"{stack_name}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}")
    physical = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name)
        for r in page["StackResourceSummaries"]
    }
    return RehearsalStack(
        name=stack_name,
        region=region,
        template=cfn_template,
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        physical=physical,
        unsupported=unsupported(cfn_template),
    )


ENVIRONMENT = (  # what the CLI's --stack-name paths set in os.environ (undone by rehearsed())
    "CONTENT_TABLE",
    "CONTACTS_TABLE",
    "IDEMPOTENCY_TABLE",
    "SIGNING_SECRET_ARN",
    "EMAIL_FROM",
    "PUBLIC_API_URL",
    "STARTS_SCHEDULE_GROUP",
    "SCHEDULER_ROLE_ARN",
    "ENROLL_QUEUE_ARN",
    "ENROLL_QUEUE_URL",
    "INGEST_SECRET_ARN",
    "SES_CONFIGURATION_SET",
    "STATE_MACHINE_ARN_PREFIX",
    "WAITS_SCHEDULE_GROUP",
)


@contextmanager
def rehearsed(
    stack_name: str = "automaps",
    root: Path | None = None,
    parameters: dict[str, str] | None = None,
    region: str = "us-east-1",
) -> Iterator[RehearsalStack]:
    """An AWS account (moto) holding ``root``'s template deployed as ``stack_name``: the whole
    rehearsal, with the automaps package's clients reset before and after and the environment
    the CLI's --stack-name paths write restored afterwards."""
    from moto import mock_aws

    from automaps import aws as aws_clients

    root = root or Path(__file__).resolve().parents[2]
    saved = {name: os.environ.get(name) for name in ENVIRONMENT}
    for name in ENVIRONMENT:
        os.environ.pop(name, None)
    try:
        with mock_aws(), moto_gaps():
            aws_clients.reset()
            try:
                yield create_stack(stack_name, root, parameters, region)
            finally:
                aws_clients.reset()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
