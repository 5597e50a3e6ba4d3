"""Create the stack's queue, DLQ, tables and secrets in moto; print exports.

Names and settings follow template.yaml (visibility timeout, redrive, TTL).
"""
import json
import os

import boto3

prefix = os.environ.get("TRIAGE_LOCAL_PREFIX", "inbox-triage-local")
sqs = boto3.client("sqs")
ddb = boto3.client("dynamodb")
sm = boto3.client("secretsmanager")

dlq_url = sqs.create_queue(
    QueueName=f"{prefix}-dlq",
    Attributes={"MessageRetentionPeriod": str(14 * 24 * 3600)},
)["QueueUrl"]
dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
    "Attributes"
]["QueueArn"]
queue_url = sqs.create_queue(
    QueueName=f"{prefix}-notifications",
    Attributes={
        "VisibilityTimeout": "180",
        "MaximumMessageSize": str(256 * 1024),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
    },
)["QueueUrl"]


def table(name, key):
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )


idem = f"{prefix}-idempotency"
tickets = f"{prefix}-tickets"
table(idem, "pk")
table(tickets, "pk")

webhook_arn = sm.create_secret(
    Name=f"{prefix}/nylas-webhook-secret", SecretString="local-test-secret"
)["ARN"]
api_arn = sm.create_secret(Name=f"{prefix}/nylas-api-key", SecretString="local-api-key")["ARN"]
inbound_arn = sm.create_secret(
    Name=f"{prefix}/inbound-webhook-secrets", SecretString="local-test-secret"
)["ARN"]

for k, v in [
    ("QUEUE_URL", queue_url),
    ("DLQ_URL", dlq_url),
    ("IDEMPOTENCY_TABLE", idem),
    ("TICKETS_TABLE", tickets),
    ("NYLAS_WEBHOOK_SECRET_ARN", webhook_arn),
    ("NYLAS_API_KEY_ARN", api_arn),
    ("INBOUND_WEBHOOK_SECRETS_ARN", inbound_arn),
]:
    print(f"export {k}={v}")
