//! Sandbox settings: credential, starting balances and stock, the clock of order
//! lifecycles, and how many orders fail after the purchase.

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
}

impl SandboxConfig {
    /// Why this configuration cannot run, if it cannot: a share outside 0.0..=1.0.
    pub fn check(&self) -> Result<(), String> {
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
            faults: Vec::new(),
            failure_share: 0.0,
            cryptorefills_unpaid_share: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        }
    }
}
