//! The facade's metrics, as a Prometheus recorder renders them and a Prometheus
//! text-format parser reads them: one observation per attempt with the semantic
//! conventions' labels, retries and 429s counted, purchases by outcome, and no label
//! that holds an id, a reference or a URL.

// Only its `facade`: the metrics do not depend on the journal's backend.
#[allow(dead_code)]
mod journaled;

use std::collections::BTreeMap;

use axum::http::Method;
use journaled::facade;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};
use rust_decimal::Decimal;
use suppliers::model::SupplierId;
use suppliers::{BuyRequest, Error};
use suppliers_sandbox::{Fault, FaultRule, Sandbox, SandboxConfig, Timings};

const STEAM_500_RUB: &str = "product_01krgfgww8eth9xvvysd6y7r4j";

fn recorder() -> PrometheusRecorder {
    let mut builder = PrometheusBuilder::new();
    for (name, buckets) in suppliers::metrics::histogram_buckets() {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(name.into()), buckets)
            .unwrap();
    }
    builder.build_recorder()
}

fn request(product: &str, reference: &str) -> BuyRequest {
    let mut request = BuyRequest::new(product, 1);
    request.reference = Some(reference.into());
    request
}

/// Every sample of `name` as (labels, value).
fn samples(scrape: &prometheus_parse::Scrape, name: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .map(|s| {
            let labels = s
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let value = match &s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => *v,
                prometheus_parse::Value::Histogram(buckets) => {
                    buckets.last().map_or(0.0, |b| b.count)
                }
                prometheus_parse::Value::Summary(_) => panic!("{name} is a summary"),
            };
            (labels, value)
        })
        .collect()
}

/// The value of `name` whose labels include all of `want` (0 when there is none).
fn value(scrape: &prometheus_parse::Scrape, name: &str, want: &[(&str, &str)]) -> f64 {
    samples(scrape, name)
        .into_iter()
        .filter(|(labels, _)| {
            want.iter()
                .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, v)| v)
        .sum()
}

#[tokio::test]
async fn attempts_retries_rate_limits_and_purchases_are_counted_with_bounded_labels() {
    let recorder = recorder();
    let handle = recorder.handle();
    // The test's runtime has one thread: every task the facade spawns records here.
    let _local = metrics::set_default_local_recorder(&recorder);
    suppliers::metrics::describe();

    let sandbox = Sandbox::start(SandboxConfig {
        timings: Timings::fast(),
        mousacard_balance: Decimal::new(25, 0),
        faults: vec![
            FaultRule::new(
                "/foxreload/api/products/",
                Fault::RateLimit {
                    retry_after_secs: 1,
                },
                1,
            )
            .for_method(Method::GET),
            FaultRule::new("/mousacard/products", Fault::ServerError(503), 1)
                .for_method(Method::GET),
        ],
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite3").display().to_string();
    let suppliers = facade(&sandbox, &journal).await;
    let reference = |name: &str| format!("metrics-{name}-{}", uuid::Uuid::new_v4().simple());
    let references = [
        reference("fox"),
        reference("m1"),
        reference("m2"),
        reference("m3"),
    ];

    // Bought, after a 429 on the product read.
    suppliers
        .buy(
            SupplierId::FoxReload,
            &request(STEAM_500_RUB, &references[0]),
        )
        .await
        .unwrap();
    // After a 503 on the product read, the answer is lost and, with no MousaCard order
    // known before it, nothing can place the order (25 -> 15): ambiguous.
    sandbox.faults().add(
        FaultRule::new("/mousacard/orders", Fault::DropAfterHandling, 1).for_method(Method::POST),
    );
    let err = suppliers
        .buy(SupplierId::MousaCard, &request("12330", &references[2]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AmbiguousPurchase { .. }), "{err}");
    // Bought (15 -> 5).
    suppliers
        .buy(SupplierId::MousaCard, &request("12330", &references[1]))
        .await
        .unwrap();
    // 5 left for a card of 10: refused.
    let err = suppliers
        .buy(SupplierId::MousaCard, &request("12330", &references[3]))
        .await
        .unwrap_err();
    assert!(err.is_refusal(), "{err}");

    let text = handle.render();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();

    let purchases = |supplier, outcome| {
        value(
            &scrape,
            "suppliers_purchases_total",
            &[("supplier", supplier), ("outcome", outcome)],
        )
    };
    assert_eq!(purchases("foxreload", "bought"), 1.0);
    assert_eq!(purchases("mousacard", "bought"), 1.0);
    assert_eq!(purchases("mousacard", "ambiguous"), 1.0);
    assert_eq!(purchases("mousacard", "refused"), 1.0);
    assert_eq!(purchases("mousacard", "failed"), 0.0);

    assert_eq!(
        value(
            &scrape,
            "suppliers_rate_limited_total",
            &[("supplier", "foxreload")]
        ),
        1.0
    );
    let retries = |supplier, operation| {
        value(
            &scrape,
            "suppliers_retries_total",
            &[("supplier", supplier), ("operation", operation)],
        )
    };
    assert_eq!(retries("foxreload", "get_product"), 1.0);
    assert_eq!(retries("mousacard", "get_product"), 1.0);

    // One observation per attempt, as a histogram.
    let duration = "http_client_request_duration_seconds";
    assert!(
        scrape.docs.get(duration).is_some_and(|d| !d.is_empty()),
        "described"
    );
    let attempts = |want: &[(&str, &str)]| value(&scrape, duration, want);
    assert_eq!(
        attempts(&[
            ("supplier", "foxreload"),
            ("operation", "get_product"),
            ("http_request_method", "GET"),
            ("http_response_status_code", "429"),
            ("error_type", "429"),
        ]),
        1.0
    );
    assert_eq!(
        attempts(&[
            ("supplier", "mousacard"),
            ("operation", "get_product"),
            ("http_response_status_code", "503"),
            ("error_type", "503"),
        ]),
        1.0
    );
    // Three purchases sent to MousaCard: two answered, one whose body never came.
    assert_eq!(
        attempts(&[
            ("supplier", "mousacard"),
            ("operation", "create_order"),
            ("http_request_method", "POST"),
        ]),
        3.0
    );
    for (labels, _) in samples(&scrape, duration) {
        if labels
            .get("http_response_status_code")
            .is_some_and(|s| s.starts_with('2'))
        {
            assert!(!labels.contains_key("error_type"), "{labels:?}");
        }
    }
    // Successful FoxReload attempts have no error_type and a bucket per boundary.
    let buckets = scrape
        .samples
        .iter()
        .find_map(|s| match (&s.value, s.metric.as_str()) {
            (prometheus_parse::Value::Histogram(buckets), name) if name == duration => {
                Some(buckets.len())
            }
            _ => None,
        })
        .expect("a histogram, not a summary");
    assert_eq!(buckets, suppliers::metrics::HTTP_DURATION_BUCKETS.len() + 1);

    // No label holds a reference, an order id, a URL or anything unbounded.
    for sample in &scrape.samples {
        for (key, value) in sample.labels.iter() {
            assert!(bounded_label(value), "{}{{{key}={value:?}}}", sample.metric);
            for reference in &references {
                assert!(!value.contains(reference.as_str()), "{key}={value}");
            }
            assert!(
                !value.contains("127.0.0.1") && !value.contains('/'),
                "{key}={value}"
            );
        }
    }
    sandbox.shutdown().await;
}

/// A label value of the kind the contract allows: a short word, number or bucket bound.
fn bounded_label(value: &str) -> bool {
    (1..=32).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+'))
}
