//! The sandbox's order stream as a browser's `EventSource` reads it: the WHATWG
//! event-stream rules (HTML Living Standard, "Interpreting an event stream"), written
//! out below, must see `stop`, or a standard client would reconnect forever.

use std::time::Duration;

use suppliers::config::CryptorefillsConfig;
use suppliers::{BuyRequest, Suppliers};
use suppliers_sandbox::{Sandbox, SandboxConfig, Timings};

/// The events a WHATWG-conformant `EventSource` dispatches for `stream`, as
/// `(type, data)`. An event whose data buffer is empty is not dispatched.
fn whatwg_events(stream: &str) -> Vec<(String, String)> {
    let (mut data, mut kind, mut dispatched) = (String::new(), String::new(), Vec::new());
    // Lines end at CRLF, LF or CR; a stream that ends mid-line drops that line.
    let normalised = stream.replace("\r\n", "\n").replace('\r', "\n");
    let mut lines: Vec<&str> = normalised.split('\n').collect();
    lines.pop();
    for line in lines {
        if line.is_empty() {
            if data.is_empty() {
                kind.clear();
                continue;
            }
            if data.ends_with('\n') {
                data.pop();
            }
            let name = if kind.is_empty() {
                "message".to_owned()
            } else {
                std::mem::take(&mut kind)
            };
            dispatched.push((name, std::mem::take(&mut data)));
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => kind = value.to_owned(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            _ => {}
        }
    }
    dispatched
}

#[test]
fn the_parser_drops_data_less_events_as_browsers_do() {
    assert_eq!(whatwg_events("event: stop\n\n"), []);
    assert_eq!(
        whatwg_events("data: a\n\nevent: stop\ndata: {}\n\n"),
        [("message".into(), "a".into()), ("stop".into(), "{}".into())]
    );
}

#[tokio::test]
async fn a_standard_event_source_sees_the_stop_that_ends_an_order_stream() {
    let sandbox = Sandbox::start(SandboxConfig {
        timings: Timings::fast(),
        cryptorefills_auto_pay_after: Some(chrono::TimeDelta::milliseconds(50)),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let suppliers = Suppliers::builder()
        .cryptorefills(
            CryptorefillsConfig::new("sandbox", "1.0.0", &sandbox.cryptorefills_url()).unwrap(),
        )
        .journal(suppliers::Journal::in_memory().await.unwrap())
        .build()
        .unwrap();
    let mut request = BuyRequest::new("giftcard/Airbnb/US/100", 1);
    request.email = Some("user@example.com".into());
    let order = suppliers
        .buy(suppliers::model::SupplierId::Cryptorefills, &request)
        .await
        .unwrap()
        .order;

    let stream = reqwest::Client::new()
        .get(format!(
            "{}/v5/orders/{}/subscribe",
            sandbox.cryptorefills_url(),
            order.id
        ))
        .header("accept", "text/event-stream")
        .header("x-cr-application", "sandbox")
        .header("x-cr-version", "1.0.0")
        .header("x-country-iso-code", "US")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let body = tokio::time::timeout(Duration::from_secs(10), stream.text())
        .await
        .expect("the stream ends by itself")
        .unwrap();
    let events = whatwg_events(&body);
    let (last, data) = events.last().expect("events");
    assert_eq!(last, "stop", "{body}");
    assert_eq!(data, "{}");
    assert!(
        events[..events.len() - 1]
            .iter()
            .all(|(kind, _)| kind == "message")
    );
    sandbox.shutdown().await;
}
