//! Sandbox settings: credential, starting balances and stock, the clock of order
//! lifecycles, how many orders fail after the purchase, and how far away the sandbox
//! seems.

use std::time::Duration;

use rust_decimal::Decimal;

/// How fast orders move. Defaults take a few seconds, so a demo feels real.
///
/// The clock starts where money moves: FoxReload at `pay`, MousaCard at `POST /orders`,
/// Cryptorefills at the customer's payment. `completed_after` is also when an order
/// picked to fail (see [`SandboxConfig::failure_share`]) ends `failed`, `rejected` or
/// `Refunded`. Only FoxReload has a status for `processing_after` (`paid` before it,
/// `processing` after); MousaCard orders not completed in the purchase answer are
/// `processing`, and paid Cryptorefills orders `WaitingForDelivery`, from the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// From payment to `processing`.
    pub processing_after: Duration,
    /// From payment to `completed` (or to the failure of an order picked to fail).
    pub completed_after: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            processing_after: Duration::from_secs(1),
            completed_after: Duration::from_secs(3),
        }
    }
}

impl Timings {
    /// Near-instant lifecycles for tests.
    pub fn fast() -> Self {
        Self {
            processing_after: Duration::from_millis(50),
            completed_after: Duration::from_millis(150),
        }
    }

    /// Orders complete `completed_after` after payment, `processing` from a third of
    /// that (the defaults' proportion): what `--complete-after MS` sets.
    pub fn completing_after(completed_after: Duration) -> Self {
        Self {
            processing_after: completed_after / 3,
            completed_after,
        }
    }
}

/// A delay added to every answer, to give the sandbox a real supplier's distance: each
/// answer waits `base` plus a uniformly drawn part of `jitter` before it is sent. An
/// event stream waits only before its opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    /// Every answer waits at least this long.
    pub base: Duration,
    /// Up to this much more, drawn per answer.
    pub jitter: Duration,
}

impl Latency {
    /// The delay of one answer: `base` plus a random part of `jitter`.
    pub fn sample(&self) -> Duration {
        let jitter_nanos = u64::try_from(self.jitter.as_nanos()).unwrap_or(u64::MAX);
        self.base + Duration::from_nanos(fastrand::u64(0..=jitter_nanos))
    }
}

impl std::str::FromStr for Latency {
    type Err = String;

    /// `MS[:JITTER_MS]`, e.g. `100` or `50:250` (50 to 300 ms).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let millis = |part: &str| {
            part.trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("{text:?}: expected MS[:JITTER_MS], whole milliseconds"))
        };
        let (base, jitter) = match text.split_once(':') {
            Some((base, jitter)) => (millis(base)?, millis(jitter)?),
            None => (millis(text)?, Duration::ZERO),
        };
        Ok(Self { base, jitter })
    }
}

/// Generated catalog entries added after the hand-picked ones, to give the sandbox a
/// real supplier's catalog size; none by default. Generated products sell like the
/// hand-picked ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CatalogSize {
    /// Cryptorefills: brand families added in each country the sandbox sells in (`US`
    /// and `DE`), each a gift card with two fixed denominations.
    pub cryptorefills_families: usize,
    /// FoxReload: categories added at the top level.
    pub foxreload_categories: usize,
    /// FoxReload: products in each added category.
    pub foxreload_products_per_category: usize,
}

/// Everything a sandbox starts from.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The one credential accepted by every supplier (API key, token, partner id).
    pub credential: String,
    /// Order lifecycle timings.
    pub timings: Timings,
    /// FoxReload starting balance, USD.
    pub foxreload_balance: Decimal,
    /// MousaCard starting balance, USD.
    pub mousacard_balance: Decimal,
    /// Cryptorefills: unpaid orders expire after this window (30 minutes by the docs).
    pub cryptorefills_payment_window: chrono::TimeDelta,
    /// Cryptorefills: orders count as paid this long after creation when nobody pays
    /// them through `POST /cryptorefills/_sandbox/orders/{id}/pay`; `None` waits for
    /// that call. Orders picked by [`SandboxConfig::cryptorefills_unpaid_share`] are
    /// never paid this way. Set it below the payment window, or every order expires.
    pub cryptorefills_auto_pay_after: Option<chrono::TimeDelta>,
    /// Units of each product in stock.
    pub stock_per_product: u32,
    /// Generated products added to FoxReload's catalog, to exercise paging through a
    /// large catalog (benchmarks); none by default.
    pub foxreload_synthetic_products: usize,
    /// Generated brand families and categories, for catalogs of a real supplier's size.
    pub catalog_size: CatalogSize,
    /// Faults armed from the start (more can be added while running).
    pub faults: Vec<crate::faults::FaultRule>,
    /// Share of orders, from 0.0 (none, the default) to 1.0 (all), that fail after the
    /// purchase, at [`Timings::completed_after`], without codes: FoxReload paid orders
    /// end `failed` (reason in `items[].error`) and MousaCard orders `rejected`, both
    /// with the total refunded to the balance; Cryptorefills orders that get paid end
    /// `Refunded` (reason in `refund.reason`). Which orders fail is decided by a
    /// counter, so over N orders exactly `floor(N x share)` do: at FoxReload the
    /// counter runs over payments, at MousaCard over purchases, at Cryptorefills over
    /// the orders their customer pays.
    pub failure_share: f64,
    /// Cryptorefills: share of orders, from 0.0 (the default) to 1.0, that their
    /// customer never pays: they are not paid automatically and end `Expired` when
    /// [`SandboxConfig::cryptorefills_payment_window`] closes. Picked by a counter over
    /// created orders, like [`SandboxConfig::failure_share`]; the sandbox's pay
    /// endpoint can still pay one (it then completes).
    pub cryptorefills_unpaid_share: f64,
    /// A delay added to every answer; none by default.
    pub latency: Option<Latency>,
    /// Faults on the TCP connections themselves, with Toxiproxy's toxics (latency,
    /// bandwidth, slicer, timeout, limit_data, reset_peer, slow_close; see
    /// [`fault_proxy::ToxicKind`]); none by default. With any, the sandbox serves
    /// through a [`fault_proxy::FaultProxy`] listening on [`SandboxConfig::port`], its
    /// own listener on a free port of 127.0.0.1 behind it, and every address and URL
    /// it reports is the proxy's. Toxics can change while it runs, through
    /// [`crate::Sandbox::network_faults`].
    pub network_faults: Vec<fault_proxy::Toxic>,
    /// The seed of the network faults' random choices (the connections a toxic with a
    /// share applies to, jitter, slice sizes), so a schedule reproduces when
    /// connections come in the same order; a random one by default.
    pub network_faults_seed: Option<u64>,
}

impl SandboxConfig {
    /// Why this configuration cannot run, if it cannot: a share outside 0.0..=1.0
    /// (a network fault's toxicity included).
    pub fn check(&self) -> Result<(), String> {
        if let Some(toxic) = self
            .network_faults
            .iter()
            .find(|toxic| !(0.0..=1.0).contains(&toxic.toxicity))
        {
            return Err(format!(
                "network fault {}: toxicity must be between 0.0 and 1.0, not {}",
                toxic.name, toxic.toxicity
            ));
        }
        for (name, share) in [
            ("failure_share", self.failure_share),
            (
                "cryptorefills_unpaid_share",
                self.cryptorefills_unpaid_share,
            ),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(format!("{name} must be between 0.0 and 1.0, not {share}"));
            }
        }
        Ok(())
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            port: 0,
            credential: "sandbox".into(),
            timings: Timings::default(),
            foxreload_balance: Decimal::new(1000, 0),
            mousacard_balance: Decimal::new(1505, 1),
            cryptorefills_payment_window: chrono::TimeDelta::minutes(30),
            cryptorefills_auto_pay_after: Some(chrono::TimeDelta::seconds(2)),
            stock_per_product: 1000,
            foxreload_synthetic_products: 0,
            catalog_size: CatalogSize::default(),
            faults: Vec::new(),
            failure_share: 0.0,
            cryptorefills_unpaid_share: 0.0,
            latency: None,
            network_faults: Vec::new(),
            network_faults_seed: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_parses_from_text() {
        let ms = Duration::from_millis;
        assert_eq!(
            "100".parse::<Latency>(),
            Ok(Latency {
                base: ms(100),
                jitter: Duration::ZERO
            })
        );
        assert_eq!(
            "50:250".parse::<Latency>(),
            Ok(Latency {
                base: ms(50),
                jitter: ms(250)
            })
        );
        for bad in ["", "soon", "50:", ":50", "-5", "1.5", "50:250:1"] {
            assert!(bad.parse::<Latency>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn latency_samples_stay_within_base_and_jitter() {
        let latency = Latency {
            base: Duration::from_millis(50),
            jitter: Duration::from_millis(10),
        };
        let samples: Vec<Duration> = (0..1000).map(|_| latency.sample()).collect();
        assert!(
            samples
                .iter()
                .all(|d| (latency.base..=latency.base + latency.jitter).contains(d))
        );
        assert!(samples.iter().any(|d| *d != samples[0]), "jitter varies");
        let fixed = Latency {
            base: Duration::from_millis(7),
            jitter: Duration::ZERO,
        };
        assert_eq!(fixed.sample(), Duration::from_millis(7));
    }

    #[test]
    fn shares_outside_zero_to_one_are_refused() {
        assert!(SandboxConfig::default().check().is_ok());
        for share in [-0.1, 1.5, f64::NAN] {
            let config = SandboxConfig {
                failure_share: share,
                ..SandboxConfig::default()
            };
            assert!(config.check().is_err(), "{share}");
            let config = SandboxConfig {
                cryptorefills_unpaid_share: share,
                ..SandboxConfig::default()
            };
            assert!(config.check().is_err(), "{share}");
            let config = SandboxConfig {
                network_faults: vec![
                    fault_proxy::Toxic::new(fault_proxy::ToxicKind::ResetPeer {
                        timeout: Duration::ZERO,
                    })
                    .with_toxicity(share),
                ],
                ..SandboxConfig::default()
            };
            assert!(config.check().is_err(), "{share}");
        }
    }
}
