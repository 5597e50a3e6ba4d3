#!/usr/bin/env python3
"""Cold start of the Lambda binaries: time from process start to the first
`GET /2018-06-01/runtime/invocation/next` on a minimal fake Lambda Runtime
API on loopback (config read, AWS clients built, secrets parsed: everything
init does). Median of N starts.

    cargo build --release --bin ingest --bin worker
    python3 bench/coldstart.py target/release/ingest target/release/worker [-n 20]

Standard library only. Nothing leaves loopback: AWS clients are built but
not called during init (credentials and region come from the environment).
"""
import argparse
import http.server
import os
import statistics
import subprocess
import threading
import time

ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "coldstart",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/coldstart",
    "AWS_LAMBDA_LOG_STREAM_NAME": "stream",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "coldstart",
    "AWS_SECRET_ACCESS_KEY": "coldstart",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "QUEUE_URL": "http://127.0.0.1:9/123456789012/q",
    "DLQ_URL": "http://127.0.0.1:9/123456789012/dlq",
    "NYLAS_WEBHOOK_SECRET": "coldstart-secret",
    "IDEMPOTENCY_TABLE": "idem",
    "TICKETS_TABLE": "tickets",
    "NYLAS_API_KEY": "coldstart-key",
    "NYLAS_API_URI": "http://127.0.0.1:9",
}


class Runtime(http.server.BaseHTTPRequestHandler):
    ready = threading.Event()

    def do_GET(self):  # noqa: N802 (http.server naming)
        if self.path.endswith("/runtime/invocation/next"):
            Runtime.ready.set()
            time.sleep(0.5)  # hold the long poll; the process is killed
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def measure(binary: str, runs: int) -> list[float]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, **ENV, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_port}")
    times = []
    for _ in range(runs):
        Runtime.ready.clear()
        start = time.perf_counter()
        proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not Runtime.ready.wait(10):
            proc.kill()
            raise SystemExit(f"{binary}: never asked for an invocation")
        times.append((time.perf_counter() - start) * 1000)
        proc.kill()
        proc.wait()
    server.shutdown()
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("-n", type=int, default=20)
    args = ap.parse_args()
    for b in args.binaries:
        t = measure(b, args.n)
        size = os.path.getsize(b) / 1e6
        print(f"{os.path.basename(b):8} median={statistics.median(t):6.1f} ms  min={min(t):6.1f}  "
              f"max={max(t):6.1f}  runs={args.n}  binary={size:.1f} MB")


if __name__ == "__main__":
    main()
