#!/usr/bin/env python3
"""POST (or GET) an API Gateway event file to a running endpoint, as the
provider would: same method, query, headers and raw body bytes.

    python3 events/post.py events/apigw-message-created.json
    python3 events/post.py events/apigw-challenge.json http://127.0.0.1:3000

Prints the status and the response body. Standard library only.
"""
import base64
import json
import sys
import urllib.error
import urllib.request


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    event = json.load(open(sys.argv[1]))
    base = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:3000"
    body = event.get("body")
    data = None
    if body is not None:
        data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    url = base.rstrip("/") + event["rawPath"]
    if event.get("rawQueryString"):
        url += "?" + event["rawQueryString"]
    skip = {"host", "content-length"}
    headers = {k: v for k, v in event.get("headers", {}).items() if k.lower() not in skip}
    req = urllib.request.Request(url, data=data, headers=headers, method=event["requestContext"]["http"]["method"])
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            print(resp.status, resp.read().decode(errors="replace"))
            return 0
    except urllib.error.HTTPError as e:
        print(e.code, e.read().decode(errors="replace"))
        return 1


if __name__ == "__main__":
    sys.exit(main())
