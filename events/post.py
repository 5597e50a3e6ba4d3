#!/usr/bin/env python3
"""POST (or GET) an API Gateway event file to a running endpoint, as the
provider would: same method, query, headers and raw body bytes.

    python3 events/post.py events/apigw-message-created.json
    python3 events/post.py events/apigw-challenge.json http://127.0.0.1:3000

Inbound-email events (headers `webhook-signature` or `x-webhook-signature`)
carry the fixed sample timestamp, older than the server's clock tolerance
(WEBHOOK_TOLERANCE_SECONDS, 300 s), so they are re-signed at the current
time before sending, in the file's scheme (Standard Webhooks v1 or the
timestamped HMAC, with or without the `sha256=` prefix as in the file).
Only what the file signed validly is re-signed: a signature that did not
match (apigw-inbound-tampered.json, the old-key entry of
apigw-inbound-standard-rotated.json) gets the new timestamp but stays wrong,
and an unsigned event stays unsigned. The key is the first entry of
INBOUND_WEBHOOK_SECRETS if set (`whsec_...` = base64 key bytes, else its
UTF-8 bytes), else the test secret `inbox-triage-test-secret`.

    python3 events/post.py events/apigw-inbound-standard.json
    python3 events/post.py --as-is events/apigw-inbound-standard.json   # file's headers: 401 (stale)

Sign a raw inbound-email payload and POST it to BASE_URL/webhooks/inbound,
with a fresh random webhook-id (scheme: standard, the default, or
timestamped, with the `sha256=` prefix):

    python3 events/post.py --inbound events/inbound/new-ticket.json
    python3 events/post.py --inbound events/inbound/reply.json http://127.0.0.1:3000 --scheme timestamped

BASE_URL defaults to http://127.0.0.1:3000. Prints the status and the
response body (and, on stderr, what was re-signed); exits 0 on a 2xx answer,
1 otherwise. Standard library only.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request

DEFAULT_BASE = "http://127.0.0.1:3000"
TEST_SECRET = b"inbox-triage-test-secret"  # documented in events/README.md; never a real secret
INBOUND_PATH = "/webhooks/inbound"


def key_from_env() -> bytes:
    """First entry of INBOUND_WEBHOOK_SECRETS (whsec_ = base64 bytes), else the test secret."""
    entries = [e.strip() for e in os.environ.get("INBOUND_WEBHOOK_SECRETS", "").split(",") if e.strip()]
    if not entries:
        return TEST_SECRET
    first = entries[0]
    if first.startswith("whsec_"):
        try:
            return base64.b64decode(first[len("whsec_"):], validate=True)
        except ValueError:
            sys.exit("INBOUND_WEBHOOK_SECRETS: the first entry starts with whsec_ but is not base64")
    return first.encode()


def sign_standard(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def sign_timestamped(key: bytes, timestamp: str, body: bytes) -> str:
    return hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def header_name(headers: dict, name: str):
    """The key under which `name` is in `headers` (any case), or None."""
    return next((k for k in headers if k.lower() == name), None)


def resign(headers: dict, body: bytes, key: bytes) -> str:
    """Re-sign an inbound event's headers in place at the current time; says what it did."""
    now = str(int(time.time()))
    file_keys = [key, TEST_SECRET]  # the events are signed with the test secret
    sig_h = header_name(headers, "webhook-signature")
    if sig_h is not None:
        id_h, ts_h = header_name(headers, "webhook-id"), header_name(headers, "webhook-timestamp")
        msg_id = headers[id_h] if id_h else ""
        old_ts = headers[ts_h] if ts_h else ""
        valid = {sign_standard(k, msg_id, old_ts, body) for k in file_keys}
        fresh = sign_standard(key, msg_id, now, body)
        entries = headers[sig_h].split()
        # Entries that matched are replaced; the others stay (they did not match before either).
        new = [fresh if e in valid else e for e in entries]
        headers[sig_h] = " ".join(new)
        headers[ts_h or "webhook-timestamp"] = now
        n = sum(e in valid for e in entries)
        return "standard webhooks, webhook-timestamp=%s, %d of %d entries re-signed" % (now, n, len(entries))
    sig_h = header_name(headers, "x-webhook-signature")
    ts_h = header_name(headers, "x-webhook-timestamp")
    old_ts = headers[ts_h] if ts_h else ""
    sig = headers[sig_h].strip()
    prefix = "sha256=" if sig.startswith("sha256=") else ""
    hex_mac = sig[len(prefix):].lower()
    valid = any(hmac.compare_digest(hex_mac, sign_timestamped(k, old_ts, body)) for k in file_keys)
    if valid:
        headers[sig_h] = prefix + sign_timestamped(key, now, body)
    headers[ts_h or "x-webhook-timestamp"] = now
    return "timestamped, x-webhook-timestamp=%s, signature %s" % (
        now, "re-signed" if valid else "left as it was (it did not match)")


def send(url: str, method: str, data, headers: dict) -> int:
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            print(resp.status, resp.read().decode(errors="replace"))
            return 0
    except urllib.error.HTTPError as e:
        print(e.code, e.read().decode(errors="replace"))
        return 1


def post_event(path: str, base: str, as_is: bool) -> int:
    event = json.load(open(path))
    body = event.get("body")
    data = None
    if body is not None:
        data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    url = base.rstrip("/") + event["rawPath"]
    if event.get("rawQueryString"):
        url += "?" + event["rawQueryString"]
    skip = {"host", "content-length"}
    headers = {k: v for k, v in event.get("headers", {}).items() if k.lower() not in skip}
    signed = any(k.lower() in ("webhook-signature", "x-webhook-signature") for k in headers)
    if signed and not as_is:
        print("re-signed: " + resign(headers, data or b"", key_from_env()), file=sys.stderr)
    return send(url, event["requestContext"]["http"]["method"], data, headers)


def post_inbound(path: str, base: str, scheme: str) -> int:
    with open(path, "rb") as f:
        body = f.read()
    key = key_from_env()
    now = str(int(time.time()))
    headers = {"content-type": "application/json", "user-agent": "inbox-triage-post/1"}
    if scheme == "standard":
        msg_id = "msg_" + secrets.token_hex(12)
        headers.update({"webhook-id": msg_id, "webhook-timestamp": now,
                        "webhook-signature": sign_standard(key, msg_id, now, body)})
    else:
        headers.update({"x-webhook-timestamp": now,
                        "x-webhook-signature": "sha256=" + sign_timestamped(key, now, body)})
    print("signed: %s, timestamp %s" % (scheme, now), file=sys.stderr)
    return send(base.rstrip("/") + INBOUND_PATH, "POST", body, headers)


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    p = argparse.ArgumentParser(usage="%(prog)s [--as-is] EVENT.json [BASE_URL]\n"
                                      "       %(prog)s --inbound PAYLOAD.json [BASE_URL] [--scheme standard|timestamped]")
    p.add_argument("args", nargs="*", metavar="EVENT.json [BASE_URL]")
    p.add_argument("--inbound", metavar="PAYLOAD.json", help="sign this raw payload and POST it to /webhooks/inbound")
    p.add_argument("--scheme", choices=["standard", "timestamped"], help="with --inbound (default: standard)")
    p.add_argument("--as-is", action="store_true", help="send the event file's headers unchanged (no re-signing)")
    a = p.parse_args()
    if a.inbound:
        if a.as_is or len(a.args) > 1:
            p.error("--inbound takes PAYLOAD.json and an optional BASE_URL (no --as-is)")
        return post_inbound(a.inbound, a.args[0] if a.args else DEFAULT_BASE, a.scheme or "standard")
    if a.scheme:
        p.error("--scheme goes with --inbound")
    if not 1 <= len(a.args) <= 2:
        p.error("expected EVENT.json [BASE_URL]")
    return post_event(a.args[0], a.args[1] if len(a.args) > 1 else DEFAULT_BASE, a.as_is)


if __name__ == "__main__":
    sys.exit(main())
