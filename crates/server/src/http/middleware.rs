//! The request-context middleware: one place that gives every request an id, a log span, a deadline,
//! a host check, a timing header and its metrics.

use crate::error::AppError;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

use super::REQUEST_ID;

/// The configured body limit, put in request extensions so extractors can name it in 413 errors.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Settings the edge middleware needs.
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    /// Accepted `Host` values (lower-case, without port); empty accepts any.
    pub allowed_hosts: Vec<String>,
    /// Deadline for a whole request.
    pub request_timeout: Duration,
    /// Maximum body size.
    pub max_body_bytes: usize,
}

/// Builds the middleware function for `axum::middleware::from_fn`.
pub fn edge_layer_fn(
    settings: Arc<EdgeSettings>,
) -> impl Fn(Request, Next) -> std::pin::Pin<Box<dyn Future<Output = Response> + Send>> + Clone + Send + Sync + 'static
{
    move |req, next| {
        let settings = settings.clone();
        Box::pin(handle(settings, req, next))
    }
}

async fn handle(settings: Arc<EdgeSettings>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let method = req.method().clone();
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".to_owned());
    req.extensions_mut().insert(BodyLimit(settings.max_body_bytes));
    let span = tracing::info_span!(
        "request",
        id = %request_id,
        method = %method,
        path = %req.uri().path(),
        principal = tracing::field::Empty
    );

    let id_for_scope = request_id.clone();
    let mut response = REQUEST_ID
        .scope(id_for_scope, async move {
            if !host_allowed(&settings.allowed_hosts, &req) {
                return AppError::bad_request("INVALID_HOST", "This host name is not served here").into_response();
            }
            match tokio::time::timeout(settings.request_timeout, next.run(req)).await {
                Ok(response) => response,
                Err(_) => AppError::Unavailable("The request timed out".to_owned()).into_response(),
            }
        })
        .instrument(span.clone())
        .await;

    let elapsed = started.elapsed();
    let status = response.status();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={:.3}", elapsed.as_secs_f64() * 1000.0)) {
        headers.insert("server-timing", v);
    }
    let labels = [("method", method.to_string()), ("route", route), ("status", status.as_u16().to_string())];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels[..2]).record(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(status = status.as_u16(), ms = format_args!("{:.1}", elapsed.as_secs_f64() * 1000.0), "done");
    });
    response
}

fn host_allowed(allowed: &[String], req: &Request) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let host =
        req.headers().get(header::HOST).and_then(|v| v.to_str().ok()).or_else(|| req.uri().host()).unwrap_or_default();
    // Strip a port, keeping bracketed IPv6 literals intact.
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => name,
        _ => host,
    };
    let name = name.to_ascii_lowercase();
    allowed.iter().any(|a| a == "*" || *a == name)
}

/// The fallback for unknown paths: our 404 body.
pub async fn fallback_not_found() -> AppError {
    AppError::NotFound
}

/// The fallback for a known path with another method: our 405 body.
pub async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}
