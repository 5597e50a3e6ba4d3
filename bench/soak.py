#!/usr/bin/env python3
"""Soak test: a steady stream of signed notifications into `triage serve`,
20% of them re-sends of earlier ones, for a fixed time. Samples the server's
memory every 10 s and checks at the end that tickets == unique messages,
nothing is dead-lettered and memory stayed flat.

    cargo build --release --bin triage
    python3 bench/soak.py                       # 30 minutes, 100 posts/s
    python3 bench/soak.py --minutes 2 --rate 50 # a quick run

Standard library only. Exit status 0 when every check passes, 1 otherwise.
The server runs on the embedded store and the durable local queue, in a
temporary directory, without a Nylas API key (messages are classified from
the notification). Prints one line per sample and a verdict.
"""

import argparse
import hashlib
import hmac
import http.client
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

SECRET = "soak-secret"
SUBJECTS = [
    "Refund for invoice 4411", "Login page is down", "Feature request: dark mode",
    "Question about my plan", "URGENT: outage in eu-west", "Cancel my account",
]


def notification(i):
    body = "<p>Hello support,</p>" + "<p>%s details %d.</p>" % (SUBJECTS[i % len(SUBJECTS)], i) * 40
    return json.dumps({
        "specversion": "1.0", "type": "message.created", "source": "/google/emails/realtime",
        "id": "soak-n-%d" % i, "time": 1763870400,
        "data": {"application_id": "soak", "object": {
            "id": "soak-m-%d" % i, "grant_id": "grant-soak", "object": "message",
            "thread_id": "soak-t-%d" % i, "subject": SUBJECTS[i % len(SUBJECTS)],
            "from": [{"email": "customer%d@client.example" % (i % 500)}],
            "to": [{"email": "support@example.com"}], "date": 1763870395,
            "folders": ["INBOX"], "body": body,
        }},
    }).encode()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--rate", type=float, default=100, help="posts per second")
    ap.add_argument("--dup-share", type=float, default=0.2)
    ap.add_argument("--binary", default="target/release/triage")
    ap.add_argument("--max-growth", type=float, default=0.15,
                    help="allowed RSS growth, last 5 minutes vs the first 5 after warm-up")
    args = ap.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit("%s not found: run `cargo build --release --bin triage` first" % args.binary)

    work = tempfile.mkdtemp(prefix="triage-soak-")
    db = os.path.join(work, "soak.db")
    port = free_port()
    env = dict(os.environ, NYLAS_WEBHOOK_SECRET=SECRET, RUST_LOG="warn")
    env.pop("NYLAS_API_KEY", None)
    server = subprocess.Popen(
        [args.binary, "--db", db, "serve", "--quiet", "--listen", "127.0.0.1:%d" % port],
        env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "server.log"), "w"))
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        rng = random.Random(7)
        unique = 0
        posts = 0
        non200 = 0
        samples = []  # (elapsed_s, rss_kib)
        started = time.monotonic()
        end = started + args.minutes * 60
        next_sample = started
        interval = 1.0 / args.rate
        due = started
        while time.monotonic() < end:
            if unique > 0 and rng.random() < args.dup_share:
                i = rng.randrange(unique)
            else:
                i = unique
                unique += 1
            body = notification(i)
            sig = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            conn.request("POST", "/webhooks/nylas", body=body,
                         headers={"Content-Type": "application/json", "X-Nylas-Signature": sig})
            resp = conn.getresponse()
            resp.read()
            posts += 1
            if resp.status != 200:
                non200 += 1
            now = time.monotonic()
            if now >= next_sample:
                rss = rss_kib(server.pid)
                samples.append((now - started, rss))
                print("t=%5.0fs posts=%d unique=%d rss=%.1f MiB" % (now - started, posts, unique, rss / 1024),
                      flush=True)
                next_sample += 10
            due += interval
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)

        sent_for = time.monotonic() - started
        # Let the worker finish what is queued.
        for _ in range(600):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/healthz")
            pending = json.loads(c.getresponse().read())["queue_pending"]
            if pending == 0:
                break
            time.sleep(0.5)
        ro = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        tickets = ro.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
        dead = ro.execute("SELECT COUNT(*) FROM queue_dead_letters").fetchone()[0]
        ro.close()
    finally:
        server.terminate()
        server.wait(timeout=60)

    elapsed = samples[-1][0] if samples else 0
    warm = [r for t, r in samples if 120 <= t < 420] or [r for _, r in samples[: max(1, len(samples) // 4)]]
    last = [r for t, r in samples if t >= elapsed - 300] or [samples[-1][1]]
    first_med, last_med = statistics.median(warm), statistics.median(last)
    growth = (last_med - first_med) / first_med if first_med else 0
    peak = max(r for _, r in samples)
    print()
    print("posts %d (%.1f/s)  unique messages %d  duplicates %d  non-200 %d" %
          (posts, posts / max(sent_for, 1), unique, posts - unique, non200))
    print("tickets %d  dead letters %d" % (tickets, dead))
    print("rss median after warm-up %.1f MiB, last 5 min %.1f MiB (%+.1f%%), peak %.1f MiB" %
          (first_med / 1024, last_med / 1024, growth * 100, peak / 1024))
    checks = [
        ("tickets == unique messages", tickets == unique),
        ("no dead letters", dead == 0),
        ("every post answered 200", non200 == 0),
        ("memory flat (growth <= %.0f%%)" % (args.max_growth * 100), growth <= args.max_growth),
    ]
    for name, ok in checks:
        print("%-32s %s" % (name, "ok" if ok else "FAILED"))
    print("work dir (database, server log): %s" % work)
    sys.exit(0 if all(ok for _, ok in checks) else 1)


if __name__ == "__main__":
    main()
