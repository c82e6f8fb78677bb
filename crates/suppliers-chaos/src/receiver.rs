//! The reseller's end of the webhooks: a receiver that checks each delivery's Standard
//! Webhooks signature and keeps what it took.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

/// The secret the trackers sign with.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One delivery the receiver accepted.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `webhook-id`: the event's id, the same on every retry of one outcome.
    pub id: String,
    /// `data.supplier`.
    pub supplier: String,
    /// `data.reference`.
    pub reference: String,
}

/// What the receiver saw.
#[derive(Debug, Default)]
pub struct Received {
    /// Accepted deliveries, in arrival order.
    pub deliveries: Vec<Delivery>,
    /// Deliveries refused for a bad signature or body.
    pub refused: usize,
}

/// Shared between the server and the audit.
pub type Shared = Arc<Mutex<Received>>;

async fn receive(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let verifier = standardwebhooks::Webhook::new(SECRET).expect("a valid secret");
    let delivery = verifier.verify(&body, &headers).ok().and_then(|()| {
        let event: serde_json::Value = serde_json::from_slice(&body).ok()?;
        Some(Delivery {
            id: headers.get("webhook-id")?.to_str().ok()?.to_owned(),
            supplier: event["data"]["supplier"].as_str()?.to_owned(),
            reference: event["data"]["reference"].as_str()?.to_owned(),
        })
    });
    let mut received = shared.lock().expect("receiver lock");
    match delivery {
        Some(delivery) => {
            received.deliveries.push(delivery);
            StatusCode::NO_CONTENT
        }
        None => {
            received.refused += 1;
            StatusCode::BAD_REQUEST
        }
    }
}

/// Serves the receiver on 127.0.0.1 and returns its webhook URL.
pub async fn start(shared: Shared) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let address = listener.local_addr()?;
    let app = axum::Router::new()
        .route("/hooks", axum::routing::post(receive))
        .with_state(shared);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{address}/hooks"))
}
