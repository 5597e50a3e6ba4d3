#!/usr/bin/env python3
"""Least-privilege check of template.yaml, run by infra/test.sh.

For each Lambda function: the exact set of permissions it is given (SAM
policy templates with their target resource, inline statements), no wildcard
action or resource, and for the worker, that the DynamoDB actions allowed are
exactly those the DynamoDB adapter calls (so a new call without a policy
change, or a policy left wider than the code, fails here).

    .venv/bin/python infra/check_iam.py      # cfn-lint's YAML loader reads the !Tags
"""
import pathlib
import re
import sys

from cfnlint.decode import cfn_yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent

# What each function may hold: SAM policy template -> the resource it names.
EXPECTED_TEMPLATES = {
    "IngestFunction": {
        "SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["NotificationQueue", "QueueName"]}},
        "AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Fn::If": [
            "CreateWebhookSecret", {"Ref": "WebhookSecret"}, {"Ref": "ExistingWebhookSecretArn"}]}},
    },
    "WorkerFunction": {
        "AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Fn::If": [
            "CreateApiKeySecret", {"Ref": "ApiKeySecret"}, {"Ref": "ExistingApiKeySecretArn"}]}},
    },
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


def main():
    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    resources = template["Resources"]
    problems = []
    functions = {k: v for k, v in resources.items() if v.get("Type") == "AWS::Serverless::Function"}
    if set(functions) != set(EXPECTED_TEMPLATES):
        problems.append("functions %s, expected %s" % (sorted(functions), sorted(EXPECTED_TEMPLATES)))
    for name, fn in functions.items():
        templates, statements = {}, []
        for policy in fn["Properties"].get("Policies", []):
            if isinstance(policy, str):
                problems.append("%s: managed policy %r (too broad to review here)" % (name, policy))
            elif "Statement" in policy:
                statements.extend(policy["Statement"])
            else:
                templates.update(policy)
        if templates != EXPECTED_TEMPLATES.get(name):
            problems.append("%s: policy templates %r, expected %r" % (name, templates, EXPECTED_TEMPLATES.get(name)))
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
            problems.append("IngestFunction: inline statements %r (it only sends to the queue and reads its secret)" % statements)
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
    if problems:
        print("IAM check failed:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print("IAM check: %d functions, each with exactly its own permissions, no wildcards" % len(functions))


if __name__ == "__main__":
    main()
