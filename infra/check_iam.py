#!/usr/bin/env python3
"""Least-privilege check of template.yaml, run by infra/test.sh.

For each Lambda function: the exact set of permissions it is given (SAM
policy templates with their target resource, inline statements), no wildcard
action or resource, and for the worker, that the DynamoDB actions allowed are
exactly those the DynamoDB adapter calls, reconcile's file aside (so a new call without a policy
change, or a policy left wider than the code, fails here; a transaction needs
the actions of its items, TransactWriteItems is no IAM action). The worker's
only other grant is ses:SendEmail for acknowledgements, present only under
the condition HasAckFromAddress (AckFromAddress set) and exactly on the
identities of that address and of its domain, plus the configuration set
under HasAckConfigurationSet (WORKER_SES_GRANTS); SES is granted to no other
function and never on a wildcard. With SES receiving (condition
ReceiveWithSes, SesReceivingDomain set) the worker also has s3:GetObject on
exactly the inbound/ objects of the inbound mail bucket (WORKER_RAW_MAIL), and
without it no S3 action; no other function has any S3 action, and no S3
resource is a wildcard but that object prefix. The bucket policy allows only
ses.amazonaws.com s3:PutObject on those objects, as this stack's receipt rule
of this account (aws:SourceArn, aws:SourceAccount), and denies requests not
over TLS; the notification queue's policy allows only s3.amazonaws.com
sqs:SendMessage from that bucket of this account (check_ses_receiving).
Statements wrapped in Fn::If are checked under every combination of their
conditions. For dispatch,
exactly the (action, resource) pairs of DISPATCH_GRANTS: it reads the tickets
stream and the events retry queue, sends to the events DLQ and the stream's
failure queue, publishes to the bus, and never writes a table. For reconcile,
exactly RECONCILE_GRANTS: GetItem, PutItem and BatchGetItem on the
idempotency table (its cursors and the known-message reads; the same actions
its DynamoDB adapter, crates/dynamodb/src/reconcile.rs, calls), besides
sending to the notification queue and reading the API key; its environment
is exactly RECONCILE_ENV and its one event a ScheduleV2 schedule. Every
secret (created by the stack or passed in as an ARN) is readable by exactly
the functions listed for it in SECRET_READERS (the Nylas API key by the
worker and reconcile, every other secret by one function), which are also
the ones whose environment names it.

    .venv/bin/python infra/check_iam.py [TEMPLATE]   # cfn-lint's YAML loader reads the !Tags

What SAM adds itself (AWSLambdaBasicExecutionRole, the managed execution
roles of SQS and DynamoDB stream event sources, and the role of reconcile's
schedule, allowed lambda:InvokeFunction on that function only) is not in the
template and not checked here.
"""
import pathlib
import re
import sys

from cfnlint.decode import cfn_yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent



def secret_arn(condition, resource, parameter):
    """The ARN of a secret the stack creates unless its parameter names one."""
    return {"Fn::If": [condition, {"Ref": resource}, {"Ref": parameter}]}


# Every secret (the created resource): (the functions allowed to read it, the
# environment variable that passes each of them its ARN, condition, parameter
# with an existing ARN).
SECRET_READERS = {
    "WebhookSecret": (("IngestFunction",), "NYLAS_WEBHOOK_SECRET_ARN",
                      "CreateWebhookSecret", "ExistingWebhookSecretArn"),
    "InboundWebhookSecrets": (("IngestFunction",), "INBOUND_WEBHOOK_SECRETS_ARN",
                              "CreateInboundWebhookSecrets", "InboundWebhookSecretsArn"),
    # The worker fetches messages with it; reconcile lists them and reads webhook health.
    "ApiKeySecret": (("WorkerFunction", "ReconcileFunction"), "NYLAS_API_KEY_ARN",
                     "CreateApiKeySecret", "ExistingApiKeySecretArn"),
    "DestinationSecrets": (("DispatchFunction",), "DESTINATION_SECRETS_ARN",
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
    "ReconcileFunction": [
        {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["NotificationQueue", "QueueName"]}}},
        secret_policy("ApiKeySecret"),
    ],
}
WORKER_TABLES = [{"Fn::GetAtt": ["IdempotencyTable", "Arn"]}, {"Fn::GetAtt": ["TicketsTable", "Arn"]}]

# Acknowledgements of the signed inbound family: SESv2 SendEmail from
# ACK_FROM_ADDRESS. SES authorizes the sending identity (the address, or its
# domain when only that is verified) and the configuration set, if named.
SES_ARN = "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:"
SES_ADDRESS_IDENTITY = {"Fn::Sub": SES_ARN + "identity/${AckFromAddress}"}
SES_DOMAIN_IDENTITY = {"Fn::Sub": [SES_ARN + "identity/${AckFromDomain}",
                                   {"AckFromDomain": {"Fn::Select": [1, {"Fn::Split": ["@", {"Ref": "AckFromAddress"}]}]}}]}
SES_CONFIGURATION_SET = {"Fn::Sub": SES_ARN + "configuration-set/${AckSesConfigurationSet}"}
# Conditions the SES grants depend on, with their expected definitions.
ACK_CONDITIONS = {
    "HasAckFromAddress": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AckFromAddress"}, ""]}]},
    "HasAckConfigurationSet": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AckSesConfigurationSet"}, ""]}]},
}
# The worker's environment must name the same address and configuration set.
WORKER_ACK_ENV = {"ACK_FROM_ADDRESS": {"Ref": "AckFromAddress"},
                  "ACK_SES_CONFIGURATION_SET": {"Ref": "AckSesConfigurationSet"}}


# SES receiving (#16): SES writes each raw message under inbound/ of the
# inbound mail bucket; the worker only reads those objects.
SES_RECEIVING_CONDITIONS = {
    "ReceiveWithSes": {"Fn::Not": [{"Fn::Equals": [{"Ref": "SesReceivingDomain"}, ""]}]},
    "CreateReceiptRuleSet": {"Fn::And": [{"Condition": "ReceiveWithSes"},
                                         {"Fn::Equals": [{"Ref": "SesReceiptRuleSetName"}, ""]}]},
}
INBOUND_PREFIX = "inbound/"
WORKER_RAW_MAIL = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${InboundMailBucket}/" + INBOUND_PREFIX + "*"}
WORKER_SES_RECEIVING_ENV = {"SES_MAIL_BUCKET": {"Fn::If": ["ReceiveWithSes", {"Ref": "InboundMailBucket"}, ""]}}
# The bucket's name, known before it exists (the queue policy names it; the
# stack id's UUID keeps it lower case and unique).
INBOUND_BUCKET_NAME = {"Fn::Join": ["-", ["inbox-triage-inbound",
                                          {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]]}
INBOUND_BUCKET_ARN = {"Fn::Sub": ["arn:${AWS::Partition}:s3:::${Bucket}", {"Bucket": INBOUND_BUCKET_NAME}]}
RECEIPT_RULE_SET = {"Fn::If": ["CreateReceiptRuleSet", {"Ref": "ReceiptRuleSet"}, {"Ref": "SesReceiptRuleSetName"}]}
RECEIPT_RULE_NAME = {"Ref": "AWS::StackName"}
RECEIPT_RULE_ARN = {"Fn::Sub": [SES_ARN + "receipt-rule-set/${RuleSet}:receipt-rule/${AWS::StackName}",
                                {"RuleSet": RECEIPT_RULE_SET}]}
THIS_ACCOUNT = {"Ref": "AWS::AccountId"}
# Every resource of these types, each only under ReceiveWithSes.
SES_RECEIVING_RESOURCES = {
    "AWS::S3::Bucket": {"InboundMailBucket"},
    "AWS::S3::BucketPolicy": {"InboundMailBucketPolicy"},
    "AWS::SQS::QueuePolicy": {"NotificationQueueS3Policy"},
    "AWS::SES::ReceiptRuleSet": {"ReceiptRuleSet"},
    "AWS::SES::ReceiptRule": {"ReceiptRule"},
}
# The only Allow statement of each resource policy: (principal service,
# action, resource, its StringEquals conditions).
BUCKET_POLICY_ALLOW = ("ses.amazonaws.com", "s3:PutObject", WORKER_RAW_MAIL,
                       {"aws:SourceAccount": THIS_ACCOUNT, "aws:SourceArn": RECEIPT_RULE_ARN})
QUEUE_POLICY_ALLOW = ("s3.amazonaws.com", "sqs:SendMessage", {"Fn::GetAtt": ["NotificationQueue", "Arn"]},
                      {"aws:SourceAccount": THIS_ACCOUNT, "aws:SourceArn": INBOUND_BUCKET_ARN})
# The bucket policy's only Deny: any request not over TLS.
BUCKET_POLICY_DENY = {
    "Effect": "Deny", "Principal": "*", "Action": "s3:*",
    "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:s3:::${InboundMailBucket}"},
                 {"Fn::Sub": "arn:${AWS::Partition}:s3:::${InboundMailBucket}/*"}],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


# Redelivery: delayed copies on its own queue, dead letters with their reason.
WORKER_REDELIVERY = [("sqs:SendMessage", {"Fn::GetAtt": ["NotificationQueue", "Arn"]}),
                     ("sqs:SendMessage", {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]})]
WORKER_REDELIVERY_ENV = {"QUEUE_URL": {"Ref": "NotificationQueue"}, "DLQ_URL": {"Ref": "DeadLetterQueue"}}


def worker_grants(conditions):
    """The worker's (action, resource) grants besides the tables under these condition values."""
    grants = list(WORKER_REDELIVERY)
    if conditions.get("ReceiveWithSes"):
        grants.append(("s3:GetObject", WORKER_RAW_MAIL))
    if not conditions.get("HasAckFromAddress"):
        return grants
    grants += [("ses:SendEmail", SES_ADDRESS_IDENTITY), ("ses:SendEmail", SES_DOMAIN_IDENTITY)]
    if conditions.get("HasAckConfigurationSet"):
        grants.append(("ses:SendEmail", SES_CONFIGURATION_SET))
    return grants

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

# Reconcile's inline statements, as (action, resource): its cursors
# (GetItem, PutItem of reconcile#<provider>#<grant>) and the known-message
# reads (BatchGetItem) on the idempotency table; never the tickets table.
RECONCILE_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchGetItem"]
RECONCILE_GRANTS = [(a, getatt("IdempotencyTable")) for a in RECONCILE_ACTIONS]
RECONCILE_SID = "ReconcileState"
# Its DynamoDB adapter (the worker's check leaves this file out).
RECONCILE_ADAPTER = pathlib.Path("crates") / "dynamodb" / "src" / "reconcile.rs"
# Its whole environment.
RECONCILE_ENV = {
    "IDEMPOTENCY_TABLE": {"Ref": "IdempotencyTable"},
    "QUEUE_URL": {"Ref": "NotificationQueue"},
    "NYLAS_API_URI": {"Ref": "NylasApiUri"},
    "NYLAS_API_KEY_ARN": secret_arn("CreateApiKeySecret", "ApiKeySecret", "ExistingApiKeySecretArn"),
    "RECONCILE_GRANTS": {"Ref": "ReconcileGrants"},
    "RECONCILE_REACTIVATE": {"Ref": "ReconcileReactivate"},
}
RECONCILE_SCHEDULE = {"Fn::Sub": "rate(${ReconcileEveryMinutes} minutes)"}


def camel(snake):
    return "".join(p.capitalize() for p in snake.split("_"))


# Items of a transaction, authorized as these actions (there is no IAM action
# TransactWriteItems / TransactGetItems).
TRANSACTION_ITEMS = {"Put": "put_item", "Update": "update_item", "Delete": "delete_item",
                     "ConditionCheck": "condition_check_item", "Get": "get_item"}


def dynamodb_calls(paths=None):
    """DynamoDB operations the adapter crate calls (or these of its files), as IAM action names.

    By default every file but reconcile's adapter, which only reconcile uses."""
    calls = set()
    if paths is None:
        # capacity/ meters calls made through a client (benchmarks); it
        # makes calls only in its own tests.
        capacity = ROOT / "crates" / "dynamodb" / "src" / "capacity"
        paths = [p for p in sorted((ROOT / "crates" / "dynamodb" / "src").rglob("*.rs"))
                 if p != ROOT / RECONCILE_ADAPTER and capacity not in p.parents]
    for path in paths:
        text = path.read_text()
        calls.update(re.findall(r"\.(get_item|put_item|update_item|delete_item|batch_get_item|"
                                r"batch_write_item|transact_write_items|transact_get_items|query|scan)\(\)",
                                text))
        # The shared BatchGetItem helper (crates/dynamodb/src/batch.rs).
        if re.search(r"batch::batch_get\(", text):
            calls.add("batch_get_item")
        for item, call in TRANSACTION_ITEMS.items():
            if re.search(r"(?<![A-Za-z0-9_])%s::builder" % item, text):
                calls.add(call)
    calls -= {"transact_write_items", "transact_get_items"}
    return {"dynamodb:" + camel(c) for c in calls - CLI_ONLY_CALLS}


NO_VALUE = {"Ref": "AWS::NoValue"}


def if_conditions(node):
    """Names of the conditions of every Fn::If in node."""
    found = set()
    if isinstance(node, dict):
        if "Fn::If" in node and isinstance(node["Fn::If"], list) and node["Fn::If"]:
            found.add(node["Fn::If"][0])
        for v in node.values():
            found |= if_conditions(v)
    elif isinstance(node, list):
        for v in node:
            found |= if_conditions(v)
    return found


def resolve(node, conditions):
    """node with every Fn::If decided by conditions and AWS::NoValue left out (None if node is one)."""
    if isinstance(node, dict):
        if list(node) == ["Fn::If"]:
            condition, yes, no = node["Fn::If"]
            return resolve(yes if conditions[condition] else no, conditions)
        if node == NO_VALUE:
            return None
        out = {}
        for k, v in node.items():
            r = resolve(v, conditions)
            if r is not None:
                out[k] = r
        return out
    if isinstance(node, list):
        return [r for r in (resolve(v, conditions) for v in node) if r is not None]
    return node


def assignments(names):
    """Every combination of true/false for the conditions names."""
    combos = [{}]
    for name in sorted(names):
        combos = [dict(c, **{name: value}) for c in combos for value in (False, True)]
    return combos


def sub_text(resource):
    """The string of a resource, or of its Fn::Sub; None for other intrinsics."""
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        resource = resource["Fn::Sub"]
        resource = resource[0] if isinstance(resource, list) else resource
    return resource if isinstance(resource, str) else None


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
    resource = sub_text(resource)
    return resource is not None and (resource == "*" or resource.endswith(":*"))


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


def check_reconcile(fn, statements, problems):
    """Reconcile: exactly RECONCILE_GRANTS in one statement, its environment, one schedule."""
    grants = []
    for st in statements:
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        targets = st.get("Resource", [])
        targets = [targets] if not isinstance(targets, list) else targets
        if st.get("Sid") != RECONCILE_SID:
            problems.append("ReconcileFunction: statement %r, expected only %s" % (st.get("Sid"), RECONCILE_SID))
        grants.extend((a, r) for a in actions for r in targets)
    extra, missing = unmatched(grants, RECONCILE_GRANTS)
    if extra or missing:
        problems.append("ReconcileFunction: grants not expected %r, expected but missing %r" % (extra, missing))
    adapter = ROOT / RECONCILE_ADAPTER
    if adapter.exists():
        used = dynamodb_calls([adapter])
        if used != set(RECONCILE_ACTIONS):
            problems.append("ReconcileFunction: %s calls %s, the policy allows %s"
                            % (RECONCILE_ADAPTER, sorted(used), sorted(RECONCILE_ACTIONS)))
    else:
        problems.append("ReconcileFunction: %s not found (its DynamoDB calls cannot be checked)" % RECONCILE_ADAPTER)
    env = fn["Properties"].get("Environment", {}).get("Variables", {})
    for var in sorted(set(env) | set(RECONCILE_ENV)):
        if var not in RECONCILE_ENV:
            problems.append("ReconcileFunction: environment %s not expected (exactly %s)" % (var, sorted(RECONCILE_ENV)))
        elif env.get(var) != RECONCILE_ENV[var]:
            problems.append("ReconcileFunction: environment %s is %r, expected %r" % (var, env.get(var), RECONCILE_ENV[var]))
    events = fn["Properties"].get("Events", {})
    kinds = [e.get("Type") for e in events.values()]
    if kinds != ["ScheduleV2"]:
        problems.append("ReconcileFunction: events of types %s, expected one ScheduleV2" % kinds)
    for name, event in events.items():
        props = event.get("Properties", {})
        if event.get("Type") == "ScheduleV2" and props.get("ScheduleExpression") != RECONCILE_SCHEDULE:
            problems.append("ReconcileFunction: event %s runs on %r, expected %r"
                            % (name, props.get("ScheduleExpression"), RECONCILE_SCHEDULE))
        if props.get("RoleArn"):
            problems.append("ReconcileFunction: event %s has its own RoleArn (SAM's role only invokes this function)" % name)


def check_secrets(resources, functions, problems):
    """Each secret is read by exactly its functions, each told its ARN, and by no other."""
    secrets = {k for k, v in resources.items() if v.get("Type") == "AWS::SecretsManager::Secret"}
    if secrets != set(SECRET_READERS):
        problems.append("secrets %s, expected %s (add new ones to SECRET_READERS)" % (sorted(secrets), sorted(SECRET_READERS)))
    for resource, (readers, env_var, condition, parameter) in SECRET_READERS.items():
        arn = secret_arn(condition, resource, parameter)
        only = " and ".join(readers)
        if resource in resources and resources[resource].get("Condition") != condition:
            problems.append("%s: condition %r, expected %s" % (resource, resources[resource].get("Condition"), condition))
        for reader in readers:
            if reader not in functions:
                problems.append("%s: read by %s, which is not in the template" % (resource, reader))
        for name, fn in functions.items():
            props = fn["Properties"]
            reads = [p for p in props.get("Policies", [])
                     if isinstance(p, dict) and p.get("AWSSecretsManagerGetSecretValuePolicy", {}).get("SecretArn") == arn]
            told = {k for k, v in props.get("Environment", {}).get("Variables", {}).items() if v == arn}
            if name in readers:
                if len(reads) != 1:
                    problems.append("%s: reads %s %d times, expected once" % (name, resource, len(reads)))
                if told != {env_var}:
                    problems.append("%s: gets the ARN of %s in %s, expected %s" % (name, resource, sorted(told), env_var))
            else:
                if reads:
                    problems.append("%s: may read %s, which only %s read(s)" % (name, resource, only))
                if told:
                    problems.append("%s: is given the ARN of %s (%s), which only %s read(s)" % (name, resource, sorted(told), only))


def check_statements(name, fn, statements, conditions, problems):
    """One function's inline statements, Fn::If already decided by conditions."""
    when = " (when %s)" % ", ".join("%s=%s" % kv for kv in sorted(conditions.items())) if conditions else ""
    allowed = set()
    other_grants = []
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
            if a.lower().startswith("ses:"):
                if name != "WorkerFunction":
                    problems.append("%s: %s in %s (only the worker sends acknowledgements)" % (name, a, st.get("Sid")))
                for r in targets:
                    text = sub_text(r)
                    if text is None or "*" in text:
                        problems.append("%s: %s on %r in %s (only named SES identities)" % (name, a, r, st.get("Sid")))
            if a.lower().startswith("s3:"):
                if name != "WorkerFunction":
                    problems.append("%s: %s in %s (only the worker reads raw mail)" % (name, a, st.get("Sid")))
                for r in targets:
                    if r != WORKER_RAW_MAIL:
                        problems.append("%s: %s on %r in %s (only the inbound/ objects of the inbound mail bucket)"
                                        % (name, a, r, st.get("Sid")))
        for r in targets:
            if is_wildcard(r):
                problems.append("%s: wildcard resource in %s" % (name, st.get("Sid")))
        if name == "WorkerFunction":
            if actions and all(a.lower().startswith("dynamodb:") for a in actions):
                if targets != WORKER_TABLES:
                    problems.append("%s: statement %s targets %r, expected the two tables" % (name, st.get("Sid"), targets))
                allowed.update(actions)
            else:
                other_grants.extend((a, r) for a in actions for r in targets)
    if name == "WorkerFunction":
        used = dynamodb_calls()
        if allowed - used:
            problems.append("WorkerFunction: allowed but never called: %s" % sorted(allowed - used))
        if used - allowed:
            problems.append("WorkerFunction: called but not allowed: %s" % sorted(used - allowed))
        extra, missing = unmatched(other_grants, worker_grants(conditions))
        if extra or missing:
            problems.append("WorkerFunction%s: grants besides the tables not expected %r, expected but missing %r"
                            % (when, extra, missing))
    if name == "DispatchFunction":
        check_dispatch(fn, [st for st in statements if st.get("Effect") == "Allow"], problems)
    if name == "ReconcileFunction":
        check_reconcile(fn, [st for st in statements if st.get("Effect") == "Allow"], problems)


# The only resource-based permissions on functions: the ingest function URL's
# public pair, only when the stack is asked for it (IngestFunctionUrl=true).
PUBLIC_PERMISSIONS = {
    "IngestUrlInvokePermission": {"Action": "lambda:InvokeFunctionUrl", "FunctionUrlAuthType": "NONE"},
    "IngestUrlFunctionPermission": {"Action": "lambda:InvokeFunction", "InvokedViaFunctionUrl": True},
}


def policy_statements(document):
    """The statements of a resource policy (a statement under Fn::If has no Effect: never matches)."""
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    return [statements] if isinstance(statements, dict) else statements


def check_allow(name, statements, want, problems):
    """Exactly one Allow statement: want's service, action, resource and StringEquals conditions."""
    service, action, resource, conditions = want
    allows = [st for st in statements if st.get("Effect") == "Allow"]
    if len(allows) != 1:
        problems.append("%s: %d Allow statements, expected exactly one (%s %s)" % (name, len(allows), service, action))
    for st in allows:
        if "NotAction" in st or "NotResource" in st or "NotPrincipal" in st:
            problems.append("%s: NotAction/NotResource/NotPrincipal in %s" % (name, st.get("Sid")))
        if st.get("Principal") != {"Service": service}:
            problems.append("%s: %s allows %r, expected only the service %s" % (name, st.get("Sid"), st.get("Principal"), service))
        actions = st.get("Action")
        if (actions if isinstance(actions, list) else [actions]) != [action]:
            problems.append("%s: %s allows %r, expected only %s" % (name, st.get("Sid"), actions, action))
        targets = st.get("Resource")
        if (targets if isinstance(targets, list) else [targets]) != [resource]:
            problems.append("%s: %s on %r, expected only %r" % (name, st.get("Sid"), targets, resource))
        if st.get("Condition") != {"StringEquals": conditions}:
            problems.append("%s: %s conditions %r, expected StringEquals %r (aws:SourceArn and aws:SourceAccount)"
                            % (name, st.get("Sid"), st.get("Condition"), conditions))


def check_ses_receiving(template, problems):
    """SES receiving: its resources only under ReceiveWithSes; the bucket and queue policies
    let only SES write the objects (as this stack's receipt rule) and only this bucket notify the queue."""
    resources = template["Resources"]
    conditions = template.get("Conditions", {})
    for condition, definition in SES_RECEIVING_CONDITIONS.items():
        if conditions.get(condition) != definition:
            problems.append("condition %s is %r, expected %r" % (condition, conditions.get(condition), definition))
    for kind, names in SES_RECEIVING_RESOURCES.items():
        found = {k for k, v in resources.items() if v.get("Type") == kind}
        if found != names:
            problems.append("%s resources %s, expected %s" % (kind, sorted(found), sorted(names)))
        for name in names & found:
            want = "CreateReceiptRuleSet" if kind == "AWS::SES::ReceiptRuleSet" else "ReceiveWithSes"
            if resources[name].get("Condition") != want:
                problems.append("%s: condition %r, expected %s" % (name, resources[name].get("Condition"), want))

    bucket = resources.get("InboundMailBucket", {})
    props = bucket.get("Properties", {})
    if props.get("BucketName") != INBOUND_BUCKET_NAME:
        problems.append("InboundMailBucket: BucketName %r, expected %r (the queue policy names it)"
                        % (props.get("BucketName"), INBOUND_BUCKET_NAME))
    block = props.get("PublicAccessBlockConfiguration", {})
    for key in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
        if block.get(key) is not True:
            problems.append("InboundMailBucket: PublicAccessBlockConfiguration.%s is not true" % key)
    queues = props.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
    if [q.get("Queue") for q in queues] != [{"Fn::GetAtt": ["NotificationQueue", "Arn"]}]:
        problems.append("InboundMailBucket: notifies %r, expected only NotificationQueue" % [q.get("Queue") for q in queues])
    depends = bucket.get("DependsOn", [])
    if "NotificationQueueS3Policy" not in ([depends] if isinstance(depends, str) else depends):
        problems.append("InboundMailBucket: does not depend on NotificationQueueS3Policy (S3 checks the queue on creation)")

    policy = resources.get("InboundMailBucketPolicy", {}).get("Properties", {})
    if policy.get("Bucket") != {"Ref": "InboundMailBucket"}:
        problems.append("InboundMailBucketPolicy: on %r, expected InboundMailBucket" % policy.get("Bucket"))
    statements = policy_statements(policy.get("PolicyDocument"))
    check_allow("InboundMailBucketPolicy", statements, BUCKET_POLICY_ALLOW, problems)
    for st in statements:
        if st.get("Effect") != "Allow" and {k: v for k, v in st.items() if k != "Sid"} != BUCKET_POLICY_DENY:
            problems.append("InboundMailBucketPolicy: statement %s is %r, expected only the TLS deny %r"
                            % (st.get("Sid"), st, BUCKET_POLICY_DENY))

    policy = resources.get("NotificationQueueS3Policy", {}).get("Properties", {})
    if policy.get("Queues") != [{"Ref": "NotificationQueue"}]:
        problems.append("NotificationQueueS3Policy: on %r, expected NotificationQueue" % policy.get("Queues"))
    statements = policy_statements(policy.get("PolicyDocument"))
    check_allow("NotificationQueueS3Policy", statements, QUEUE_POLICY_ALLOW, problems)
    for st in statements:
        if st.get("Effect") != "Allow":
            problems.append("NotificationQueueS3Policy: statement %s not expected" % st.get("Sid"))

    # The SourceArn above must name the rule that writes, into that bucket's inbound/.
    rule = resources.get("ReceiptRule", {}).get("Properties", {})
    if rule.get("RuleSetName") != RECEIPT_RULE_SET or rule.get("Rule", {}).get("Name") != RECEIPT_RULE_NAME:
        problems.append("ReceiptRule: in %r named %r, expected in %r named %r (the bucket policy's aws:SourceArn)"
                        % (rule.get("RuleSetName"), rule.get("Rule", {}).get("Name"), RECEIPT_RULE_SET, RECEIPT_RULE_NAME))
    actions = rule.get("Rule", {}).get("Actions", [])
    s3 = [a["S3Action"] for a in actions if "S3Action" in a]
    if s3 != [{"BucketName": {"Ref": "InboundMailBucket"}, "ObjectKeyPrefix": INBOUND_PREFIX}]:
        problems.append("ReceiptRule: S3 actions %r, expected one into InboundMailBucket under %s" % (s3, INBOUND_PREFIX))
    depends = resources.get("ReceiptRule", {}).get("DependsOn", [])
    if "InboundMailBucketPolicy" not in ([depends] if isinstance(depends, str) else depends):
        problems.append("ReceiptRule: does not depend on InboundMailBucketPolicy (SES checks it may write on creation)")


def check_permissions(template, problems):
    resources = template["Resources"]
    permissions = {k: v for k, v in resources.items() if v.get("Type") == "AWS::Lambda::Permission"}
    if set(permissions) != set(PUBLIC_PERMISSIONS):
        problems.append("Lambda permissions %s, expected %s" % (sorted(permissions), sorted(PUBLIC_PERMISSIONS)))
    for name, want in PUBLIC_PERMISSIONS.items():
        perm = permissions.get(name)
        if perm is None:
            continue
        props = perm.get("Properties", {})
        if perm.get("Condition") != "CreateIngestFunctionUrl":
            problems.append("%s: not under the CreateIngestFunctionUrl condition" % name)
        if props.get("FunctionName") != {"Ref": "IngestFunction"}:
            problems.append("%s: on %r, expected the ingest function only" % (name, props.get("FunctionName")))
        for key, value in want.items():
            if props.get(key) != value:
                problems.append("%s: %s is %r, expected %r" % (name, key, props.get(key), value))
    url = resources.get("IngestUrl", {})
    if url.get("Condition") != "CreateIngestFunctionUrl" or url.get("Properties", {}).get("TargetFunctionArn") != {"Fn::GetAtt": ["IngestFunction", "Arn"]}:
        problems.append("IngestUrl: expected the ingest function's URL, only under CreateIngestFunctionUrl")
    if template.get("Conditions", {}).get("CreateIngestFunctionUrl") != {"Fn::Equals": [{"Ref": "IngestFunctionUrl"}, "true"]}:
        problems.append("condition CreateIngestFunctionUrl changed")


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
        # Statements under Fn::If: checked under every combination of their
        # conditions (and, for the worker, of those its SES and S3 grants depend on).
        names = if_conditions(statements) | (set(ACK_CONDITIONS) | {"ReceiveWithSes"} if name == "WorkerFunction" else set())
        for conditions in assignments(names):
            check_statements(name, fn, resolve(statements, conditions), conditions, problems)
        if name == "IngestFunction" and statements:
            problems.append("IngestFunction: inline statements %r (it only sends to the queue and reads its secrets)" % statements)
        if name == "WorkerFunction":
            env = fn["Properties"].get("Environment", {}).get("Variables", {})
            for var, value in {**WORKER_ACK_ENV, **WORKER_REDELIVERY_ENV, **WORKER_SES_RECEIVING_ENV}.items():
                if env.get(var) != value:
                    problems.append("WorkerFunction: environment %s is %r, expected %r" % (var, env.get(var), value))
            events = fn["Properties"].get("Events", {})
            kinds = {e["Type"] for e in events.values()}
            if kinds != {"SQS"} or len(events) != 1:
                problems.append("WorkerFunction: events %r, expected one SQS source" % events)
    for condition, definition in ACK_CONDITIONS.items():
        if template.get("Conditions", {}).get(condition) != definition:
            problems.append("condition %s is %r, expected %r" % (condition, template.get("Conditions", {}).get(condition), definition))
    check_secrets(resources, functions, problems)
    check_ses_receiving(template, problems)
    check_permissions(template, problems)
    problems = list(dict.fromkeys(problems))
    if problems:
        print("IAM check failed:\n  " + "\n  ".join(problems))
        sys.exit(1)
    shared = ["%s by %s" % (secret, " and ".join(readers))
              for secret, (readers, _, _, _) in SECRET_READERS.items() if len(readers) > 1]
    print("IAM check: %d functions, each with exactly its own permissions, no wildcards; "
          "%d secrets, each readable only by the functions that use it (%s; every other by one function); "
          "ses:SendEmail only for the worker, only with AckFromAddress, only on its identities and "
          "configuration set; s3:GetObject only for the worker, only with ReceiveWithSes, only on the "
          "inbound/ objects (SES may only put them, as this stack's receipt rule; only that bucket "
          "notifies the queue); public invoke only through the ingest function URL, only when "
          "IngestFunctionUrl=true" % (len(functions), len(SECRET_READERS), ", ".join(shared) or "none shared"))


if __name__ == "__main__":
    main()
