//! `suppliers track`: every journaled order followed to its outcome, each reported as
//! a line on stdout (written and flushed before it counts as reported) or as a signed
//! webhook (2xx before it counts).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::{Value, json};
use suppliers::Suppliers;
use suppliers::tracker::{Report, ReportFailure, TrackSummary, Tracker, TrackerConfig};
use suppliers::webhook::WebhookSender;
use tokio::sync::Notify;

use crate::{Failure, output};

/// What `track` was asked to do.
pub struct TrackArgs {
    pub json: bool,
    pub follow: bool,
    pub timeout: Duration,
    pub webhook: Option<WebhookSender>,
    pub requests_per_second: f64,
    pub round: Duration,
    pub claim_batch: usize,
    /// Where to serve the metrics, and the installed recorder.
    pub metrics: Option<(std::net::SocketAddr, PrometheusHandle)>,
}

/// The event every report becomes: `{"id", "type", "timestamp", "data": {"reference",
/// "supplier", "order", "reason"}}`, `order` as `suppliers order --json` prints it and
/// `reason` why an undelivered order was not (null when delivered). The same bytes on
/// every retry of one outcome.
pub fn event_json(report: &Report) -> Value {
    json!({
        "id": report.event_id,
        "type": report.event_type(),
        "timestamp": report.settled_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": {
            "reference": report.reference,
            "supplier": report.supplier.as_str(),
            "order": output::order_json(&report.order),
            "reason": report.reason,
        },
    })
}

/// One line for a person: reference, supplier, order id, status, codes or reason.
fn report_text(report: &Report) -> String {
    let what = match &report.reason {
        Some(reason) => reason.clone(),
        None if report.order.delivery.codes.is_empty() => "delivered".into(),
        None => report.order.delivery.codes.join(" "),
    };
    format!(
        "{} {} {} {} {what}\n",
        report.reference, report.supplier, report.order.id, report.order.status
    )
}

/// Runs the tracker until it is done, times out, or SIGINT/SIGTERM stops it.
pub async fn track(suppliers: &Suppliers, args: TrackArgs) -> Result<TrackSummary, Failure> {
    let config = TrackerConfig {
        follow: args.follow,
        timeout: (!args.follow).then_some(args.timeout),
        requests_per_second: args.requests_per_second,
        round: args.round,
        claim_batch: args.claim_batch,
        ..TrackerConfig::default()
    };
    let tracker = Tracker::new(suppliers, config)?;
    if let Some((addr, prometheus)) = args.metrics {
        let bound = crate::metrics_server::serve(addr, prometheus, tracker.health())
            .await
            .map_err(|e| Failure::Usage(format!("--metrics-addr {addr}: {e}")))?;
        eprintln!("metrics on http://{bound}");
    }
    // Stdout that cannot be written ends the run: nothing could be reported any more.
    let broken = Arc::new(Notify::new());
    let stop = {
        let broken = broken.clone();
        async move {
            tokio::select! {
                () = signalled() => {}
                () = broken.notified() => {}
            }
        }
    };
    let (json, webhook) = (args.json, args.webhook);
    tracker
        .run(
            |report| {
                let (webhook, broken) = (webhook.clone(), broken.clone());
                async move {
                    let event = event_json(&report);
                    let line = match json {
                        true => format!("{event}\n"),
                        false => report_text(&report),
                    };
                    if let Some(webhook) = &webhook {
                        webhook
                            .send(&report.event_id, event.to_string().as_bytes())
                            .await?;
                        // The receiver has it; stdout is only for whoever watches.
                        let _ = write_flushed(&line);
                        return Ok(());
                    }
                    write_flushed(&line).inspect_err(|_| broken.notify_one())?;
                    Ok::<(), ReportFailure>(())
                }
            },
            stop,
        )
        .await
        .map_err(Failure::from)
}

/// What a run left in the journal, for stderr: orders awaiting their goods apart from
/// settled orders whose report was not accepted (and why), or `None` when nothing is
/// left. `by` names who did not accept them (`the webhook`, `stdout`).
pub fn closing_summary(summary: &TrackSummary, by: &str, waited: Option<u64>) -> Option<String> {
    let mut parts = Vec::new();
    if summary.awaiting_goods > 0 {
        let after = waited.map(|s| format!(" after {s} s")).unwrap_or_default();
        parts.push(format!(
            "{} order(s) still awaiting their goods{after}",
            summary.awaiting_goods
        ));
    }
    let why = match (&summary.last_report_error, summary.report_attempts) {
        (Some(error), attempts) => format!(": {error}, {attempts} attempt(s)"),
        (None, _) => String::new(),
    };
    let settled = [
        (summary.delivered_unreported, "delivered"),
        (summary.undelivered_unreported, "undelivered"),
    ];
    let settled: Vec<String> = settled
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, what)| format!("{count} {what}"))
        .collect();
    if !settled.is_empty() {
        parts.push(format!(
            "{}, not yet accepted by {by}{why}",
            settled.join(" and ")
        ));
    }
    (!parts.is_empty()).then(|| {
        format!(
            "{}; they stay in the journal for the next `suppliers track`",
            parts.join("; ")
        )
    })
}

fn write_flushed(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())?;
    out.flush()
}

/// SIGINT or SIGTERM.
async fn signalled() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
