#!/usr/bin/env python3
"""Generate N varied Nylas notifications for `triage replay` throughput runs.

    python3 bench/gen_notifications.py OUT_DIR N [--seed 7]

Files hold 100 `deltas[]` entries each. Bodies from 1 KiB to 1 MiB (most
small: 70% 1-8 KiB, 25% 8-64 KiB, 4% 64-256 KiB, 1% 256 KiB-1 MiB); 10%
auto-replies (out-of-office subjects), 20% duplicates of an earlier message,
30% replies into an existing thread. Deterministic for a given seed.
"""
import argparse
import json
import os
import random

WORDS = ("please help login invoice refund dashboard error slow export report "
         "account billing outage feature request thanks team access password "
         "update crash issue question contract renewal").split()
OOF = ["Automatic reply: {}", "Out of Office: {}", "Abwesenheitsnotiz: {}", "Réponse automatique : {}"]


def body(rng: random.Random, size: int) -> str:
    parts, n = [], 0
    while n < size:
        p = "<p>" + " ".join(rng.choice(WORDS) for _ in range(12)) + ".</p>"
        parts.append(p)
        n += len(p)
    return "".join(parts)


def size(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.70:
        return rng.randint(1 << 10, 8 << 10)
    if r < 0.95:
        return rng.randint(8 << 10, 64 << 10)
    if r < 0.99:
        return rng.randint(64 << 10, 256 << 10)
    return rng.randint(256 << 10, 1 << 20)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("n", type=int)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    made, threads, batch, files = [], [], [], 0
    for i in range(a.n):
        r = rng.random()
        if made and r < 0.20:
            entry = rng.choice(made)  # duplicate delivery
        else:
            thread = rng.choice(threads) if threads and rng.random() < 0.30 else f"th{a.seed}x{i}"
            threads.append(thread)
            subject = " ".join(rng.choice(WORDS) for _ in range(5))
            if rng.random() < 0.10:
                subject = rng.choice(OOF).format(subject)
            entry = {"type": "message.created", "date": 1763870000 + i, "object": "message",
                     "data": {"id": f"m{a.seed}x{i}", "grant_id": "grant-bench", "object": "message",
                              "thread_id": thread, "subject": subject,
                              "from": [{"name": "C", "email": f"c{i % 997}@client.example"}],
                              "to": [{"name": "Support", "email": "support@example.com"}],
                              "date": 1763870000 + i, "folders": ["INBOX"],
                              "body": body(rng, size(rng))}}
            made.append(entry)
            if len(made) > 5000:
                made.pop(0)
        batch.append(entry)
        if len(batch) == 100:
            with open(os.path.join(a.out, f"batch-{files:05}.json"), "w") as f:
                json.dump({"deltas": batch}, f)
            files, batch = files + 1, []
    if batch:
        with open(os.path.join(a.out, f"batch-{files:05}.json"), "w") as f:
            json.dump({"deltas": batch}, f)


if __name__ == "__main__":
    main()
