//! Sandbox settings: credential, starting balances and stock, and the clock of order
//! lifecycles.

use std::time::Duration;

use rust_decimal::Decimal;

/// How fast orders move. Defaults take a few seconds, so a demo feels real.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// From payment to `processing`.
    pub processing_after: Duration,
    /// From payment to `completed`.
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
    /// that call.
    pub cryptorefills_auto_pay_after: Option<chrono::TimeDelta>,
    /// Units of each product in stock.
    pub stock_per_product: u32,
    /// Generated products added to FoxReload's catalog, to exercise paging through a
    /// large catalog (benchmarks); none by default.
    pub foxreload_synthetic_products: usize,
    /// Faults armed from the start (more can be added while running).
    pub faults: Vec<crate::faults::FaultRule>,
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
        }
    }
}
