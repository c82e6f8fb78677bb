//! Batch tracking (section 3): MousaCard `wait_for_orders` for N orders that complete at
//! staggered times, against the naive loop that asks for each open order on its own,
//! with the same polling cadence. Requests are counted by the sandbox, and each batch
//! round must cost exactly ceil(open/50) requests.

use std::time::Duration;

use anyhow::{Result, ensure};
use futures::StreamExt;
use rust_decimal::Decimal;
use suppliers::adapters::mousacard::{MAX_BATCH, MousaCard, Purchase, Tracked};
use suppliers::waiter::WaiterConfig;
use suppliers_sandbox::{Sandbox, SandboxConfig, Timings};

use crate::Mode;
use crate::report::{Row, Target};
use crate::server::Server;

/// iTunes 50 USD: `processing`, then `completed` with codes.
const LATER_CODES_PRODUCT: u64 = 12340;
/// Orders are created in this many waves, `WAVE_GAP` apart, so they finish in waves.
const WAVES: usize = 4;
const WAVE_GAP: Duration = Duration::from_millis(150);
/// From creation to `completed` in the sandbox.
const COMPLETES_AFTER: Duration = Duration::from_millis(400);
/// Both sides poll every 100 ms, so they see the same stagger.
const POLL: WaiterConfig = WaiterConfig {
    min_delay: Duration::from_millis(100),
    max_delay: Duration::from_millis(100),
    max_wait: Duration::from_secs(120),
};

/// Requests and rounds of one way of waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Requests the sandbox received while waiting.
    pub requests: u64,
    /// Orders still open at the start of each round.
    pub open_per_round: Vec<usize>,
    /// Requests sent in each round.
    pub requests_per_round: Vec<usize>,
}

impl Tally {
    /// True when every round cost ceil(open/50) requests and the sandbox saw exactly
    /// those requests.
    pub fn is_batched(&self) -> bool {
        self.open_per_round.len() == self.requests_per_round.len()
            && self
                .open_per_round
                .iter()
                .zip(&self.requests_per_round)
                .all(|(open, sent)| *sent == open.div_ceil(MAX_BATCH))
            && self.requests == self.requests_per_round.iter().sum::<usize>() as u64
    }
}

/// Creates `n` orders in waves, `WAVE_GAP` apart.
async fn create_orders(mousa: &MousaCard, n: usize) -> Result<Vec<u64>> {
    let purchase = Purchase {
        product_id: LATER_CODES_PRODUCT,
        quantity: 1,
        custom_fields: Default::default(),
    };
    let waves = WAVES.min(n);
    let mut ids = Vec::with_capacity(n);
    for wave in 0..waves {
        let started = tokio::time::Instant::now();
        let size = n / waves + usize::from(wave < n % waves);
        let mut created = futures::stream::iter(0..size)
            .map(|_| mousa.buy(&purchase))
            .buffer_unordered(8);
        while let Some(order) = created.next().await {
            ids.push(order?.id.parse()?);
        }
        if wave + 1 < waves {
            tokio::time::sleep_until(started + WAVE_GAP).await;
        }
    }
    Ok(ids)
}

/// The facade's batch waiter.
pub async fn batched(sandbox: &Sandbox, mousa: &MousaCard, ids: &[u64]) -> Result<Tally> {
    let before = sandbox.requests_served();
    let (outcomes, stats) = mousa.wait_for_orders(ids, POLL).await?;
    let requests = sandbox.requests_served() - before;
    ensure!(
        outcomes.len() == ids.len() && outcomes.iter().all(|o| matches!(o, Tracked::Finished(_))),
        "every order should finish"
    );
    Ok(Tally {
        requests,
        open_per_round: stats.open_per_round,
        requests_per_round: stats.requests_per_round,
    })
}

/// The naive loop: each round asks for every open order with its own request.
pub async fn one_by_one(sandbox: &Sandbox, mousa: &MousaCard, ids: &[u64]) -> Result<Tally> {
    let before = sandbox.requests_served();
    let mut open = ids.to_vec();
    let mut rounds = Vec::new();
    while !open.is_empty() {
        rounds.push(open.len());
        let mut still_open = Vec::new();
        for id in open {
            if !mousa.order(id).await?.status.is_terminal() {
                still_open.push(id);
            }
        }
        open = still_open;
        if !open.is_empty() {
            tokio::time::sleep(POLL.min_delay).await;
        }
    }
    Ok(Tally {
        requests: sandbox.requests_served() - before,
        open_per_round: rounds.clone(),
        requests_per_round: rounds,
    })
}

/// Runs the section: one row per N.
pub fn run(mode: Mode) -> Result<Vec<Row>> {
    let sizes: &[usize] = mode.pick(&[1, 50, 51, 500], &[1, 50, 51, 500, 5000]);
    let server = Server::start(SandboxConfig {
        mousacard_balance: Decimal::from(1_000_000_000),
        stock_per_product: 1_000_000,
        timings: Timings {
            processing_after: Duration::ZERO,
            completed_after: COMPLETES_AFTER,
        },
        ..SandboxConfig::default()
    })?;
    let sandbox = server.sandbox();
    let runtime = crate::client_runtime()?;
    runtime.block_on(async {
        let suppliers = server.facade()?.build()?;
        let mousa = suppliers.mousacard()?;
        let mut rows = Vec::new();
        for &n in sizes {
            let ids = create_orders(mousa, n).await?;
            let batch = batched(sandbox, mousa, &ids).await?;
            let ids = create_orders(mousa, n).await?;
            let naive = one_by_one(sandbox, mousa, &ids).await?;
            rows.push(Row {
                section: 3,
                measure: format!("MousaCard wait, N = {n} staggered orders (requests)"),
                sdk: describe(&batch),
                baseline: format!("{} (one request per order)", describe(&naive)),
                ratio: Some(batch.requests as f64 / naive.requests as f64),
                target: Some(Target::required(
                    "ceil(open/50) per round",
                    batch.is_batched(),
                )),
            });
        }
        Ok(rows)
    })
}

/// `12: 5+4+2+1 in 4 rounds`, or `12 in 4 rounds` when the rounds are many.
fn describe(tally: &Tally) -> String {
    let rounds = tally.requests_per_round.len();
    let parts: Vec<String> = tally
        .requests_per_round
        .iter()
        .map(ToString::to_string)
        .collect();
    if rounds <= 8 {
        format!("{}: {} in {rounds} rounds", tally.requests, parts.join("+"))
    } else {
        format!("{} in {rounds} rounds", tally.requests)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_is_batched_only_when_every_round_is() {
        let good = Tally {
            requests: 5,
            open_per_round: vec![101, 50, 1],
            requests_per_round: vec![3, 1, 1],
        };
        assert!(good.is_batched());
        let over = Tally {
            requests_per_round: vec![3, 2, 1],
            requests: 6,
            ..good.clone()
        };
        assert!(!over.is_batched());
        let unseen = Tally {
            requests: 6,
            ..good
        };
        assert!(
            !unseen.is_batched(),
            "the sandbox saw a request not counted"
        );
        assert_eq!(
            describe(&Tally {
                requests: 4,
                open_per_round: vec![101, 50],
                requests_per_round: vec![3, 1]
            }),
            "4: 3+1 in 2 rounds"
        );
    }
}
