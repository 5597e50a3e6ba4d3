#!/usr/bin/env python3
"""Regenerate the sample events in events/ (re-signs everything).

    python3 events/make_events.py

API Gateway HTTP API (payload v2) events for the `ingest` Lambda, signed with
the documented test secret, built from the Nylas fixtures in
fixtures/nylas/ at the repository root (copied into events/nylas/ so the
events folder is complete on its own). SQS events for the `worker` Lambda wrap queue envelope v1.

The inbound-email family (POST /webhooks/inbound) is built the same way from
fixtures/inbound/ (copied into events/inbound/), signed with the same test
secret under Standard Webhooks v1 (webhook-id, webhook-timestamp,
webhook-signature) or the timestamped HMAC scheme (X-Webhook-Timestamp,
X-Webhook-Signature), at the fixed sample time INBOUND_TIMESTAMP.
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

INBOUND_FIXTURES = HERE.parent / "fixtures" / "inbound"
INBOUND = HERE / "inbound"
# Another made-up key: the first, non-matching entry of the rotated signature.
OLD_SECRET = b"inbox-triage-old-test-secret"
INBOUND_TIMESTAMP = 1764547200  # 2025-12-01T00:00:00Z, the sample signing time
INBOUND_RECEIVED_AT_MS = INBOUND_TIMESTAMP * 1000
INBOUND_TIME = "01/Dec/2025:00:00:00 +0000"  # requestContext.time of INBOUND_RECEIVED_AT_MS
INBOUND_PATH = "/webhooks/inbound"
INBOUND_USER_AGENT = "Inbound-Email-Webhooks/1"


def message_key(message_id: str) -> str:
    """The dedupe key of an RFC Message-ID (triage_core::inbound_email::message_key)."""
    normalised = message_id.strip().lstrip("<").rstrip(">").strip().lower()
    return "mid-" + hashlib.sha256(normalised.encode()).hexdigest()[:32]


def mailbox_key(address: str) -> str:
    """The scope key of a receiving mailbox (triage_core::inbound_email::mailbox_key)."""
    return "mbx-" + hashlib.sha256(address.strip().lower().encode()).hexdigest()[:24]


def fixture(name: str) -> bytes:
    """Fixture bytes from fixtures/nylas/, copied into events/nylas/."""
    NYLAS.mkdir(exist_ok=True)
    src, dst = FIXTURES / name, NYLAS / name
    shutil.copyfile(src, dst)
    return dst.read_bytes()


def inbound_fixtures() -> dict:
    """Every fixtures/inbound/*.json, copied into events/inbound/: name -> bytes."""
    INBOUND.mkdir(exist_ok=True)
    out = {}
    for src in sorted(INBOUND_FIXTURES.glob("*.json")):
        dst = INBOUND / src.name
        shutil.copyfile(src, dst)
        out[src.name] = dst.read_bytes()
    return out


def compact(raw: bytes) -> bytes:
    return json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False).encode()


def sign(body: bytes) -> str:
    return hmac.new(SECRET, body, hashlib.sha256).hexdigest()


def sign_standard(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """One Standard Webhooks v1 entry: v1,<base64 HMAC-SHA256 of "id.timestamp.body">."""
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def sign_timestamped(key: bytes, timestamp: int, body: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of "timestamp.body" (without the optional sha256= prefix)."""
    return hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def standard_headers(msg_id: str, signature: str, timestamp: int = INBOUND_TIMESTAMP) -> dict:
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def timestamped_headers(signature: str, timestamp: int = INBOUND_TIMESTAMP) -> dict:
    return {"x-webhook-timestamp": str(timestamp), "x-webhook-signature": signature}


def apigw(method: str, query: str = "", body: bytes = b"", headers=None, b64=False,
          path: str = "/webhooks/nylas", user_agent: str = "Nylas-Webhooks/3",
          time_ms: int = RECEIVED_AT_MS, time_text: str = "23/Nov/2025:06:00:01 +0000") -> dict:
    h = {
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": user_agent,
        "content-type": "application/json",
    }
    h.update(headers or {})
    if body:
        h["content-length"] = str(len(body))
    event = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": h,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.7",
                "userAgent": user_agent,
            },
            "requestId": "req-" + hashlib.sha256(body + query.encode()).hexdigest()[:12],
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": time_text,
            "timeEpoch": time_ms,
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


def inbound_apigw(body: bytes, headers=None) -> dict:
    """A POST /webhooks/inbound event received at the sample time."""
    return apigw("POST", body=body, headers=headers, path=INBOUND_PATH, user_agent=INBOUND_USER_AGENT,
                 time_ms=INBOUND_RECEIVED_AT_MS, time_text=INBOUND_TIME)


def inbound_envelope(payload: dict, notification_id: str) -> dict:
    """The queue envelope ingest writes for an inbound-email payload (scope = first envelope recipient)."""
    return {
        "envelope_version": 1,
        "provider": "inbound",
        "received_at_ms": INBOUND_RECEIVED_AT_MS,
        "notification_id": notification_id,
        "type": "message.created",
        "base_type": "message.created",
        "suffixes": [],
        "grant_id": mailbox_key(payload["envelope"]["to"][0]),
        "message_id": message_key(payload["message_id"]),
        "shape": "email_json",
        "refetch": False,
        "notification": payload,
    }


def sqs_record(env: dict, n: int, received_at_ms: int = RECEIVED_AT_MS) -> dict:
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
            "SentTimestamp": str(received_at_ms),
            "SenderId": "AROAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": str(received_at_ms + 20),
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

    inbound()


def inbound() -> None:
    """The inbound-email family: POST /webhooks/inbound events and one SQS event."""
    fx = inbound_fixtures()
    ticket = compact(fx["new-ticket.json"])
    reply = compact(fx["reply.json"])
    auto = compact(fx["auto-reply.json"])
    ts = INBOUND_TIMESTAMP

    ticket_headers = standard_headers("msg_2fQxSample0001", sign_standard(SECRET, "msg_2fQxSample0001", ts, ticket))
    write("apigw-inbound-standard.json", inbound_apigw(ticket, ticket_headers))
    # While rotating, the sender signs with every key it holds: any entry may match.
    rotated = " ".join([sign_standard(OLD_SECRET, "msg_2fQxSample0002", ts, reply),
                        sign_standard(SECRET, "msg_2fQxSample0002", ts, reply)])
    write("apigw-inbound-standard-rotated.json",
          inbound_apigw(reply, standard_headers("msg_2fQxSample0002", rotated)))
    write("apigw-inbound-timestamped.json",
          inbound_apigw(reply, timestamped_headers("sha256=" + sign_timestamped(SECRET, ts, reply))))
    write("apigw-inbound-auto-reply.json",
          inbound_apigw(auto, timestamped_headers(sign_timestamped(SECRET, ts, auto))))
    # The signed request of apigw-inbound-standard.json with one byte of its body changed.
    tampered = ticket.replace(b"error 500", b"error 501", 1)
    assert tampered != ticket and len(tampered) == len(ticket)
    write("apigw-inbound-tampered.json", inbound_apigw(tampered, ticket_headers))
    write("apigw-inbound-unsigned.json", inbound_apigw(ticket))

    write("sqs-inbound.json", {"Records": [
        sqs_record(inbound_envelope(json.loads(ticket), "msg_2fQxSample0001"), 7, INBOUND_RECEIVED_AT_MS),
    ]})


if __name__ == "__main__":
    main()
