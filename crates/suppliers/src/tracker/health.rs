//! [`TrackerHealth`]: whether a running tracker does its work (its loop looks at the
//! journal every round, and the journal answers), for a readiness probe; and the
//! tracker's gauges.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::model::SupplierId;

/// A running [`super::Tracker`]'s health, shared with whoever asks (a `/readyz`
/// endpoint). Cheap to clone.
#[derive(Debug, Clone)]
pub struct TrackerHealth {
    state: Arc<Mutex<State>>,
    round: Duration,
}

#[derive(Debug, Default)]
struct State {
    /// When the loop last looked at the journal and it answered.
    last_round: Option<Instant>,
    /// The journal's last error, while it fails.
    journal_error: Option<String>,
    /// Since when it fails.
    failing_since: Option<Instant>,
}

impl TrackerHealth {
    pub(crate) fn new(round: Duration) -> Self {
        Self {
            state: Arc::default(),
            round,
        }
    }

    /// `Ok` while the journal answers and the tracker's loop has looked at it within
    /// its last two rounds; otherwise why not.
    pub fn ready(&self) -> Result<(), String> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(err) = &state.journal_error {
            return Err(format!("the journal does not answer: {err}"));
        }
        match state.last_round {
            None => Err("the tracker has not looked at the journal yet".into()),
            Some(last) if last.elapsed() > self.round * 2 => Err(format!(
                "the tracker's loop last looked at the journal {} s ago (a round is {} s)",
                last.elapsed().as_secs(),
                self.round.as_secs_f64()
            )),
            Some(_) => Ok(()),
        }
    }

    /// The loop looked at the journal and it answered. Logs the journal's recovery.
    pub(crate) fn round_done(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.last_round = Some(Instant::now());
        state.journal_error = None;
        if let Some(since) = state.failing_since.take() {
            tracing::warn!(
                down_s = since.elapsed().as_secs(),
                "the journal answers again; tracking resumes"
            );
        }
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        ::metrics::gauge!(crate::metrics::TRACKER_LAST_ROUND).set(now);
    }

    /// The journal failed. Logged when it starts failing, not every round.
    pub(crate) fn journal_failed(&self, err: &dyn std::fmt::Display) {
        crate::metrics::record_journal_error();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.failing_since.is_none() {
            state.failing_since = Some(Instant::now());
            tracing::error!(
                error = %err,
                "the journal does not answer; the tracker keeps running and tries again every round"
            );
        }
        state.journal_error = Some(err.to_string());
    }
}

/// What a tracker's gauges show for one supplier.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct SupplierGauges {
    /// Orders followed that await their goods.
    pub(crate) awaiting: usize,
    /// Age of the oldest of them, in seconds (0: none).
    pub(crate) oldest_seconds: f64,
    /// Settled orders whose report was not taken yet.
    pub(crate) reports_pending: usize,
}

/// Sets the tracker's gauges for `supplier`.
pub(crate) fn publish(supplier: SupplierId, gauges: SupplierGauges) {
    let label = supplier.as_str();
    ::metrics::gauge!(crate::metrics::ORDERS_AWAITING, "supplier" => label)
        .set(gauges.awaiting as f64);
    ::metrics::gauge!(crate::metrics::OLDEST_AWAITING, "supplier" => label)
        .set(gauges.oldest_seconds);
    ::metrics::gauge!(crate::metrics::REPORTS_PENDING, "supplier" => label)
        .set(gauges.reports_pending as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ready_while_rounds_run_and_the_journal_answers() {
        let health = TrackerHealth::new(Duration::from_secs(5));
        assert!(health.ready().is_err(), "not before the first round");
        health.round_done();
        assert_eq!(health.ready(), Ok(()));
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(health.ready(), Ok(()));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(health.ready().unwrap_err().contains("11 s ago"));
        health.round_done();
        health.journal_failed(&"connection refused");
        assert!(health.ready().unwrap_err().contains("connection refused"));
        health.round_done();
        assert_eq!(health.ready(), Ok(()));
    }
}
