#!/usr/bin/env python3
"""Peak memory of the `ingest` Lambda binary under a stream of invocations.

A minimal fake Lambda Runtime API on loopback hands the binary N signed
API Gateway (HTTP API v2) POST events, one after another as Lambda does,
each a different message; ingest queues them in a real SQS API (moto, at
AWS_ENDPOINT_URL). Prints invocations/s, the status counts and the peak RSS
(VmHWM) of the process.

    cargo build --release --bin ingest
    eval "$(infra/local/up.sh)"      # moto on loopback
    python3 bench/ingest_rss.py target/release/ingest [-n 3000] [--body-bytes 4000]

Standard library only.
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET

SECRET = "rss-secret"
HERE = os.path.dirname(os.path.abspath(__file__))


def create_queue(endpoint):
    data = urllib.parse.urlencode({"Action": "CreateQueue", "Version": "2012-11-05",
                                   "QueueName": "rss-" + uuid.uuid4().hex[:8]}).encode()
    req = urllib.request.Request(endpoint + "/", data=data, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    body = urllib.request.urlopen(req, timeout=10).read()
    for el in ET.fromstring(body).iter():
        if el.tag.endswith("QueueUrl"):
            return el.text
    raise SystemExit("moto did not return a QueueUrl: %r" % body[:200])


def event(template, i, body_bytes):
    filler = ("<p>The export keeps failing with error 500, line %d.</p>" % i) * max(1, body_bytes // 60)
    body = json.dumps({
        "specversion": "1.0", "type": "message.created", "source": "/google/emails/realtime",
        "id": "rss-n-%d" % i, "time": 1763870400,
        "data": {"application_id": "rss", "object": {
            "id": "rss-m-%d" % i, "grant_id": "grant-rss", "object": "message",
            "thread_id": "rss-t-%d" % i, "subject": "Export fails",
            "from": [{"email": "customer@client.example"}], "to": [{"email": "support@example.com"}],
            "date": 1763870395, "folders": ["INBOX"], "body": filler[:body_bytes],
        }},
    })
    ev = dict(template)
    ev["headers"] = dict(template["headers"])
    ev["headers"]["x-nylas-signature"] = hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    ev["body"] = body
    ev["isBase64Encoded"] = False
    return json.dumps(ev).encode()


class Runtime(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle plus
    # the client's delayed ACK would add ~40 ms to every invocation.
    disable_nagle_algorithm = True
    events = []
    next_index = 0
    statuses = {}
    done = threading.Event()
    lock = threading.Lock()

    def do_GET(self):  # noqa: N802
        with Runtime.lock:
            i = Runtime.next_index
            Runtime.next_index += 1
        if i >= len(Runtime.events):
            time.sleep(30)  # nothing more: hold the long poll
            return
        payload = Runtime.events[i]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Lambda-Runtime-Aws-Request-Id", "req-%d" % i)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 6000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                         "arn:aws:lambda:us-east-1:123456789012:function:ingest")
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self):  # noqa: N802
        n = int(self.headers.get("Content-Length", 0))
        data = self.rfile.read(n)
        status = "error"
        if self.path.endswith("/response"):
            try:
                status = str(json.loads(data).get("statusCode"))
            except ValueError:
                status = "unparsable"
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        with Runtime.lock:
            Runtime.statuses[status] = Runtime.statuses.get(status, 0) + 1
            if sum(Runtime.statuses.values()) >= len(Runtime.events):
                Runtime.done.set()

    def log_message(self, *args):
        pass


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("-n", type=int, default=3000)
    ap.add_argument("--body-bytes", type=int, default=4000)
    args = ap.parse_args()
    if not os.access(args.binary, os.X_OK):
        raise SystemExit("%s not found: run `cargo build --release --bin ingest` first" % args.binary)
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        raise SystemExit("AWS_ENDPOINT_URL is not set: start moto with `eval \"$(infra/local/up.sh)\"`")
    queue_url = create_queue(endpoint)
    with open(os.path.join(HERE, "..", "events", "apigw-message-created.json")) as f:
        template = json.load(f)
    Runtime.events = [event(template, i, args.body_bytes) for i in range(args.n)]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % server.server_port,
               AWS_LAMBDA_FUNCTION_NAME="ingest", AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
               AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256", AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/ingest",
               AWS_LAMBDA_LOG_STREAM_NAME="s", AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="test",
               AWS_SECRET_ACCESS_KEY="test", QUEUE_URL=queue_url, NYLAS_WEBHOOK_SECRET=SECRET,
               RUST_LOG="warn")
    started = time.perf_counter()
    proc = subprocess.Popen([args.binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not Runtime.done.wait(600):
            raise SystemExit("ingest did not finish %d invocations in 10 minutes" % args.n)
        elapsed = time.perf_counter() - started
        peak = peak_rss_kib(proc.pid)
    finally:
        proc.kill()
        proc.wait()
        server.shutdown()
    print("ingest: %d invocations of %d-byte notifications in %.1f s (%.0f/s, SQS = moto)"
          % (args.n, args.body_bytes, elapsed, args.n / elapsed))
    print("statuses: %s" % json.dumps(Runtime.statuses, sort_keys=True))
    print("peak RSS (VmHWM): %.1f MiB  binary: %.1f MB" % (peak / 1024, os.path.getsize(args.binary) / 1e6))


if __name__ == "__main__":
    main()
