//! Every request runs in a span naming supplier, operation, attempt and status; no
//! secret reaches the trace.

use std::io::Write;
use std::sync::{Arc, Mutex};

use httpmock::prelude::*;
use suppliers::Suppliers;
use suppliers::config::FoxReloadConfig;
use tracing_subscriber::fmt::format::FmtSpan;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn request_spans_carry_supplier_operation_attempt_and_status_but_no_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/api/orders/order-1");
            then.status(200).json_body(serde_json::json!({
                "id": "order-1", "status": "completed",
                "items": [{"product": {"id": "p", "name": "n"}, "quantity": 1, "externalData": ["SECRET-CODE-42"]}]
            }));
        })
        .await;
    let suppliers = Suppliers::builder()
        .foxreload(FoxReloadConfig::new("sk_live_key_123", &server.base_url()).unwrap())
        .build()
        .unwrap();
    let order = suppliers
        .foxreload()
        .unwrap()
        .order("order-1")
        .await
        .unwrap();
    assert_eq!(order.delivery.codes, ["SECRET-CODE-42"]);

    let trace = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(trace.contains("supplier_request"), "{trace}");
    for field in [
        "supplier=\"foxreload\"",
        "operation=\"get_order\"",
        "attempt=1",
        "status=200",
    ] {
        assert!(trace.contains(field), "missing {field} in:\n{trace}");
    }
    for secret in ["sk_live_key_123", "SECRET-CODE-42"] {
        assert!(!trace.contains(secret), "{secret} leaked into:\n{trace}");
    }
    for shown in [format!("{suppliers:?}"), format!("{order:?}")] {
        assert!(
            !shown.contains("sk_live_key_123") && !shown.contains("SECRET-CODE-42"),
            "{shown}"
        );
    }
}
