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

Events for the `dispatch` Lambda (a tickets-table stream record per write,
an events retry queue message) carry the ticket events of the ticket the
worker makes of inbound/new-ticket.json and of the reply that joins it
(inbound/reply.json); what the worker decides for each is INBOUND_TRIAGE.
"""
import base64
import datetime
import email.utils as email_utils
import gzip
import hashlib
import hmac
import json
import pathlib
import shutil
import unicodedata

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


def function_url(event: dict) -> dict:
    """The same request as a Lambda function URL delivers it (IngestFunctionUrl=true):
    payload format 2.0 with routeKey $default, an anonymous account and the URL's domain."""
    url_id = "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6"
    domain = f"{url_id}.lambda-url.us-east-1.on.aws"
    out = json.loads(json.dumps(event))
    out["routeKey"] = "$default"
    out["headers"]["host"] = domain
    ctx = out["requestContext"]
    ctx.update({"accountId": "anonymous", "apiId": url_id, "domainName": domain,
                "domainPrefix": url_id, "routeKey": "$default"})
    return out


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


def sqs_record(env: dict, n: int, received_at_ms: int = RECEIVED_AT_MS, attributes=None,
               queue_arn: str = "arn:aws:sqs:us-east-1:123456789012:inbox-triage-notifications") -> dict:
    """One SQS record; the attributes default to the queue envelope's (notifications queue)."""
    body = json.dumps(env, separators=(",", ":"), ensure_ascii=False)
    if attributes is None:
        attributes = {
            k: str(env[k]).lower() if isinstance(env[k], bool) else str(env[k])
            for k in ("provider", "notification_id", "type", "grant_id", "message_id", "refetch")
        }
    attrs = {k: {"stringValue": v, "dataType": "String"} for k, v in attributes.items()}
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
        "eventSourceARN": queue_arn,
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
    write("furl-challenge.json", function_url(apigw("GET", "challenge=3b4ca5e1-challenge-value")))
    write("furl-message-created.json",
          function_url(apigw("POST", body=created, headers={"x-nylas-signature": sign(created)})))
    write("furl-bad-signature.json",
          function_url(apigw("POST", body=created, headers={"x-nylas-signature": sign(created + b" ")})))
    write("furl-unknown-route.json",
          function_url(apigw("POST", body=created, path="/admin", headers={"x-nylas-signature": sign(created)})))
    write("furl-wrong-method.json", function_url(apigw("DELETE", path="/webhooks/nylas")))
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
    dispatch()


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



# The `dispatch` function's events: records of the tickets table's stream and
# messages of the events retry queue, for the ticket the worker makes of
# inbound/new-ticket.json and the reply that joins it (inbound/reply.json).
TICKETS_STREAM_ARN = ("arn:aws:dynamodb:us-east-1:123456789012:table/inbox-triage-tickets"
                      "/stream/2025-11-01T00:00:00.000")
EVENTS_RETRY_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:inbox-triage-events-retry"
WORKER_DELAY_S = 1  # the worker writes a ticket one second after its message is received
REDRIVEN_AT_MS = (INBOUND_TIMESTAMP + 30 * 60) * 1000  # `triage dlq redrive` half an hour later
MAX_EXCERPT_CHARS = 200  # triage_core::events::MAX_EXCERPT_CHARS

# What the worker decides for each inbound fixture with the compiled-in rules
# (`triage classify --json events/inbound/new-ticket.json events/inbound/reply.json`)
# and the snippet it keeps of the visible text (quotes stripped; `triage tickets --json`
# after `triage replay` of both). Update them with the fixtures.
INBOUND_TRIAGE = {
    "new-ticket.json": {
        "category": "incidents", "queue": "incidents", "priority": "high",
        "applied_rules": [
            {"rule": "incidents", "decision": "keyword=down"},
            {"rule": "incidents", "decision": "category=incidents"},
            {"rule": "incidents", "decision": "queue=incidents"},
            {"rule": "incidents", "decision": "priority=high"},
        ],
        "snippet": "Hello, Our checkout page is down and returns an error since this morning: every order "
                   "ends on \"500 Internal Server Error\" after the payment step. Our customers cannot buy "
                   "anything. A screenshot is attached. Please help urgently. Ann Lee Example Shop",
    },
    "reply.json": {
        "category": "bugs", "queue": "bugs", "priority": "medium",
        "applied_rules": [
            {"rule": "bugs", "decision": "keyword=error"},
            {"rule": "bugs", "decision": "category=bugs"},
            {"rule": "bugs", "decision": "queue=bugs"},
            {"rule": "bugs", "decision": "priority=medium"},
        ],
        "snippet": "Hi, Thanks for the quick answer. Checkout works again for most orders, but two customers "
                   "still got the error an hour ago. Ann",
    },
}


def ticket_id(grant_id: str, message_id: str) -> str:
    """triage_core::ticket::ticket_id: t_ + 24 hex of SHA-256(grant_id NUL message_id)."""
    return "t_" + hashlib.sha256(grant_id.encode() + b"\0" + message_id.encode()).hexdigest()[:24]


def event_id(kind: str, ticket: str, message_id: str) -> str:
    """triage_core::events::event_id: each part as its 8-byte big-endian length, then its bytes."""
    h = hashlib.sha256()
    for part in (kind, ticket, message_id):
        b = part.encode()
        h.update(len(b).to_bytes(8, "big"))
        h.update(b)
    return "evt_" + h.hexdigest()[:32]


def sanitised(text: str, limit: int) -> str:
    """triage_core::events::sanitised: controls to spaces, whitespace collapsed, cut near a word."""
    joined = " ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in text).split())
    if len(joined) <= limit:
        return joined
    cut = joined[:limit].encode()
    at = cut.rfind(b" ")  # byte offsets, as in Rust
    if at >= 0 and at * 4 >= len(cut) * 3:
        return cut[:at].decode() + "\u2026"
    return cut.decode() + "\u2026"


def participant(value) -> dict:
    """A participant ({name, email}) from an inbound `from`/`to` entry (object or "Name <addr>")."""
    if isinstance(value, str):
        name, email = email_utils.parseaddr(value)
        return {"name": name, "email": email}
    return {"name": value.get("name", ""), "email": value["email"]}


def unix(rfc3339: str) -> int:
    return int(datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp())


def inbound_ticket(name: str, payload: dict, now_s: int) -> dict:
    """The ticket the worker builds for an inbound payload (triage_core::ticket::build_ticket),
    fields in `Ticket` order (a ticket item's attributes)."""
    decided = INBOUND_TRIAGE[name]
    assert " ".join(payload["text"].split()).startswith(decided["snippet"]), f"{name}: stale snippet"
    grant = mailbox_key(payload["envelope"]["to"][0])
    mid = message_key(payload["message_id"])
    received = unix(payload["received_at"])
    refs = payload.get("references", [])
    keys = []
    for value in [payload["message_id"], payload.get("in_reply_to", "")] + (refs if isinstance(refs, list) else [refs]):
        for token in value.replace(",", " ").split():
            key = token.strip("<>").lower()
            if "@" in key and key not in keys:
                keys.append(key)
    return {
        "id": ticket_id(grant, mid),
        "grant_id": grant,
        "message_id": mid,
        "thread_id": None,
        "subject": payload["subject"],
        "requester": participant(payload["from"]),
        "to": [participant(p) for p in payload["to"]],
        "cc": [participant(p) for p in payload.get("cc", [])],
        "category": decided["category"],
        "queue": decided["queue"],
        "priority": decided["priority"],
        "status": "new",
        "received_at": received,
        "created_at": now_s,
        "last_message_at": received,
        "message_count": 1,
        "message_ids": [mid],
        "snippet": decided["snippet"],
        "attachments": [{"filename": a["filename"], "content_type": a["content_type"], "size": a["size"],
                         "inline": False} for a in payload.get("attachments", [])],
        "applied_rules": decided["applied_rules"],
        "thread_keys": keys,
    }


def ticket_event(kind: str, ticket: dict, target: str) -> dict:
    """triage_core::events::for_write: the event of writing `ticket` (the message's own ticket)
    as a new ticket or onto ticket `target`, fields in `TicketEvent` order."""
    email = ticket["requester"]["email"].strip().lower()
    return {
        "id": event_id(kind, target, ticket["message_id"]),
        "type": kind,
        "ticket_id": target,
        "message_id": ticket["message_id"],
        "queue": ticket["queue"],
        "category": ticket["category"],
        "priority": ticket["priority"],
        "rules": [r["rule"] for r in ticket["applied_rules"]],
        "subject": sanitised(ticket["subject"], 256),
        "requester": {"name": sanitised(ticket["requester"]["name"], 256),
                      "email": sanitised(ticket["requester"]["email"], 256)},
        "requester_domain": email.rsplit("@", 1)[1].rstrip(">") if "@" in email else "",
        "excerpt": sanitised(ticket["snippet"], MAX_EXCERPT_CHARS),
        "occurred_at": ticket["received_at"],
    }


def event_json(event: dict) -> str:
    """An event as serde_json writes it (the `last_event` attribute, a retry queue body)."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def ddb(value):
    """JSON -> DynamoDB JSON, as the tickets store converts (objects M, arrays L, numbers N)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [ddb(v) for v in value]}
    return {"M": {k: ddb(v) for k, v in value.items()}}


def ticket_item(ticket: dict, last_event: dict) -> dict:
    """A ticket item (DynamoDB JSON): `pk`, every Ticket field, `last_event`."""
    item = {"pk": {"S": "ticket#" + ticket["id"]}}
    item.update({k: ddb(v) for k, v in ticket.items()})
    item["last_event"] = {"S": event_json(last_event)}
    return item


def stream_record(name: str, seq: str, at_s: int, new: dict, old=None) -> dict:
    """One record of the tickets table's stream (NEW_AND_OLD_IMAGES), as Lambda receives it."""
    change = {"ApproximateCreationDateTime": at_s, "Keys": {"pk": new["pk"]}, "NewImage": new}
    if old is not None:
        change["OldImage"] = old
    change["SequenceNumber"] = seq
    change["SizeBytes"] = len(json.dumps(change, separators=(",", ":"), ensure_ascii=False).encode())
    change["StreamViewType"] = "NEW_AND_OLD_IMAGES"
    return {
        "eventID": hashlib.md5(f"{TICKETS_STREAM_ARN}/{seq}".encode()).hexdigest(),
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": change,
        "eventSourceARN": TICKETS_STREAM_ARN,
    }


def dispatch() -> None:
    """dynamodb-stream-*.json and sqs-events-retry.json, for the `dispatch` function."""
    first = json.loads((INBOUND / "new-ticket.json").read_bytes())
    second = json.loads((INBOUND / "reply.json").read_bytes())
    first_s = unix(first["received_at"]) + WORKER_DELAY_S
    reply_s = unix(second["received_at"]) + WORKER_DELAY_S
    ticket = inbound_ticket("new-ticket.json", first, first_s)
    created = ticket_event("ticket.created", ticket, ticket["id"])
    reply = inbound_ticket("reply.json", second, reply_s)
    added = ticket_event("message.added", reply, ticket["id"])

    # The create transaction's ticket item.
    item = ticket_item(ticket, created)
    write("dynamodb-stream-ticket-created.json",
          {"Records": [stream_record("INSERT", "111", first_s, item)]})
    # The append (UpdateItem: message_ids, message_count, last_event); the
    # last_message_at bump that follows is another record, with no new event.
    appended = dict(ticket, message_count=2, message_ids=ticket["message_ids"] + [reply["message_id"]])
    write("dynamodb-stream-message-added.json",
          {"Records": [stream_record("MODIFY", "222", reply_s, ticket_item(appended, added), old=item)]})
    # The created event, delivered to oncall, not to helpdesk (503 three times),
    # dead-lettered, then redriven to the events retry queue.
    write("sqs-events-retry.json", {"Records": [sqs_record(created, 8, REDRIVEN_AT_MS, attributes={
        "event_id": created["id"],
        "ticket_id": created["ticket_id"],
        "type": created["type"],
        "delivered": json.dumps(["oncall"]),
        "failure_reason": "helpdesk: transient: HTTP 503",
    }, queue_arn=EVENTS_RETRY_QUEUE_ARN)]})


if __name__ == "__main__":
    main()
