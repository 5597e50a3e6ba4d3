#!/usr/bin/env python3
"""Least-privilege check of template.yaml, run by infra/test.sh.

For each Lambda function: the exact set of permissions it is given (SAM
policy templates with their target resource, inline statements), no wildcard
action or resource, and for the worker, that the DynamoDB actions allowed are
exactly those the DynamoDB adapter calls (so a new call without a policy
change, or a policy left wider than the code, fails here). For dispatch,
exactly the (action, resource) pairs of DISPATCH_GRANTS: it reads the tickets
stream and the events retry queue, sends to the events DLQ and the stream's
failure queue, publishes to the bus, and never writes a table. Every secret
(created by the stack or passed in as an ARN) is readable by exactly the one
function listed in SECRET_READERS, which is also the one whose environment
names it.

    .venv/bin/python infra/check_iam.py [TEMPLATE]   # cfn-lint's YAML loader reads the !Tags

What SAM adds itself (AWSLambdaBasicExecutionRole, and the managed execution
roles of SQS and DynamoDB stream event sources) is not in the template and not
checked here.
"""
import pathlib
import re
import sys

from cfnlint.decode import cfn_yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent



def secret_arn(condition, resource, parameter):
    """The ARN of a secret the stack creates unless its parameter names one."""
    return {"Fn::If": [condition, {"Ref": resource}, {"Ref": parameter}]}


# Every secret: (function allowed to read it, environment variable that passes
# it its ARN, condition, created resource, parameter with an existing ARN).
SECRET_READERS = {
    "WebhookSecret": ("IngestFunction", "NYLAS_WEBHOOK_SECRET_ARN",
                      "CreateWebhookSecret", "ExistingWebhookSecretArn"),
    "InboundWebhookSecrets": ("IngestFunction", "INBOUND_WEBHOOK_SECRETS_ARN",
                              "CreateInboundWebhookSecrets", "InboundWebhookSecretsArn"),
    "ApiKeySecret": ("WorkerFunction", "NYLAS_API_KEY_ARN",
                     "CreateApiKeySecret", "ExistingApiKeySecretArn"),
    "DestinationSecrets": ("DispatchFunction", "DESTINATION_SECRETS_ARN",
                           "CreateDestinationSecrets", "DestinationSecretsArn"),
}


def secret_policy(resource):
    _, _, condition, parameter = SECRET_READERS[resource]
    return {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": secret_arn(condition, resource, parameter)}}


# What each function may hold: SAM policy templates, each with the resource it names.
EXPECTED_TEMPLATES = {
    "IngestFunction": [
        {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["NotificationQueue", "QueueName"]}}},
        secret_policy("WebhookSecret"),
        secret_policy("InboundWebhookSecrets"),
    ],
    "WorkerFunction": [
        secret_policy("ApiKeySecret"),
    ],
    "DispatchFunction": [
        secret_policy("DestinationSecrets"),
    ],
}
WORKER_TABLES = [{"Fn::GetAtt": ["IdempotencyTable", "Arn"]}, {"Fn::GetAtt": ["TicketsTable", "Arn"]}]
# SDK calls that only the `triage` CLI makes (listing tickets), never the worker.
CLI_ONLY_CALLS = {"scan"}


def getatt(resource, attribute="Arn"):
    return {"Fn::GetAtt": [resource, attribute]}


TICKETS_STREAMS = {"Fn::Sub": "${TicketsTable.Arn}/stream/*"}
STREAM_READ_ACTIONS = ["dynamodb:DescribeStream", "dynamodb:GetRecords",
                       "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
# Everything dispatch's inline statements may allow, as (action, resource): no more, no less.
DISPATCH_GRANTS = (
    [(a, TICKETS_STREAMS) for a in STREAM_READ_ACTIONS]
    + [(a, getatt("EventsRetryQueue")) for a in
       ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]]
    + [("sqs:SendMessage", getatt("EventsDeadLetterQueue")), ("sqs:SendMessage", getatt("DispatchFailureQueue")),
       ("events:PutEvents", getatt("EventBus"))]
)
# Dispatch's event sources: the tickets stream (failed batches' metadata to
# the failure queue) and the events retry queue.
DISPATCH_EVENTS = {
    "DynamoDB": ("Stream", getatt("TicketsTable", "StreamArn")),
    "SQS": ("Queue", getatt("EventsRetryQueue")),
}


def camel(snake):
    return "".join(p.capitalize() for p in snake.split("_"))


def dynamodb_calls():
    """DynamoDB operations the adapter crate calls, as IAM action names."""
    calls = set()
    for path in (ROOT / "crates" / "dynamodb" / "src").rglob("*.rs"):
        text = path.read_text()
        calls.update(re.findall(r"\.(get_item|put_item|update_item|delete_item|batch_get_item|"
                                r"batch_write_item|transact_write_items|transact_get_items|query|scan)\(\)",
                                text))
        if "ConditionCheck::builder" in text:
            calls.add("condition_check_item")
    return {"dynamodb:" + camel(c) for c in calls - CLI_ONLY_CALLS}


def unmatched(have, want):
    """Items of `have` not in `want` and of `want` not in `have`, as multisets (dicts are not hashable)."""
    rest = list(want)
    extra = []
    for item in have:
        if item in rest:
            rest.remove(item)
        else:
            extra.append(item)
    return extra, rest


def is_wildcard(resource):
    """A resource that names everything, or everything of a service/account (also inside Fn::Sub)."""
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        resource = resource["Fn::Sub"]
        resource = resource[0] if isinstance(resource, list) else resource
    return isinstance(resource, str) and (resource == "*" or resource.endswith(":*"))


def check_dispatch(fn, statements, problems):
    """Dispatch: exactly DISPATCH_GRANTS, never a table write, its two event sources."""
    grants = []
    for st in statements:
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        targets = st.get("Resource", [])
        targets = [targets] if not isinstance(targets, list) else targets
        for a in actions:
            if a.lower().startswith("dynamodb:") and a not in STREAM_READ_ACTIONS:
                problems.append("DispatchFunction: %s in %s (dispatch only reads the tickets stream, "
                                "it never reads or writes a table)" % (a, st.get("Sid")))
            for r in targets:
                if r == "*":
                    problems.append("DispatchFunction: %s on *" % a)
                grants.append((a, r))
    extra, missing = unmatched(grants, DISPATCH_GRANTS)
    if extra or missing:
        problems.append("DispatchFunction: grants not expected %r, expected but missing %r" % (extra, missing))
    events = fn["Properties"].get("Events", {})
    kinds = sorted(e.get("Type") for e in events.values())
    if kinds != sorted(DISPATCH_EVENTS):
        problems.append("DispatchFunction: events of types %s, expected %s" % (kinds, sorted(DISPATCH_EVENTS)))
    for name, event in events.items():
        props = event.get("Properties", {})
        key, source = DISPATCH_EVENTS.get(event.get("Type"), (None, None))
        if key and props.get(key) != source:
            problems.append("DispatchFunction: event %s reads %r, expected %r" % (name, props.get(key), source))
        if props.get("FunctionResponseTypes") != ["ReportBatchItemFailures"]:
            problems.append("DispatchFunction: event %s without ReportBatchItemFailures" % name)
        if event.get("Type") == "DynamoDB":
            on_failure = props.get("DestinationConfig", {}).get("OnFailure", {})
            if on_failure.get("Destination") != getatt("DispatchFailureQueue"):
                problems.append("DispatchFunction: event %s sends failed batches to %r, expected DispatchFailureQueue"
                                % (name, on_failure.get("Destination")))


def check_secrets(resources, functions, problems):
    """Each secret is read by exactly its one function, which is told its ARN."""
    secrets = {k for k, v in resources.items() if v.get("Type") == "AWS::SecretsManager::Secret"}
    if secrets != set(SECRET_READERS):
        problems.append("secrets %s, expected %s (add new ones to SECRET_READERS)" % (sorted(secrets), sorted(SECRET_READERS)))
    for resource, (reader, env_var, condition, parameter) in SECRET_READERS.items():
        arn = secret_arn(condition, resource, parameter)
        if resource in resources and resources[resource].get("Condition") != condition:
            problems.append("%s: condition %r, expected %s" % (resource, resources[resource].get("Condition"), condition))
        for name, fn in functions.items():
            props = fn["Properties"]
            reads = [p for p in props.get("Policies", [])
                     if isinstance(p, dict) and p.get("AWSSecretsManagerGetSecretValuePolicy", {}).get("SecretArn") == arn]
            told = {k for k, v in props.get("Environment", {}).get("Variables", {}).items() if v == arn}
            if name == reader:
                if len(reads) != 1:
                    problems.append("%s: reads %s %d times, expected once" % (name, resource, len(reads)))
                if told != {env_var}:
                    problems.append("%s: gets the ARN of %s in %s, expected %s" % (name, resource, sorted(told), env_var))
            else:
                if reads:
                    problems.append("%s: may read %s, which only %s reads" % (name, resource, reader))
                if told:
                    problems.append("%s: is given the ARN of %s (%s), which only %s reads" % (name, resource, sorted(told), reader))


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "template.yaml")
    template = cfn_yaml.load(path)
    resources = template["Resources"]
    problems = []
    functions = {k: v for k, v in resources.items() if v.get("Type") == "AWS::Serverless::Function"}
    if set(functions) != set(EXPECTED_TEMPLATES):
        problems.append("functions %s, expected %s" % (sorted(functions), sorted(EXPECTED_TEMPLATES)))
    for name, fn in functions.items():
        templates, statements = [], []
        for policy in fn["Properties"].get("Policies", []):
            if isinstance(policy, str):
                problems.append("%s: managed policy %r (too broad to review here)" % (name, policy))
            elif "Statement" in policy:
                statements.extend(policy["Statement"])
            else:
                templates.extend({k: v} for k, v in policy.items())
        extra, missing = unmatched(templates, EXPECTED_TEMPLATES.get(name, []))
        if extra or missing:
            problems.append("%s: policy templates not expected %r, expected but missing %r" % (name, extra, missing))
        allowed = set()
        for st in statements:
            actions = st.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            targets = st.get("Resource", [])
            targets = [targets] if not isinstance(targets, list) else targets
            if "NotAction" in st or "NotResource" in st:
                problems.append("%s: NotAction/NotResource in %s" % (name, st.get("Sid")))
            if st.get("Effect") != "Allow":
                continue
            for a in actions:
                if "*" in a:
                    problems.append("%s: wildcard action %s" % (name, a))
            for r in targets:
                if is_wildcard(r):
                    problems.append("%s: wildcard resource in %s" % (name, st.get("Sid")))
            if name == "WorkerFunction" and targets != WORKER_TABLES:
                problems.append("%s: statement %s targets %r, expected the two tables" % (name, st.get("Sid"), targets))
            allowed.update(actions)
        if name == "IngestFunction" and statements:
            problems.append("IngestFunction: inline statements %r (it only sends to the queue and reads its secrets)" % statements)
        if name == "WorkerFunction":
            used = dynamodb_calls()
            if allowed - used:
                problems.append("WorkerFunction: allowed but never called: %s" % sorted(allowed - used))
            if used - allowed:
                problems.append("WorkerFunction: called but not allowed: %s" % sorted(used - allowed))
            events = fn["Properties"].get("Events", {})
            kinds = {e["Type"] for e in events.values()}
            if kinds != {"SQS"} or len(events) != 1:
                problems.append("WorkerFunction: events %r, expected one SQS source" % events)
        if name == "DispatchFunction":
            check_dispatch(fn, [st for st in statements if st.get("Effect") == "Allow"], problems)
    check_secrets(resources, functions, problems)
    if problems:
        print("IAM check failed:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print("IAM check: %d functions, each with exactly its own permissions, no wildcards; "
          "%d secrets, each readable by its one function" % (len(functions), len(SECRET_READERS)))


if __name__ == "__main__":
    main()
