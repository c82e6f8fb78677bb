//! [`ReportFailure`]: why a report handler did not take a report, and what the tracker
//! should do about it (hand it over again later, slow down for every report, or stop).

use std::time::Duration;

#[cfg(feature = "webhooks")]
use crate::webhook::{DeliveryOutcome, WebhookError};

/// Longest wait between two hand-overs of one report.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Why a report handler did not take a report. A handler returns anything that
/// converts into one (`std::io::Error`, `String`, `&'static str`, a boxed error, a
/// [`WebhookError`]), or builds one to say more:
///
/// ```
/// use std::time::Duration;
/// use suppliers::tracker::ReportFailure;
///
/// // This report only: handed over again with backoff (1 s doubling to 60 s, jittered).
/// let busy = ReportFailure::retry("the shop's database is locked");
/// // The receiver is overloaded or down: every report waits.
/// let overloaded = ReportFailure::slow_down("answered 429", Some(Duration::from_secs(30)));
/// // Never again to this receiver: the run ends with an error, the reports stay pending.
/// let gone = ReportFailure::stop("the endpoint answered 410 Gone");
/// assert_eq!(gone.reason(), "the endpoint answered 410 Gone");
/// # let _ = (busy, overloaded);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFailure {
    reason: String,
    kind: Handling,
    retry_after: Option<Duration>,
}

/// What the tracker does about a [`ReportFailure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Handling {
    /// Hands this report over again later.
    Retry,
    /// Holds every report back for a while.
    SlowDown,
    /// Ends the run; the reports stay pending.
    Stop,
}

/// What the tracker does after a failed hand-over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Hand this report over again after the delay.
    Retry(Duration),
    /// Hand no report over before the delay has passed.
    Pause(Duration),
    /// End the run.
    Stop,
}

impl ReportFailure {
    /// This report was not taken; hand it over again later.
    pub fn retry(reason: impl std::fmt::Display) -> Self {
        Self::of(Handling::Retry, reason, None)
    }

    /// The receiver is overloaded or unreachable: hold every report back, at least for
    /// `retry_after` when it said so.
    pub fn slow_down(reason: impl std::fmt::Display, retry_after: Option<Duration>) -> Self {
        Self::of(Handling::SlowDown, reason, retry_after)
    }

    /// The receiver will never take reports again (e.g. `410 Gone`): the run ends with
    /// [`crate::Error::ReportsRefused`], and every report stays pending in the journal.
    pub fn stop(reason: impl std::fmt::Display) -> Self {
        Self::of(Handling::Stop, reason, None)
    }

    fn of(kind: Handling, reason: impl std::fmt::Display, retry_after: Option<Duration>) -> Self {
        Self {
            reason: reason.to_string(),
            kind,
            retry_after,
        }
    }

    /// Why, as the handler said it.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// What the tracker does about it.
    pub fn handling(&self) -> Handling {
        self.kind
    }

    /// The least wait the receiver asked for (its `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// What to do after the `attempts`-th failed hand-over of a report: backoff from
    /// 1 s doubling to 60 s with jitter (half of it fixed, half random, so retries
    /// spread out but keep their pace), never sooner than the receiver asked.
    pub(crate) fn next(&self, attempts: u32) -> Next {
        let base =
            Duration::from_secs(1 << attempts.clamp(1, 7).saturating_sub(1)).min(MAX_BACKOFF);
        let jittered = base / 2 + base.mul_f64(fastrand::f64() / 2.0);
        let delay = self
            .retry_after
            .map_or(jittered, |asked| asked.max(jittered));
        match self.kind {
            Handling::Retry => Next::Retry(delay),
            Handling::SlowDown => Next::Pause(delay),
            Handling::Stop => Next::Stop,
        }
    }
}

impl std::fmt::Display for ReportFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

#[cfg(feature = "webhooks")]
impl From<WebhookError> for ReportFailure {
    /// `410 Gone` stops; `429`, `502`, `504`, a timeout or a refused connection slow
    /// every report down (honouring `Retry-After`); any other answer retries this one.
    fn from(err: WebhookError) -> Self {
        let reason = match &err {
            WebhookError::Delivery { reason, .. } => reason.clone(),
            other => other.to_string(),
        };
        match err {
            WebhookError::Delivery {
                outcome: DeliveryOutcome::Gone,
                ..
            } => Self::stop(reason),
            WebhookError::Delivery {
                outcome: DeliveryOutcome::Timeout | DeliveryOutcome::Connect,
                retry_after,
                ..
            } => Self::slow_down(reason, retry_after),
            WebhookError::Delivery {
                status: Some(429 | 502 | 504),
                retry_after,
                ..
            } => Self::slow_down(reason, retry_after),
            WebhookError::Delivery { retry_after, .. } => {
                Self::of(Handling::Retry, reason, retry_after)
            }
            _ => Self::retry(reason),
        }
    }
}

impl From<std::io::Error> for ReportFailure {
    fn from(err: std::io::Error) -> Self {
        Self::retry(err)
    }
}

impl From<String> for ReportFailure {
    fn from(reason: String) -> Self {
        Self::retry(reason)
    }
}

impl From<&'static str> for ReportFailure {
    fn from(reason: &'static str) -> Self {
        Self::retry(reason)
    }
}

impl From<Box<dyn std::error::Error + Send + Sync>> for ReportFailure {
    fn from(err: Box<dyn std::error::Error + Send + Sync>) -> Self {
        Self::retry(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_minute_with_jitter_and_honours_retry_after() {
        for _ in 0..50 {
            let Next::Retry(first) = ReportFailure::retry("x").next(1) else {
                panic!("retry")
            };
            assert!(first >= Duration::from_millis(500) && first <= Duration::from_secs(1));
            let Next::Retry(late) = ReportFailure::retry("x").next(30) else {
                panic!("retry")
            };
            assert!(
                late >= Duration::from_secs(30) && late <= MAX_BACKOFF,
                "{late:?}"
            );
            let asked = ReportFailure::slow_down("429", Some(Duration::from_secs(90)));
            assert_eq!(asked.next(1), Next::Pause(Duration::from_secs(90)));
        }
        assert_eq!(ReportFailure::stop("gone").next(1), Next::Stop);
    }
}
