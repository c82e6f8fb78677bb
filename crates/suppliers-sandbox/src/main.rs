//! `suppliers-sandbox --port P`: serves the sandbox until Ctrl-C.

use clap::Parser;
use suppliers_sandbox::{Sandbox, SandboxConfig, SandboxFlags};

#[derive(Parser)]
#[command(
    about = "A stateful local simulator of the supplier APIs",
    after_help = "Example: a sandbox 50-300 ms away where orders take 2 s and a tenth fail:\n  \
                  suppliers-sandbox --latency 50:250 --complete-after 2000 --failure-share 0.1\n\
                  A sandbox whose connections reset at the answer one time in ten:\n  \
                  suppliers-sandbox --network-fault reset_peer:0@0.1"
)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Inject a fault: `[METHOD ]PATH=KIND[:ARG][xTIMES]`, e.g.
    /// `--fault "POST /foxreload/api/orders/=drop"`. Kinds: rate-limit[:secs],
    /// server-error[:status], drop, slow[:ms], cut-stream[:events], unknown-status[:value].
    #[arg(long = "fault")]
    faults: Vec<suppliers_sandbox::FaultRule>,
    #[command(flatten)]
    flags: SandboxFlags,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let config = args.flags.apply(SandboxConfig {
        port: args.port,
        faults: args.faults,
        ..SandboxConfig::default()
    });
    let sandbox = Sandbox::start(config).await?;
    for (name, value) in sandbox.environment() {
        println!("{name}={value}");
    }
    println!("sandbox running on {}; Ctrl-C stops it", sandbox.address());
    tokio::signal::ctrl_c().await?;
    sandbox.shutdown().await;
    Ok(())
}
