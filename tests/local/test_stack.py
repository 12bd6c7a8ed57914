"""The local account is built from template.yaml, not from a second copy of the wiring."""

import os

from automaps import aws as aws_clients


def test_given_the_template_when_the_stack_is_created_then_its_tables_exist_with_their_key_schema(aws):
    tables = aws_clients.client("dynamodb").list_tables()["TableNames"]
    assert sorted(tables) == ["automaps-ContactsTable", "automaps-ContentTable", "automaps-IdempotencyTable"]
    schema = aws_clients.client("dynamodb").describe_table(TableName="automaps-ContactsTable")["Table"]["KeySchema"]
    assert schema == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]


def test_given_the_template_when_the_environment_is_exported_then_globals_are_resolved(aws):
    assert os.environ["CONTACTS_TABLE"] == "automaps-ContactsTable"
    assert os.environ["STATE_MACHINE_ARN_PREFIX"] == "arn:aws:states:us-east-1:123456789012:stateMachine:automaps-"
    secret = aws_clients.client("secretsmanager").get_secret_value(SecretId=os.environ["SIGNING_SECRET_ARN"])
    assert len(secret["SecretString"]) == 64


def test_given_the_template_then_its_ses_configuration_set_exists_and_the_functions_send_with_it(aws):
    assert os.environ["SES_CONFIGURATION_SET"] == "automaps-EmailConfigurationSet"
    assert aws_clients.client("sesv2").list_configuration_sets()["ConfigurationSets"] == ["automaps-EmailConfigurationSet"]
    assert aws.ses_event_types == {"automaps-EmailConfigurationSet": {"send", "delivery", "open", "click", "bounce",
                                                                      "complaint"}}
