#!/usr/bin/env python3
"""A local webhook receiver for ticket events: verifies each delivery's
Standard Webhooks signature (webhook-id, webhook-timestamp,
webhook-signature) with the destination's signing secret, refuses stale or
forged ones with 401, and prints one line per event: id, type, ticket,
queue, priority. Deliveries repeated with the same webhook-id (retries) are
printed once. Standard library only.

    HELPDESK_SECRET=local-signing-secret python3 events/receiver.py 8787

Then point a webhook destination at it (rules file `[destinations.helpdesk]`
with `url_var = "HELPDESK_URL"`, `signing_secret_var = "HELPDESK_SECRET"`)
and run `triage serve` with HELPDESK_URL=http://127.0.0.1:8787/events and
the same HELPDESK_SECRET. Plain http is accepted by triage only to loopback.

The secret is read from HELPDESK_SECRET (or --secret-var NAME); a `whsec_`
secret is its base64 key bytes, any other its UTF-8 bytes.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE_S = 300
MAX_BODY = 1 << 20


def key_bytes(secret):
    secret = secret.strip()
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):])
    return secret.encode()


def verified(key, headers, body):
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (msg_id and stamp.isdigit() and signatures):
        return False
    if abs(time.time() - int(stamp)) > TOLERANCE_S:
        return False
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in signatures.split():
        version, _, sig = entry.partition(",")
        if version == "v1" and hmac.compare_digest(sig, expected):
            return True
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int, nargs="?", default=8787)
    parser.add_argument("--secret-var", default="HELPDESK_SECRET")
    args = parser.parse_args()
    secret = os.environ.get(args.secret_var)
    if not secret:
        sys.exit(f"set {args.secret_var} to the destination's signing secret")
    key = key_bytes(secret)
    seen = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY:
                self.send_response(413)
                self.end_headers()
                return
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            if not verified(key, headers, body):
                self.send_response(401)
                self.end_headers()
                print("refused: bad or stale signature", flush=True)
                return
            self.send_response(204)
            self.end_headers()
            event = json.loads(body)
            if event["id"] in seen:
                return
            seen.add(event["id"])
            print(
                f'{event["id"]} {event["type"]} ticket {event["ticket_id"]} '
                f'queue={event["queue"]} priority={event["priority"]}',
                flush=True,
            )

        def log_message(self, *_):
            pass

    print(f"receiving ticket events on http://127.0.0.1:{args.port}/events", flush=True)
    HTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
