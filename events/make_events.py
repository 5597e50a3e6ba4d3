#!/usr/bin/env python3
"""Regenerate the sample events in events/ (re-signs everything).

    python3 events/make_events.py

API Gateway HTTP API (payload v2) events for the `ingest` Lambda, signed with
the documented test secret, built from the Nylas fixtures in
fixtures/nylas/ at the repository root (copied into events/nylas/ so the
events folder is complete on its own). SQS events for the `worker` Lambda wrap queue envelope v1.
"""
import base64
import gzip
import hashlib
import hmac
import json
import pathlib
import shutil

HERE = pathlib.Path(__file__).resolve().parent
SECRET = b"inbox-triage-test-secret"  # documented in events/README.md; never a real secret
FIXTURES = HERE.parent / "fixtures" / "nylas"
NYLAS = HERE / "nylas"
RECEIVED_AT_MS = 1763870401000


def fixture(name: str) -> bytes:
    """Fixture bytes from fixtures/nylas/, copied into events/nylas/."""
    NYLAS.mkdir(exist_ok=True)
    src, dst = FIXTURES / name, NYLAS / name
    shutil.copyfile(src, dst)
    return dst.read_bytes()


def compact(raw: bytes) -> bytes:
    return json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False).encode()


def sign(body: bytes) -> str:
    return hmac.new(SECRET, body, hashlib.sha256).hexdigest()


def apigw(method: str, query: str = "", body: bytes = b"", headers=None, b64=False) -> dict:
    h = {
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "Nylas-Webhooks/3",
        "content-type": "application/json",
    }
    h.update(headers or {})
    if body:
        h["content-length"] = str(len(body))
    event = {
        "version": "2.0",
        "routeKey": f"{method} /webhooks/nylas",
        "rawPath": "/webhooks/nylas",
        "rawQueryString": query,
        "headers": h,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": "/webhooks/nylas",
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.7",
                "userAgent": "Nylas-Webhooks/3",
            },
            "requestId": "req-" + hashlib.sha256(body + query.encode()).hexdigest()[:12],
            "routeKey": f"{method} /webhooks/nylas",
            "stage": "$default",
            "time": "23/Nov/2025:06:00:01 +0000",
            "timeEpoch": RECEIVED_AT_MS,
        },
        "isBase64Encoded": b64,
    }
    if query:
        event["queryStringParameters"] = dict(p.split("=", 1) for p in query.split("&"))
    if body:
        event["body"] = base64.b64encode(body).decode() if b64 else body.decode()
    return event


def write(name: str, event: dict) -> None:
    (HERE / name).write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")


def envelope(notification: dict, refetch: bool = False) -> dict:
    t = notification["type"]
    parts = t.split(".")
    suffixes = [p for p in parts[2:]]
    obj = notification["data"]["object"]
    env = {
        "envelope_version": 1,
        "provider": "nylas",
        "received_at_ms": RECEIVED_AT_MS,
        "notification_id": notification["id"],
        "type": t,
        "base_type": ".".join(parts[:2]),
        "suffixes": suffixes,
        "source": notification.get("source"),
        "grant_id": obj["grant_id"],
        "message_id": obj["id"],
        "delivery_attempt": notification.get("webhook_delivery_attempt"),
        "shape": "v3",
        "refetch": refetch,
    }
    if not refetch:
        env["notification"] = notification
    return env


def sqs_record(env: dict, n: int) -> dict:
    body = json.dumps(env, separators=(",", ":"), ensure_ascii=False)
    attrs = {
        k: {"stringValue": str(env[k]).lower() if isinstance(env[k], bool) else str(env[k]), "dataType": "String"}
        for k in ("provider", "notification_id", "type", "grant_id", "message_id", "refetch")
    }
    return {
        "messageId": f"0b1d2c3e-0000-4000-8000-00000000000{n}",
        "receiptHandle": f"AQEB-sample-receipt-{n}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(RECEIVED_AT_MS),
            "SenderId": "AROAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": str(RECEIVED_AT_MS + 20),
        },
        "messageAttributes": attrs,
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:inbox-triage-notifications",
        "awsRegion": "us-east-1",
    }


def main() -> None:
    created = compact(fixture("message.created.json"))
    truncated = compact(fixture("message.created.truncated.json"))
    cleaned = compact(fixture("message.created.cleaned.json"))
    deltas = compact(fixture("legacy-deltas.json"))
    sent = compact(fixture("message.created.sent-folder.json"))
    fixture("get-message-response.json")

    write("apigw-challenge.json", apigw("GET", "challenge=3b4ca5e1-challenge-value"))
    write("apigw-message-created.json",
          apigw("POST", body=created, headers={"x-nylas-signature": sign(created)}))
    write("apigw-message-created-truncated.json",
          apigw("POST", body=truncated, headers={"x-nylas-signature": sign(truncated)}))
    write("apigw-message-created-cleaned.json",
          apigw("POST", body=cleaned, headers={"x-nylas-signature": sign(cleaned)}))
    gz = gzip.compress(created, mtime=0)
    write("apigw-message-created-gzip.json",
          apigw("POST", body=gz, b64=True,
                headers={"x-nylas-signature": sign(gz), "content-encoding": "gzip"}))
    write("apigw-bad-signature.json",
          apigw("POST", body=created, headers={"x-nylas-signature": sign(created + b" ")}))
    write("apigw-missing-signature.json", apigw("POST", body=created))
    write("apigw-legacy-deltas.json",
          apigw("POST", body=deltas, headers={"x-nylas-signature": sign(deltas)}))

    n_created = json.loads(created)
    n_trunc = json.loads(truncated)
    n_sent = json.loads(sent)
    write("sqs-message-created.json", {"Records": [sqs_record(envelope(n_created), 1)]})
    write("sqs-message-created-truncated.json", {"Records": [sqs_record(envelope(n_trunc), 2)]})
    write("sqs-reference.json", {"Records": [sqs_record(envelope(n_trunc, refetch=True), 3)]})
    write("sqs-batch-mixed.json", {"Records": [
        sqs_record(envelope(n_created), 4),
        sqs_record(envelope(n_sent), 5),
        {**sqs_record(envelope(n_created), 6), "body": "{\"not\":\"an envelope\"}"},
    ]})


if __name__ == "__main__":
    main()
