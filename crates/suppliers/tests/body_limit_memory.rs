//! A body far larger than the limit is never held whole: peak memory stays near the
//! limit. Alone in its binary, so no other test moves the process's peak.

mod support;

use suppliers::config::FoxReloadConfig;
use suppliers::retry::RetryPolicy;
use suppliers::{Error, Suppliers};
use support::{endless_json, serve};

/// Peak resident memory of this process (`VmHWM`), in bytes.
fn peak_resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("a VmHWM line");
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

#[tokio::test]
async fn an_endless_body_costs_about_the_limit_in_memory_not_the_body() {
    const MIB: u64 = 1024 * 1024;
    let (upstream, _) = serve(endless_json).await;
    let suppliers = Suppliers::builder()
        .foxreload(FoxReloadConfig::new("k", &upstream).unwrap())
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    let before = peak_resident_bytes();
    let err = suppliers
        .foxreload()
        .unwrap()
        .order("order-1")
        .await
        .unwrap_err();
    let grown = peak_resident_bytes().saturating_sub(before);
    assert!(
        matches!(&err, Error::UnexpectedResponse { status: 200, excerpt, .. }
            if excerpt == "the body is larger than the 16777216-byte limit"),
        "{err:?}"
    );
    // The default limit is 16 MiB; reading up to it may briefly double its buffer.
    assert!(grown < 48 * MIB, "peak grew by {} MiB", grown / MIB);
    eprintln!("peak grew by {} MiB", grown / MIB);
}
