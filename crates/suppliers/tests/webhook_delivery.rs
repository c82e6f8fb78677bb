//! One webhook delivery attempt against small receivers on 127.0.0.1: how each answer
//! (or none) is classified, counted in `suppliers_webhook_deliveries_total`, and turned
//! into what the tracker does next (retry this report, slow every report down, stop).

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use suppliers::tracker::{Handling, ReportFailure};
use suppliers::webhook::{DeliveryOutcome, WebhookError, WebhookSender};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A receiver that answers every request with `answer` (raw HTTP), or never answers
/// when `answer` is `None`.
async fn receiver(answer: Option<&'static str>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut request = vec![0; 64 * 1024];
                let _ = stream.read(&mut request).await;
                match answer {
                    Some(answer) => {
                        let _ = stream.write_all(answer.as_bytes()).await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(3600)).await,
                }
            });
        }
    });
    url
}

fn delivery(err: &WebhookError) -> (DeliveryOutcome, Option<u16>, Option<Duration>, String) {
    match err {
        WebhookError::Delivery {
            outcome,
            status,
            retry_after,
            reason,
            ..
        } => (*outcome, *status, *retry_after, reason.clone()),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn every_answer_is_classified_counted_and_mapped_to_the_trackers_next_step() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let prometheus = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);

    let send = |url: String| async move {
        WebhookSender::with_timeout(&url, SECRET, Duration::from_millis(300))
            .unwrap()
            .send("evt_1", br#"{"id": "evt_1"}"#)
            .await
    };

    let ok = receiver(Some("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")).await;
    send(ok).await.unwrap();

    let busy = receiver(Some(
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n",
    ))
    .await;
    let (outcome, status, retry_after, reason) = delivery(&send(busy).await.unwrap_err());
    assert_eq!(
        (outcome, status, retry_after),
        (
            DeliveryOutcome::Http4xx,
            Some(429),
            Some(Duration::from_secs(7))
        )
    );
    assert!(reason.contains("429"), "{reason}");

    let failing = receiver(Some(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
    ))
    .await;
    let failing = send(failing).await.unwrap_err();
    let gone = receiver(Some("HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n")).await;
    let gone = send(gone).await.unwrap_err();
    let silent = receiver(None).await;
    let silent = send(silent).await.unwrap_err();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    let refused = send(closed).await.unwrap_err();

    assert_eq!(delivery(&failing).0, DeliveryOutcome::Http5xx);
    assert_eq!(delivery(&gone).0, DeliveryOutcome::Gone);
    let (outcome, _, _, reason) = delivery(&silent);
    assert_eq!(outcome, DeliveryOutcome::Timeout);
    assert!(reason.contains("did not answer within 300ms"), "{reason}");
    assert_eq!(delivery(&refused).0, DeliveryOutcome::Connect);

    // What the tracker makes of each: the 500 retries this report, the others hold
    // every report back, the 410 stops.
    assert_eq!(ReportFailure::from(gone).handling(), Handling::Stop);
    for slow in [silent, refused] {
        assert_eq!(ReportFailure::from(slow).handling(), Handling::SlowDown);
    }
    assert_eq!(ReportFailure::from(failing).handling(), Handling::Retry);

    let scrape = prometheus.render();
    for (outcome, count) in [
        ("success", 1),
        ("http_4xx", 1),
        ("http_5xx", 1),
        ("gone", 1),
        ("timeout", 1),
        ("connect", 1),
    ] {
        let line = format!("suppliers_webhook_deliveries_total{{outcome=\"{outcome}\"}} {count}");
        assert!(scrape.contains(&line), "{line} in {scrape}");
    }
    assert!(
        !scrape.contains("suppliers_webhook_last_success_timestamp_seconds 0\n"),
        "set by the success: {scrape}"
    );
}
