//! The metrics the SDK records, through the [`metrics`] facade: nothing is
//! kept and almost nothing is spent until the application installs a recorder (for
//! Prometheus, `metrics-exporter-prometheus`; the `suppliers` CLI serves one with
//! `track --metrics-addr`).
//!
//! The names follow the OpenTelemetry semantic conventions in their Prometheus form and
//! are a contract: renaming one, or a label, is a breaking change. No label ever holds
//! an order id, a reference, a URL or anything else unbounded.
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `http_client_request_duration_seconds` | histogram, one observation per attempt | `supplier`, `operation` (the OpenAPI operationId), `http_request_method`, `http_response_status_code` (when an answer came), `error_type` (on failure: `timeout`, `connect`, `connection`, `body`, or the status code) |
//! | `suppliers_purchases_total` | counter | `supplier`, `outcome`: `bought`, `refused`, `ambiguous`, `failed` |
//! | `suppliers_retries_total` | counter | `supplier`, `operation` |
//! | `suppliers_rate_limited_total` | counter (429 answers) | `supplier` |
//! | `suppliers_orders_awaiting` | gauge (a tracker's orders awaiting their goods) | `supplier` |
//! | `suppliers_oldest_awaiting_seconds` | gauge (age of the oldest of them; 0: none) | `supplier` |
//! | `suppliers_reports_pending` | gauge (settled, report not yet accepted) | `supplier` |
//! | `suppliers_fulfilment_seconds` | histogram (purchase to settlement) | `supplier`, `outcome`: `delivered`, `undelivered` |
//! | `suppliers_webhook_deliveries_total` | counter (one per attempt) | `outcome`: `success`, `http_4xx`, `http_5xx`, `timeout`, `connect`, `gone` |
//! | `suppliers_webhook_last_success_timestamp_seconds` | gauge (0 until the first) | |
//! | `suppliers_tracker_last_round_timestamp_seconds` | gauge (a tracker's last look at the journal) | |
//! | `suppliers_journal_errors_total` | counter (journal operations that failed) | |
//!
//! An application installing its own Prometheus recorder should give the histograms
//! their buckets ([`histogram_buckets`]), or they are rendered as summaries:
//!
//! ```
//! use metrics_exporter_prometheus::PrometheusBuilder;
//!
//! let mut builder = PrometheusBuilder::new();
//! for (name, buckets) in suppliers::metrics::histogram_buckets() {
//!     builder = builder
//!         .set_buckets_for_metric(metrics_exporter_prometheus::Matcher::Full(name.into()), buckets)
//!         .unwrap();
//! }
//! let recorder = builder.build_recorder();
//! # let _ = recorder;
//! ```

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use ::metrics::{Key, Label, Level, Metadata, SharedString, Unit};
use foldhash::fast::FixedState;

use crate::model::SupplierId;

/// Duration of one HTTP request attempt to a supplier.
pub const HTTP_CLIENT_REQUEST_DURATION: &str = "http_client_request_duration_seconds";
/// Purchases sent, by outcome.
pub const PURCHASES: &str = "suppliers_purchases_total";
/// Requests sent again after a transient failure.
pub const RETRIES: &str = "suppliers_retries_total";
/// 429 answers from a supplier.
pub const RATE_LIMITED: &str = "suppliers_rate_limited_total";
/// Orders a tracker follows that await their goods.
pub const ORDERS_AWAITING: &str = "suppliers_orders_awaiting";
/// Age of the oldest order a tracker follows that awaits its goods.
pub const OLDEST_AWAITING: &str = "suppliers_oldest_awaiting_seconds";
/// Orders settled whose report the handler (or webhook receiver) has not accepted.
pub const REPORTS_PENDING: &str = "suppliers_reports_pending";
/// Time from purchase to the supplier settling the order.
pub const FULFILMENT_DURATION: &str = "suppliers_fulfilment_seconds";
/// Webhook delivery attempts, by outcome.
pub const WEBHOOK_DELIVERIES: &str = "suppliers_webhook_deliveries_total";
/// Unix time of the last webhook delivery the receiver accepted (0 until the first).
pub const WEBHOOK_LAST_SUCCESS: &str = "suppliers_webhook_last_success_timestamp_seconds";
/// Unix time of a tracker's last look at the journal.
pub const TRACKER_LAST_ROUND: &str = "suppliers_tracker_last_round_timestamp_seconds";
/// Journal operations that failed.
pub const JOURNAL_ERRORS: &str = "suppliers_journal_errors_total";

/// The semantic conventions' HTTP duration buckets, plus 15 and 30 s (the attempt
/// deadline).
pub const HTTP_DURATION_BUCKETS: [f64; 16] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 15.0, 30.0,
];

/// Purchase to settlement: seconds (codes at once) to a day (a slow supplier).
pub const FULFILMENT_BUCKETS: [f64; 14] = [
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 21600.0,
    86400.0,
];

/// Every histogram with its buckets.
pub fn histogram_buckets() -> [(&'static str, &'static [f64]); 2] {
    [
        (HTTP_CLIENT_REQUEST_DURATION, &HTTP_DURATION_BUCKETS),
        (FULFILMENT_DURATION, &FULFILMENT_BUCKETS),
    ]
}

/// Gives every metric its help text and unit in the installed recorder (call once,
/// after installing it).
pub fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_histogram!(
        HTTP_CLIENT_REQUEST_DURATION,
        Unit::Seconds,
        "Duration of one HTTP request attempt to a supplier, from sending to the last byte of the answer."
    );
    describe_counter!(
        PURCHASES,
        "Purchases sent to a supplier, by outcome (bought, refused, ambiguous, failed)."
    );
    describe_counter!(RETRIES, "Requests sent again after a transient failure.");
    describe_counter!(RATE_LIMITED, "429 answers received from a supplier.");
    describe_gauge!(
        ORDERS_AWAITING,
        "Orders this tracker follows that still await their goods."
    );
    describe_gauge!(
        OLDEST_AWAITING,
        Unit::Seconds,
        "Age since purchase of the oldest order this tracker follows that awaits its goods (0: none)."
    );
    describe_gauge!(
        REPORTS_PENDING,
        "Orders settled at the supplier whose report was not accepted yet."
    );
    describe_histogram!(
        FULFILMENT_DURATION,
        Unit::Seconds,
        "Time from purchase to the supplier settling the order (delivered or undelivered)."
    );
    describe_counter!(
        WEBHOOK_DELIVERIES,
        "Webhook delivery attempts, by outcome (success, http_4xx, http_5xx, timeout, connect, gone)."
    );
    describe_gauge!(
        WEBHOOK_LAST_SUCCESS,
        Unit::Seconds,
        "Unix time of the last webhook delivery the receiver accepted (0: none yet)."
    );
    describe_gauge!(
        TRACKER_LAST_ROUND,
        Unit::Seconds,
        "Unix time of the tracker's last look at the journal."
    );
    describe_counter!(JOURNAL_ERRORS, "Journal operations that failed.");
}

/// How an attempt ended, for [`HTTP_CLIENT_REQUEST_DURATION`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum AttemptEnd {
    /// An answer came with this status (a success, or an error answer).
    Answered(u16),
    /// An answer's status came, then its body failed (cut off, undecodable).
    BodyFailed(Option<u16>),
    /// An answer's status came, then its body stalled under the throughput floor.
    BodyStalled(Option<u16>),
    /// No answer: `timeout`, `connect` or `connection`.
    NoAnswer(&'static str),
}

/// One attempt's duration.
pub(crate) fn record_attempt(
    supplier: SupplierId,
    operation: &'static str,
    method: &'static str,
    end: AttemptEnd,
    elapsed: Duration,
) {
    static METADATA: Metadata<'static> =
        Metadata::new(module_path!(), Level::INFO, Some(module_path!()));
    let key = attempt_key(supplier, operation, method, end);
    ::metrics::with_recorder(|recorder| recorder.register_histogram(&key, &METADATA))
        .record(elapsed.as_secs_f64());
}

/// The key of one kind of attempt, made once: every request records one, and building a
/// key (its labels and their hash) cost more than the rest of the recording. The labels
/// are kept for the life of the process; there are as many as operations times the
/// ways an attempt ends, a few hundred at most.
fn attempt_key(
    supplier: SupplierId,
    operation: &'static str,
    method: &'static str,
    end: AttemptEnd,
) -> Key {
    type Kind = (SupplierId, &'static str, &'static str, AttemptEnd);
    static KEYS: Mutex<HashMap<Kind, Key, FixedState>> =
        Mutex::new(HashMap::with_hasher(FixedState::with_seed(0)));
    let kind = (supplier, operation, method, end);
    let mut keys = KEYS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(key) = keys.get(&kind) {
        return key.clone();
    }
    let labels: &'static [Label] = Vec::leak(attempt_labels(supplier, operation, method, end));
    let key = Key::from_static_labels(HTTP_CLIENT_REQUEST_DURATION, labels);
    keys.insert(kind, key.clone());
    key
}

/// The labels of one kind of attempt.
fn attempt_labels(
    supplier: SupplierId,
    operation: &'static str,
    method: &'static str,
    end: AttemptEnd,
) -> Vec<Label> {
    let mut labels = Vec::with_capacity(5);
    labels.push(Label::from_static_parts("supplier", supplier.as_str()));
    labels.push(Label::from_static_parts("operation", operation));
    labels.push(Label::from_static_parts("http_request_method", method));
    match end {
        AttemptEnd::Answered(status) => {
            labels.push(Label::new(
                "http_response_status_code",
                status_label(status),
            ));
            if status >= 400 {
                labels.push(Label::new("error_type", status_label(status)));
            }
        }
        AttemptEnd::BodyFailed(status) | AttemptEnd::BodyStalled(status) => {
            if let Some(status) = status {
                labels.push(Label::new(
                    "http_response_status_code",
                    status_label(status),
                ));
            }
            let kind = match end {
                AttemptEnd::BodyStalled(_) => "timeout",
                _ => "body",
            };
            labels.push(Label::from_static_parts("error_type", kind));
        }
        AttemptEnd::NoAnswer(kind) => labels.push(Label::from_static_parts("error_type", kind)),
    }
    labels
}

/// A retry of `operation`.
pub(crate) fn record_retry(supplier: SupplierId, operation: &'static str) {
    ::metrics::counter!(RETRIES, "supplier" => supplier.as_str(), "operation" => operation)
        .increment(1);
}

/// A 429 answer.
pub(crate) fn record_rate_limited(supplier: SupplierId) {
    ::metrics::counter!(RATE_LIMITED, "supplier" => supplier.as_str()).increment(1);
}

/// A purchase's outcome: `bought`, `refused`, `ambiguous` or `failed`.
pub(crate) fn record_purchase(supplier: SupplierId, outcome: &'static str) {
    ::metrics::counter!(PURCHASES, "supplier" => supplier.as_str(), "outcome" => outcome)
        .increment(1);
}

/// A failed journal operation.
pub(crate) fn record_journal_error() {
    ::metrics::counter!(JOURNAL_ERRORS).increment(1);
}

/// The status code as a label value, without allocating for the usual ones.
fn status_label(status: u16) -> SharedString {
    let known = match status {
        200 => "200",
        201 => "201",
        202 => "202",
        204 => "204",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        409 => "409",
        410 => "410",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => return SharedString::from(status.to_string()),
    };
    SharedString::const_str(known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_labels_are_the_code() {
        for status in [200, 201, 299, 404, 429, 503, 599] {
            assert_eq!(status_label(status).as_ref(), status.to_string());
        }
    }
}
