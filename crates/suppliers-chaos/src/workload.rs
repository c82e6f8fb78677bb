//! The reseller's side of the run: buyers and trackers, each purchase and each tracking
//! run a `suppliers` process of its own, as a shop's jobs would run them.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use suppliers_sandbox::Sandbox;

/// The longest a `buy` may take: four calls (a product read, the create, the pay, a
/// status read to settle an ambiguous pay), each within the facade's 30 s
/// `max_elapsed`, and 10 s for the process and its journal.
pub const BUY_DEADLINE: Duration = Duration::from_secs(130);

/// The longest a tracker started after the faults stopped may take: its `--timeout`
/// (120 s) and 30 s to notice and exit.
pub const FINAL_TRACK_DEADLINE: Duration = Duration::from_secs(150);

/// What a run of the CLI needs: the binary, and the variables pointing it at the sandbox
/// and the journal.
#[derive(Clone)]
pub struct Cli {
    pub path: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Cli {
    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.path);
        command
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env_remove("SUPPLIERS_SANDBOX_FAULTS")
            .env_remove("SUPPLIERS_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs `args` to its end, or kills it at `deadline` (`None`: it did not exit on
    /// its own); with how long it ran.
    pub async fn run(&self, args: &[&str], deadline: Duration) -> (Option<Output>, Duration) {
        let started = Instant::now();
        let child = match self.command(args).spawn() {
            Ok(child) => child,
            Err(error) => panic!("cannot start {}: {error}", self.path.display()),
        };
        // `wait_with_output` owns the child: dropping it at the deadline kills it.
        let output = tokio::time::timeout(deadline, child.wait_with_output())
            .await
            .ok()
            .map(|output| output.expect("waiting for a child"));
        (output, started.elapsed())
    }
}

/// What the buyers did.
#[derive(Debug, Default)]
pub struct Purchases {
    /// References tried.
    pub attempted: u64,
    /// `buy` exited 0.
    pub bought: u64,
    /// Not bought, known at once (exit 4): refused by the supplier, or a Cryptorefills
    /// create whose answer was lost (an order nobody can pay).
    pub refused: u64,
    /// References whose outcome was unknown (exit 6), left to `reconcile`.
    pub ambiguous: Vec<String>,
    /// Why, with how many times each.
    pub refusals: std::collections::BTreeMap<String, u64>,
    /// Transport failures (exit 5) tried again under the same reference.
    pub retried: u64,
    /// References given up after three transport failures.
    pub abandoned: Vec<String>,
    /// Any other exit: the reference, the code and stderr.
    pub unexpected: Vec<String>,
    /// Processes killed at [`BUY_DEADLINE`].
    pub outlived: u64,
    /// The longest a `buy` took.
    pub longest: Duration,
}

/// One supplier's purchases: products (with their largest quantity) and extra flags.
struct Shop {
    supplier: &'static str,
    products: &'static [(&'static str, u64)],
    flags: &'static [&'static str],
}

const SHOPS: [Shop; 3] = [
    Shop {
        supplier: "foxreload",
        products: &[
            ("product_01krgfgww8eth9xvvysd6y7r4j", 2),
            ("product_01krgfh2m3n4p5q6r7s8t9v0wx", 1),
        ],
        flags: &[],
    },
    Shop {
        supplier: "mousacard",
        products: &[("12330", 3), ("12340", 2)],
        flags: &[],
    },
    Shop {
        supplier: "cryptorefills",
        products: &[("giftcard/Airbnb/US/100", 1)],
        flags: &["--email", "buyer@example.com"],
    },
];

/// The buyers' shared state: the reference counter and the tally.
pub struct Buyers {
    pub cli: Cli,
    pub seed: u64,
    pub prefix: String,
    pub next: AtomicU64,
    pub stop: AtomicBool,
    pub purchases: Mutex<Purchases>,
}

impl Buyers {
    /// Buys at `shop` (an index of the three suppliers) until told to stop; a paying
    /// Cryptorefills customer pays each order it gets an answer for.
    pub async fn buy_until_stopped(self: Arc<Self>, shop: usize, sandbox: Arc<Sandbox>) {
        let shop = &SHOPS[shop];
        while !self.stop.load(Ordering::SeqCst) {
            let n = self.next.fetch_add(1, Ordering::SeqCst);
            let reference = format!("{}{n:06}", self.prefix);
            // What is bought follows from the seed and the reference alone.
            let mut rng = fastrand::Rng::with_seed(self.seed ^ n.wrapping_mul(0x9e37_79b9));
            let (product, most) = shop.products[rng.usize(..shop.products.len())];
            let quantity = rng.u64(1..=most).to_string();
            let mut args = vec![
                "--json",
                "buy",
                shop.supplier,
                product,
                "--quantity",
                &quantity,
                "--reference",
                &reference,
                "--yes",
            ];
            args.extend(shop.flags);
            self.purchases.lock().expect("tally").attempted += 1;
            for attempt in 1..=3 {
                let (output, took) = self.cli.run(&args, BUY_DEADLINE).await;
                let mut tally = self.purchases.lock().expect("tally");
                tally.longest = tally.longest.max(took);
                let Some(output) = output else {
                    tally.outlived += 1;
                    break;
                };
                match output.status.code() {
                    Some(0) => {
                        tally.bought += 1;
                        drop(tally);
                        if shop.supplier == "cryptorefills" {
                            let receipt: serde_json::Value =
                                serde_json::from_slice(&output.stdout).unwrap_or_default();
                            if let Some(id) = receipt["id"].as_str() {
                                sandbox.cryptorefills().pay(id);
                            }
                        }
                    }
                    Some(4) => {
                        tally.refused += 1;
                        // One line per kind of refusal: without the reference.
                        let stderr = String::from_utf8_lossy(&output.stderr);
                        let why = stderr
                            .trim()
                            .split(" (reference ")
                            .next()
                            .unwrap_or_default();
                        // Ids and counts vary; the kind of refusal does not.
                        let why: String = why
                            .trim_start_matches("error: ")
                            .chars()
                            .map(|c| if c.is_ascii_digit() { '#' } else { c })
                            .take(160)
                            .collect();
                        *tally.refusals.entry(why).or_default() += 1;
                    }
                    Some(6) => tally.ambiguous.push(reference.clone()),
                    Some(5) if attempt < 3 => {
                        tally.retried += 1;
                        continue;
                    }
                    Some(5) => tally.abandoned.push(reference.clone()),
                    code => tally.unexpected.push(format!(
                        "{reference}: exit {code:?}: {}",
                        String::from_utf8_lossy(&output.stderr).trim()
                    )),
                }
                break;
            }
        }
    }
}

/// What the trackers did.
#[derive(Debug, Default)]
pub struct Tracking {
    /// `track` processes run.
    pub runs: u64,
    /// Runs during the faults that reached their `--timeout` with orders still open
    /// (exit 5): the next run takes them up.
    pub timed_out: u64,
    /// Runs that exited otherwise than 0 (or 5 during the faults): code and stderr.
    pub unexpected: Vec<String>,
    /// Runs killed at their deadline.
    pub outlived: u64,
}

/// Runs `track --webhook` again and again until `last` is set: without `--follow`, a
/// run ends once nothing awaits its goods, or after its `--timeout` (exit 5, what is
/// open stays journaled for the next run). The run started after `last` must end on its
/// own, with 0.
pub async fn track_until_done(
    cli: Cli,
    webhook: String,
    last: Arc<AtomicBool>,
    tally: Arc<Mutex<Tracking>>,
) {
    loop {
        let is_last = last.load(Ordering::SeqCst);
        let (timeout, deadline) = if is_last {
            ("120", FINAL_TRACK_DEADLINE)
        } else {
            ("60", Duration::from_secs(90))
        };
        let args = [
            "track",
            "--webhook",
            &webhook,
            "--round",
            "1",
            "--timeout",
            timeout,
        ];
        let (output, _) = cli.run(&args, deadline).await;
        {
            let mut tally = tally.lock().expect("tally");
            tally.runs += 1;
            match output.as_ref().map(|output| output.status.code()) {
                None => tally.outlived += 1,
                Some(Some(0)) => {}
                Some(Some(5)) if !is_last => tally.timed_out += 1,
                Some(code) => tally.unexpected.push(format!(
                    "track: exit {code:?}: {}",
                    output
                        .as_ref()
                        .map(|output| String::from_utf8_lossy(&output.stderr).trim().to_owned())
                        .unwrap_or_default()
                )),
            }
        }
        if is_last {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
