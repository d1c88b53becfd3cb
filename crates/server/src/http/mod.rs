//! The HTTP edge shared by every feature: our extractors (whose rejections are our error body), the
//! request-context middleware (request id, timing, metrics, host check, timeout), and client addresses.

mod extract;
mod middleware;

pub use extract::{AppJson, AppPath, AppQuery, ClientIp};
pub use middleware::{BodyLimit, EdgeSettings, edge_layer_fn, fallback_not_found, method_not_allowed};

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}
