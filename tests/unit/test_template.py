"""template.yaml watches what the function emits: the compliance alarm and the dashboard name real EMF series."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

from tools.cfn_yaml import load_template

from geminidb_patcher.contract.request import SUPPORTED_ENGINES
from geminidb_patcher.contract.tally import FLEET
from geminidb_patcher.telemetry import NAMESPACE, SERVICE, record_compliance, record_target_compliance
from tests.helpers import dashboard_widgets, emitted_series

TEMPLATE = load_template(Path(__file__).resolve().parents[2] / "template.yaml")
CLOUDWATCH_MAX_EVALUATION_SECONDS = 7 * 86_400
"""PutMetricAlarm refuses a Period times EvaluationPeriods above seven days."""


def _emitted(engine: str) -> list[dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        record_compliance(engine, current=9, behind=1, behind_not_patchable=0, ratio=0.9)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_the_compliance_alarm_watches_a_series_the_function_emits_for_every_engine_it_allows() -> None:
    alarm = TEMPLATE["Resources"]["SustainedNonComplianceAlarm"]["Properties"]
    engines = TEMPLATE["Parameters"]["ComplianceAlarmEngine"]["AllowedValues"]
    assert set(engines) == {FLEET, *SUPPORTED_ENGINES}
    for engine in engines:
        dimensions = frozenset(
            (d["Name"], engine if d["Value"] == {"Ref": "ComplianceAlarmEngine"} else d["Value"])
            for d in alarm["Dimensions"]
        )
        assert (alarm["Namespace"], alarm["MetricName"], dimensions) in emitted_series(_emitted(engine))
    assert (alarm["Namespace"], dict(alarm["Dimensions"][0])) == (NAMESPACE, {"Name": "service", "Value": SERVICE})


def test_the_alarm_fires_only_after_every_day_of_the_chosen_span_is_below_and_cloudwatch_accepts_the_span() -> None:
    alarm = TEMPLATE["Resources"]["SustainedNonComplianceAlarm"]["Properties"]
    days = TEMPLATE["Parameters"]["ComplianceAlarmDays"]
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == {"Ref": "ComplianceAlarmDays"}
    assert alarm["Period"] == 86_400 and alarm["Period"] * days["MaxValue"] <= CLOUDWATCH_MAX_EVALUATION_SECONDS
    assert (alarm["Statistic"], alarm["ComparisonOperator"]) == ("Maximum", "LessThanThreshold")
    assert alarm["Threshold"] == {"Ref": "ComplianceAlarmPercent"}
    assert _emitted(FLEET)[0]["ComplianceRatio"] in (90.0, [90.0])  # percent, as the threshold is


def test_the_dashboard_is_json_and_its_compliance_widget_draws_emittedemitted_series() -> None:
    widgets = dashboard_widgets(TEMPLATE)
    (trend,) = [w for w in widgets if w["properties"].get("title") == "Instances current (%)"]
    emitted = set().union(*(emitted_series(_emitted(engine)) for engine in (FLEET, *SUPPORTED_ENGINES)))
    drawn = set()
    previous: list[str] = []
    for given in trend["properties"]["metrics"]:
        # CloudWatch's "..." shorthand: the previous line with its last value replaced
        line = [*previous[:-1], *given[1:]] if given[0] == "..." else given
        previous = line
        namespace, metric, *pairs = line
        drawn.add((namespace, metric, frozenset(zip(pairs[::2], pairs[1::2], strict=True))))
    assert drawn <= emitted and len(drawn) == 1 + len(SUPPORTED_ENGINES)


def test_the_per_target_widget_searches_the_dimensions_each_target_s_ratio_is_emitted_with() -> None:
    widgets = dashboard_widgets(TEMPLATE)
    (per_target,) = [w for w in widgets if w["properties"].get("title") == "Instances current per target (%)"]
    search = per_target["properties"]["metrics"][0][0]["expression"]
    schema = re.search(r"\{([^}]*)\} MetricName=\"(\w+)\"", search)
    assert schema is not None
    namespace, *dimensions = schema.group(1).split(",")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        record_target_compliance("ap-southeast-1/" + "0" * 32, 0.5)
    (record,) = [json.loads(line) for line in out.getvalue().splitlines()]
    (definition,) = record["_aws"]["CloudWatchMetrics"]
    assert (definition["Namespace"], [m["Name"] for m in definition["Metrics"]]) == (namespace, [schema.group(2)])
    assert sorted(definition["Dimensions"][0]) == sorted(dimensions)


def _role(function: str) -> dict[str, Any]:
    """The properties of ``function``'s own role."""
    role = TEMPLATE["Resources"][function]["Properties"]["Role"]
    assert role == {"Fn::GetAtt": [f"{function}Role", "Arn"]}
    properties: dict[str, Any] = TEMPLATE["Resources"][f"{function}Role"]["Properties"]
    return properties


def _statements(function: str) -> list[dict[str, Any]]:
    """The unconditional statements of ``function``'s role."""
    return [s for p in _role(function)["Policies"] if "PolicyDocument" in p for s in p["PolicyDocument"]["Statement"]]


def test_each_function_writes_only_its_own_log_group_and_holds_only_what_it_calls() -> None:
    common = {"OwnLogGroup", "Tracing", "Secret"}
    expected = {
        "ScheduledFunction": ("ScheduledLogGroup", common | {"ApplyLease", "FailedRunsToTheDeadLetterQueue"}),
        "WebhookFunction": ("WebhookLogGroup", common | {"ApplyLeaseAndWebhookIds"}),
    }
    for function, (log_group, sids) in expected.items():
        assert "Policies" not in TEMPLATE["Resources"][function]["Properties"]  # no SAM default role, no logs:* on *
        statements = {statement["Sid"]: statement for statement in _statements(function)}
        assert set(statements) == sids, function
        logs = statements["OwnLogGroup"]
        assert logs["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
        assert logs["Resource"] == {"Fn::GetAtt": [log_group, "Arn"]}
        assert all(not str(a).startswith("logs:") for s in statements.values() if s is not logs for a in s["Action"])
        (trust,) = _role(function)["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    dead_letters = next(s for s in _statements("ScheduledFunction") if s["Sid"] == "FailedRunsToTheDeadLetterQueue")
    destination = TEMPLATE["Resources"]["ScheduledFunction"]["Properties"]["EventInvokeConfig"]["DestinationConfig"]
    assert dead_letters["Resource"] == destination["OnFailure"]["Destination"]


def test_a_first_deployment_fits_new_accounts_two_stacks_and_customer_managed_keys() -> None:
    function = TEMPLATE["Resources"]["ScheduledFunction"]["Properties"]
    assert function["ReservedConcurrentExecutions"] == {
        "Fn::If": ["ReserveScheduledConcurrency", 1, {"Ref": "AWS::NoValue"}]
    }
    assert TEMPLATE["Parameters"]["ScheduledConcurrency"]["AllowedValues"] == ["1", "off"]
    assert function["Events"]["Schedule"]["Properties"]["OmitName"] is True
    pattern = re.compile(TEMPLATE["Parameters"]["SecretArn"]["AllowedPattern"])
    assert pattern.fullmatch("arn:aws:secretsmanager:eu-west-1:123456789012:secret:patcher-AbC123")
    assert not pattern.fullmatch("arn:aws:secretsmanager:eu-west-1:123456789012:secret:patcher")
    for name in ("ScheduledFunction", "WebhookFunction"):
        (conditional,) = [p for p in _role(name)["Policies"] if "Fn::If" in p]
        condition, policy, otherwise = conditional["Fn::If"]
        (grant,) = policy["PolicyDocument"]["Statement"]
        assert (condition, grant["Action"], otherwise) == ("HasSecretKey", "kms:Decrypt", {"Ref": "AWS::NoValue"})
        assert grant["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"] == {"Ref": "SecretArn"}
    for name in ("ScheduledLogGroup", "WebhookLogGroup", "WebhookAccessLogGroup", "DeadLetterQueue"):
        resource = TEMPLATE["Resources"][name]
        assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain", name
    for name in ("TargetErrorsAlarm", "FailedUpgradesAlarm", "RejectedUpgradesAlarm", "NotificationFailuresAlarm"):
        assert TEMPLATE["Resources"][name]["Properties"]["Period"] == {"Ref": "RunPeriodSeconds"}, name


def test_the_scheduler_role_trusts_only_this_accounts_schedules_and_may_only_invoke_and_dead_letter() -> None:
    schedule = TEMPLATE["Resources"]["ScheduledFunction"]["Properties"]["Events"]["Schedule"]["Properties"]
    assert schedule["RoleArn"] == {"Fn::GetAtt": ["SchedulerRole", "Arn"]}
    role = TEMPLATE["Resources"]["SchedulerRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    (policy,) = role["Policies"]
    grants = {(s["Action"], s["Resource"]["Fn::GetAtt"][0]) for s in policy["PolicyDocument"]["Statement"]}
    assert grants == {("lambda:InvokeFunction", "ScheduledFunction"), ("sqs:SendMessage", "DeadLetterQueue")}


def test_the_lease_table_expires_its_items_and_each_function_may_only_write_its_own_keys() -> None:
    from geminidb_patcher.contract.request import Target
    from geminidb_patcher.entrypoints.webhook import shared_id_key
    from geminidb_patcher.run.lease import lease_key

    table = TEMPLATE["Resources"]["LeaseTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST" and table["SSESpecification"] == {"SSEEnabled": True}
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["PATCHER_LOCK_TABLE"] == {"Ref": "LeaseTable"}
    key = lease_key(Target(region="ap-southeast-1", project_id="0" * 32))
    for name, prefixes in (("ScheduledFunction", ["apply#*"]), ("WebhookFunction", ["apply#*", "webhook#*"])):
        (lease,) = [s for s in _statements(name) if s["Resource"] == {"Fn::GetAtt": ["LeaseTable", "Arn"]}]
        assert sorted(lease["Action"]) == ["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
        assert lease["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": prefixes}}
        assert any(re.fullmatch(prefix.replace("*", ".*"), key) for prefix in prefixes)
    assert shared_id_key("msg_1").startswith("webhook#")


def test_approval_pages_are_routed_their_links_use_the_api_address_and_no_log_keeps_a_token() -> None:
    resources = TEMPLATE["Resources"]
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in resources.values() if r["Type"].endswith("::Route")}
    for key in ("GET /approvals/{token}", "POST /approvals/{token}"):
        assert routes[key]["Target"] == routes["POST /runs"]["Target"]
        assert routes[key]["AuthorizationType"] == {"Fn::If": ["HasApprovalIdentity", "JWT", "NONE"]}
    authorizer = resources["ApprovalAuthorizer"]
    assert (authorizer["Condition"], authorizer["Properties"]["AuthorizerType"]) == ("HasApprovalIdentity", "JWT")
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["WEBHOOK_API_URL"] == {"Fn::GetAtt": ["WebhookApi", "ApiEndpoint"]}  # no cycle: the API
    assert variables["APPROVAL_TTL"] == {"Ref": "ApprovalTtl"}  # does not depend on either function
    access_log = resources["WebhookStage"]["Properties"]["AccessLogSettings"]["Format"]
    assert "$context.path" not in access_log and "$context.routeKey" in access_log
    for ttl in ("PT12H", "PT5M", "P7D", "P1DT12H"):
        assert re.fullmatch(TEMPLATE["Parameters"]["ApprovalTtl"]["AllowedPattern"], ttl)
