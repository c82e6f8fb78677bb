//! `track --metrics-addr ADDR`: the Prometheus recorder, and a small HTTP server for
//! `GET /metrics` (text format, histograms with buckets), `GET /livez` and
//! `GET /readyz` (200 while the tracker looks at an answering journal every round, 503
//! with the reason otherwise).

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use suppliers::tracker::TrackerHealth;

/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

/// Binds `addr` and serves `prometheus`' metrics until the process ends; returns the
/// bound address (port 0 binds a free one).
pub async fn serve(
    addr: SocketAddr,
    prometheus: PrometheusHandle,
    health: TrackerHealth,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let upkeep = prometheus.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(UPKEEP).await;
            upkeep.run_upkeep();
        }
    });
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let prometheus = prometheus.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        prometheus.render(),
                    )
                }
            }),
        )
        .route("/livez", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let health = health.clone();
                async move {
                    match health.ready() {
                        Ok(()) => (StatusCode::OK, "ok\n".to_owned()).into_response(),
                        Err(reason) => {
                            (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response()
                        }
                    }
                }
            }),
        );
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(error = %err, "the metrics server stopped");
        }
    });
    Ok(bound)
}

/// Installs the Prometheus recorder for the whole process (before anything records),
/// with every histogram's buckets and every metric's description.
pub fn install_recorder() -> std::io::Result<PrometheusHandle> {
    let mut builder = PrometheusBuilder::new();
    for (name, buckets) in suppliers::metrics::histogram_buckets() {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets)
            .map_err(std::io::Error::other)?;
    }
    let handle = builder.install_recorder().map_err(std::io::Error::other)?;
    suppliers::metrics::describe();
    Ok(handle)
}
