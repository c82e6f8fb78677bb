//! `suppliers-sandbox --port P`: serves the sandbox until Ctrl-C.

use clap::Parser;
use suppliers_sandbox::{Sandbox, SandboxConfig};

#[derive(Parser)]
#[command(about = "A stateful local simulator of the supplier APIs")]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Inject a fault: `[METHOD ]PATH=KIND[:ARG][xTIMES]`, e.g.
    /// `--fault "POST /foxreload/api/orders/=drop"`. Kinds: rate-limit[:secs],
    /// server-error[:status], drop, slow[:ms], cut-stream[:events], unknown-status[:value].
    #[arg(long = "fault")]
    faults: Vec<suppliers_sandbox::FaultRule>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let config = SandboxConfig {
        port: args.port,
        faults: args.faults,
        ..SandboxConfig::default()
    };
    let credential = config.credential.clone();
    let sandbox = Sandbox::start(config).await?;
    println!("FOXRELOAD_BASE_URL={}", sandbox.foxreload_url());
    println!("FOXRELOAD_API_KEY={credential}");
    println!("MOUSACARD_BASE_URL={}", sandbox.mousacard_url());
    println!("MOUSACARD_TOKEN={credential}");
    println!("CRYPTOREFILLS_BASE_URL={}", sandbox.cryptorefills_url());
    println!("CRYPTOREFILLS_PARTNER_ID={credential}");
    println!("CRYPTOREFILLS_APP_VERSION=1.0.0");
    println!("sandbox running on {}; Ctrl-C stops it", sandbox.address());
    tokio::signal::ctrl_c().await?;
    sandbox.shutdown().await;
    Ok(())
}
