//! Capped gzip decoding: never more than the cap, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use triage_core::gzip::gunzip_capped;

fuzz_target!(|data: &[u8]| {
    if let Ok(out) = gunzip_capped(data, 64 * 1024) {
        assert!(out.len() <= 64 * 1024);
    }
});
