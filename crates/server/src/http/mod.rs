//! The HTTP edge shared by every feature: our extractors (whose rejections are our error body), the
//! request-context middleware (request id, timing, metrics, host check, timeout), client addresses, and how
//! answers write timestamps (`timestamps`).

mod extract;
mod middleware;
pub mod timestamps;

pub use extract::{AppJson, AppJsonBytes, AppPath, AppQuery, ClientIp, parse_json};
pub use middleware::{BodyLimit, EdgeSettings, edge_layer_fn, fallback_not_found, method_not_allowed};

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

#[cfg(test)]
mod tests {
    use crate::error::AppError;
    use axum::response::IntoResponse;

    #[tokio::test]
    async fn internal_errors_carry_the_request_id_and_nothing_internal() {
        let response = super::REQUEST_ID
            .scope("req-42".to_owned(), async {
                AppError::Internal("connection to 10.0.0.5 refused: password=hunter2".into()).into_response()
            })
            .await;
        assert_eq!(response.status(), 500);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error_code"], "INTERNAL_ERROR");
        assert_eq!(body["request_id"], "req-42");
        assert!(!text.contains("hunter2") && !text.contains("10.0.0.5"), "{text}");
    }
}
