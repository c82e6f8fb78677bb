//! `suppliers catalog --concurrency N` against a sandbox 30 ms away that counts the
//! requests it is handling at once.

use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;
use suppliers_sandbox::{CatalogSize, Latency, Sandbox, SandboxConfig};

async fn distant_sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig {
        latency: Some(Latency {
            base: Duration::from_millis(30),
            jitter: Duration::from_millis(10),
        }),
        catalog_size: CatalogSize {
            cryptorefills_families: 24,
            foxreload_categories: 6,
            foxreload_products_per_category: 150,
        },
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

/// `suppliers --json catalog SUPPLIER` (in the US for Cryptorefills) plus `extra`,
/// configured only by the sandbox's variables; its exit code and stdout.
async fn catalog(sandbox: &Sandbox, supplier: &str, extra: &[&str]) -> (Option<i32>, Vec<u8>) {
    let mut command = Command::cargo_bin("suppliers").unwrap();
    command
        .env_remove("SUPPLIERS_JOURNAL")
        .envs(sandbox.environment())
        .args(["--json", "catalog", supplier])
        .args(match supplier {
            "cryptorefills" => &["--country", "US"][..],
            _ => &[],
        })
        .args(extra)
        .timeout(Duration::from_secs(60));
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    if output.status.code() == Some(0) {
        let _: Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    }
    (output.status.code(), output.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flag_bounds_requests_in_flight_and_keeps_the_same_products_in_the_same_order() {
    let sandbox = distant_sandbox().await;
    for supplier in ["cryptorefills", "foxreload"] {
        sandbox.reset_peak_in_flight();
        let (code, one_at_a_time) = catalog(&sandbox, supplier, &["--concurrency", "1"]).await;
        assert_eq!(code, Some(0), "{supplier}");
        assert_eq!(sandbox.peak_in_flight(), 1, "{supplier} at 1");

        sandbox.reset_peak_in_flight();
        let (code, three_at_a_time) = catalog(&sandbox, supplier, &["--concurrency", "3"]).await;
        assert_eq!(code, Some(0), "{supplier}");
        assert_eq!(sandbox.peak_in_flight(), 3, "{supplier} at 3");
        assert_eq!(one_at_a_time, three_at_a_time, "{supplier}");

        // Without the flag: the default of 8.
        sandbox.reset_peak_in_flight();
        let (code, default) = catalog(&sandbox, supplier, &[]).await;
        assert_eq!(code, Some(0), "{supplier}");
        assert_eq!(sandbox.peak_in_flight(), 8, "{supplier} by default");
        assert_eq!(one_at_a_time, default, "{supplier}");
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn zero_or_a_non_number_is_a_usage_error_before_any_request() {
    let sandbox = distant_sandbox().await;
    for bad in ["0", "-2", "eight"] {
        let (code, stdout) = catalog(&sandbox, "foxreload", &["--concurrency", bad]).await;
        assert_eq!(code, Some(2), "--concurrency {bad}");
        assert!(stdout.is_empty());
    }
    assert_eq!(sandbox.requests_served(), 0);
    sandbox.shutdown().await;
}
