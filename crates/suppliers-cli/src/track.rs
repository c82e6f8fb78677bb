//! `suppliers track`: every journaled order followed to its outcome, each reported as
//! a line on stdout (written and flushed before it counts as reported) or as a signed
//! webhook (2xx before it counts).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use suppliers::tracker::{Report, TrackSummary, Tracker, TrackerConfig};
use suppliers::webhook::WebhookSender;
use suppliers::{Error, Suppliers};
use tokio::sync::Notify;

use crate::output;

/// What `track` was asked to do.
pub struct TrackArgs {
    pub json: bool,
    pub follow: bool,
    pub timeout: Duration,
    pub webhook: Option<WebhookSender>,
    pub requests_per_second: f64,
    pub round: Duration,
    pub claim_batch: usize,
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
pub async fn track(suppliers: &Suppliers, args: TrackArgs) -> Result<TrackSummary, Error> {
    let config = TrackerConfig {
        follow: args.follow,
        timeout: (!args.follow).then_some(args.timeout),
        requests_per_second: args.requests_per_second,
        round: args.round,
        claim_batch: args.claim_batch,
        ..TrackerConfig::default()
    };
    let tracker = Tracker::new(suppliers, config)?;
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
                    Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
                }
            },
            stop,
        )
        .await
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
