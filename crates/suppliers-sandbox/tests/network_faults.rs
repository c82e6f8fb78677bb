//! The sandbox served through its fault proxy: every URL it reports goes through the
//! toxics, and they change while it runs.

use std::time::{Duration, Instant};

use suppliers_sandbox::{Sandbox, SandboxConfig};

#[tokio::test]
async fn the_sandbox_serves_through_its_network_faults_which_change_while_it_runs() {
    let plain = Sandbox::start(SandboxConfig::default()).await.unwrap();
    assert!(plain.network_faults().is_none());
    plain.shutdown().await;

    let sandbox = Sandbox::start(SandboxConfig {
        network_faults: vec!["latency:250".parse().unwrap()],
        network_faults_seed: Some(1),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let proxy = sandbox.network_faults().expect("served through a proxy");
    assert_eq!(sandbox.address(), proxy.address());
    assert_ne!(proxy.upstream(), proxy.address());
    let through = format!("http://{}/", proxy.address());
    for (name, value) in sandbox.environment() {
        if name.ends_with("_BASE_URL") {
            assert!(value.starts_with(&through), "{name}={value}");
        }
    }

    // One client: its one pooled connection sees each change.
    let http = reqwest::Client::new();
    let url = format!("{}/api/access/me", sandbox.foxreload_url());
    let get = || async {
        let started = Instant::now();
        let result = http.get(&url).header("X-API-Key", "sandbox").send().await;
        (started.elapsed(), result)
    };
    let (slow, response) = get().await;
    assert_eq!(response.unwrap().status(), 200);
    assert!(slow >= Duration::from_millis(250), "{slow:?}");

    proxy.clear();
    let (fast, response) = get().await;
    assert_eq!(response.unwrap().status(), 200);
    assert!(fast < Duration::from_millis(250), "{fast:?}");

    proxy.add("reset_peer:0".parse().unwrap());
    let (_, response) = get().await;
    assert!(response.is_err(), "{response:?}");

    let stats = proxy.stats();
    assert_eq!(stats.applied["latency"], 1);
    assert!(stats.applied["reset_peer"] >= 1, "{stats:?}");
    sandbox.shutdown().await;
}
