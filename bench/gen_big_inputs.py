#!/usr/bin/env python3
"""Generate large single-file inputs for `triage classify` / `triage replay`
memory and time runs (BENCHMARKS.md, "Large input files").

    python3 bench/gen_big_inputs.py OUT_DIR [--mib 16]

Writes, each about MIB MiB:
  deltas.json      a `deltas[]` notification, 4 KiB bodies, one entry per 4 KiB
  sqs.json         an SQS event, one Records[] entry (full envelope) per 4 KiB
  big-body.json    one v3 message.created notification with a MIB MiB body
"""
import argparse
import json
import os

PARA = "<p>" + "please help login invoice refund dashboard error slow " * 8 + "</p>"


def body(n: int) -> str:
    return (PARA * (n // len(PARA) + 1))[:n]


def message(i: int, size: int) -> dict:
    return {
        "id": f"big-msg-{i:06}", "grant_id": "grant-big", "object": "message",
        "thread_id": f"big-thread-{i:06}", "subject": f"Dashboard error {i}",
        "from": [{"name": "Customer", "email": f"c{i}@client.example"}],
        "to": [{"name": "Support", "email": "support@example.com"}],
        "date": 1763870395, "folders": ["INBOX"], "body": body(size),
    }


def v3(i: int, size: int) -> dict:
    return {"specversion": "1.0", "type": "message.created", "source": "/google/emails/realtime",
            "id": f"n-big-{i:06}", "time": 1763870400, "webhook_delivery_attempt": 1,
            "data": {"application_id": "app", "object": message(i, size)}}


def envelope(i: int, size: int) -> str:
    n = v3(i, size)
    return json.dumps({
        "envelope_version": 1, "provider": "nylas", "received_at_ms": 1763870401000,
        "notification_id": n["id"], "type": "message.created", "base_type": "message.created",
        "suffixes": [], "source": n["source"], "grant_id": "grant-big",
        "message_id": n["data"]["object"]["id"], "delivery_attempt": 1, "shape": "v3",
        "refetch": False, "notification": n,
    })


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--mib", type=int, default=16)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    total = a.mib << 20
    per = 4 << 10
    count = total // (per + 400)
    deltas = [{"type": "message.created", "date": 1763870700, "object": "message",
               "data": message(i, per)} for i in range(count)]
    with open(os.path.join(a.out, "deltas.json"), "w") as f:
        json.dump({"deltas": deltas}, f)
    records = [{"messageId": f"m-{i}", "receiptHandle": f"r-{i}", "body": envelope(i, per),
                "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs"}
               for i in range(count)]
    with open(os.path.join(a.out, "sqs.json"), "w") as f:
        json.dump({"Records": records}, f)
    with open(os.path.join(a.out, "big-body.json"), "w") as f:
        json.dump(v3(0, total), f)
    print(f"{count} entries per file")


if __name__ == "__main__":
    main()
