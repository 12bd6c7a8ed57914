"""template.yaml: the alarms tell someone (the AlertTopic; an email subscription when AlertEmail is
set), and the contacts table's TTL attribute is the one the expiring items are written with."""

from __future__ import annotations

from automaps.store import contacts
from automaps_local.template import Template
from tests.conftest import ROOT

TEMPLATE = Template.load(ROOT / "template.yaml")


def test_given_the_template_then_every_alarm_notifies_the_alert_topic():
    alarms = TEMPLATE.of_type("AWS::CloudWatch::Alarm")

    assert {"EnrollDeadLetterAlarm", "FailedExecutionsAlarm"} <= set(alarms)
    for logical, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlertTopic"}], logical
    failed = alarms["FailedExecutionsAlarm"]["Properties"]
    assert failed["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["FailedExecutionsQueue", "QueueName"]}}]
    assert (failed["MetricName"], failed["Threshold"], failed["ComparisonOperator"]) == (
        "ApproximateNumberOfMessagesVisible", 0, "GreaterThanThreshold")


def test_given_the_alert_email_parameter_then_the_email_subscription_exists_only_when_it_is_set():
    [subscription] = TEMPLATE.of_type("AWS::SNS::Subscription").values()

    assert TEMPLATE.body["Parameters"]["AlertEmail"]["Default"] == ""
    assert subscription["Condition"] == "HasAlertEmail"
    assert TEMPLATE.body["Conditions"]["HasAlertEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlertEmail"}, ""]}]}
    assert subscription["Properties"] == {"TopicArn": {"Ref": "AlertTopic"}, "Protocol": "email",
                                          "Endpoint": {"Ref": "AlertEmail"}}


def test_given_the_contacts_table_then_ttl_reads_the_markers_expiration_attribute():
    table = TEMPLATE.of_type("AWS::DynamoDB::Table")["ContactsTable"]["Properties"]

    assert table["TimeToLiveSpecification"] == {"AttributeName": contacts.EXPIRATION, "Enabled": True}
    assert contacts.MARKER_TTL_SECONDS == 400 * 24 * 3600 > (365 * 24 + 1) * 3600
