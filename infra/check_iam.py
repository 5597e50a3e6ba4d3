#!/usr/bin/env python3
"""Least-privilege check of template.yaml, run by infra/test.sh.

For each Lambda function: the exact set of permissions it is given (SAM
policy templates with their target resource, inline statements), no wildcard
action or resource, and for the worker, that the DynamoDB actions allowed are
exactly those the DynamoDB adapter calls (so a new call without a policy
change, or a policy left wider than the code, fails here). Every secret
(created by the stack or passed in as an ARN) is readable by exactly the one
function listed in SECRET_READERS, which is also the one whose environment
names it.

    .venv/bin/python infra/check_iam.py      # cfn-lint's YAML loader reads the !Tags
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
}
WORKER_TABLES = [{"Fn::GetAtt": ["IdempotencyTable", "Arn"]}, {"Fn::GetAtt": ["TicketsTable", "Arn"]}]
# SDK calls that only the `triage` CLI makes (listing tickets), never the worker.
CLI_ONLY_CALLS = {"scan"}


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
    template = cfn_yaml.load(str(ROOT / "template.yaml"))
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
            if st.get("Effect") != "Allow":
                continue
            for a in actions:
                if "*" in a:
                    problems.append("%s: wildcard action %s" % (name, a))
            for r in targets:
                if r == "*" or (isinstance(r, str) and r.endswith(":*")):
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
    check_secrets(resources, functions, problems)
    if problems:
        print("IAM check failed:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print("IAM check: %d functions, each with exactly its own permissions, no wildcards; "
          "%d secrets, each readable by its one function" % (len(functions), len(SECRET_READERS)))


if __name__ == "__main__":
    main()
