//! The distance of a real supplier: every answer waits before it is sent.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::Latency;

/// Middleware: handles the request, then holds the answer for one sampled delay. An
/// event stream's head is held, its events are not.
pub(crate) async fn delay(
    State(latency): State<Latency>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    tokio::time::sleep(latency.sample()).await;
    response
}
