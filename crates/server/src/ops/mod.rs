//! Operations: `/health`, `/metrics`, the OpenAPI document and its UI.

use crate::error::ErrorBody;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde::Serialize;
use std::sync::OnceLock;
use std::time::Duration;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(metrics_text))
}

/// The process-wide Prometheus recorder (one per process; several apps in one test process share it).
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full("http_request_duration_seconds".into()), &buckets)
                .expect("valid buckets")
                .install_recorder()
                .expect("the Prometheus recorder is installed once")
        })
        .clone()
}

/// Health report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database cannot be reached.
    pub status: &'static str,
    /// Database state.
    pub database: DatabaseHealth,
    /// Server version.
    pub version: &'static str,
    /// Seconds since this instance started.
    pub uptime_seconds: u64,
}

/// Database part of the health report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DatabaseHealth {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Whether a query succeeded just now (within 2 seconds).
    pub reachable: bool,
}

/// Liveness and database check. 503 when the database is unreachable. Public.
#[utoipa::path(get, path = "/health", tag = "ops",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let reachable = state.db.ping(Duration::from_secs(2)).await;
    let body = Health {
        status: if reachable { "ok" } else { "unavailable" },
        database: DatabaseHealth { backend: state.db.backend().as_str(), reachable },
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started_at.elapsed().as_secs(),
    };
    let status = if reachable { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(body))
}

/// Prometheus metrics: requests by route and status, latency histogram, database pool gauges. Public
/// (it carries counts, never data); restrict it at your proxy if needed.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, content_type = "text/plain", body = String), (status = 500, body = ErrorBody)))]
async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    let pool = state.db.stats();
    metrics::gauge!("db_pool_connections").set(f64::from(pool.size));
    metrics::gauge!("db_pool_idle_connections").set(f64::from(pool.idle));
    metrics::gauge!("db_pool_max_connections").set(f64::from(pool.max));
    // The lookup pool is the main pool on SQLite.
    let lookups = state.lookup_db.stats();
    metrics::gauge!("db_lookup_pool_connections").set(f64::from(lookups.size));
    metrics::gauge!("db_lookup_pool_max_connections").set(f64::from(lookups.max));
    metrics::gauge!("process_uptime_seconds").set(state.started_at.elapsed().as_secs_f64());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
