//! The in-process ingest path: verify + parse + build the SQS request (no
//! network), against the raw HMAC-SHA256 cost of the same bytes.
//!
//!     cargo bench -p triage-ingest --bench ingest_path

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::hint::black_box;
use triage_core::ingest::IngestPolicy;
use triage_core::provider::ProviderKeys;
use triage_core::provider::nylas::prepare_delivery;
use triage_core::signature::{WebhookSecrets, sign_nylas};

const SECRET: &str = "bench-secret";

/// A message.created notification of about `size` bytes (HTML body padded).
fn notification(size: usize) -> Vec<u8> {
    let head = r#"{"specversion":"1.0","type":"message.created","source":"/google/emails/realtime","id":"2f6b4c2e-5d1a-4f0b-9a7e-1c3d5e7f9a01","time":1763870400,"webhook_delivery_attempt":1,"data":{"application_id":"a1b2c3d4-app","object":{"id":"19a8f3c2d1e0b7a6","grant_id":"7e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7","object":"message","thread_id":"19a8f3c2d1e0b7a0","subject":"Production dashboard is down","from":[{"name":"Priya Raman","email":"priya@bigcorp.com"}],"to":[{"name":"Support","email":"support@example.com"}],"date":1763870395,"folders":["INBOX"],"body":""#;
    let tail = r#""}}}"#;
    let para =
        "<p>Since 09:10 UTC nobody on our team can load the dashboard. We get a 502 page.</p>";
    let mut body = String::with_capacity(size + para.len());
    body.push_str(head);
    while body.len() + tail.len() < size {
        body.push_str(para);
    }
    body.push_str(tail);
    body.into_bytes()
}

fn bench(c: &mut Criterion) {
    let keys = ProviderKeys {
        secrets: WebhookSecrets::parse(SECRET).unwrap_or_else(|e| panic!("{e}")),
        tolerance_s: 300,
    };
    // 1 MiB bodies fit the queue only as references at the default 256 KiB
    // limit; raise it so the full envelope is built and measured.
    let policy = IngestPolicy {
        max_queue_message_bytes: 4 << 20,
        ..Default::default()
    };
    let mut group = c.benchmark_group("ingest");
    for (label, size) in [("4KiB", 4 << 10), ("64KiB", 64 << 10), ("1MiB", 1 << 20)] {
        let body = notification(size);
        let sig = sign_nylas(SECRET.as_bytes(), &body);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::new("hmac_only", label), &body, |b, body| {
            b.iter(|| {
                let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes())
                    .unwrap_or_else(|e| panic!("{e}"));
                mac.update(black_box(body));
                black_box(mac.finalize().into_bytes())
            })
        });
        group.bench_with_input(
            BenchmarkId::new("verify_parse_build", label),
            &body,
            |b, body| {
                b.iter(|| {
                    let p = prepare_delivery(
                        &keys,
                        &policy,
                        Some(sig.as_bytes()),
                        None,
                        black_box(body),
                        1,
                    )
                    .unwrap_or_else(|e| panic!("{e}"));
                    let entries =
                        triage_sqs::to_entries(&p.messages).unwrap_or_else(|e| panic!("{e}"));
                    black_box(entries)
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
