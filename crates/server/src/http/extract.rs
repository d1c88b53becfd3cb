//! Extractors that turn malformed input into our error body, naming the field where there is one.

use crate::error::AppError;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header, request::Parts};
use serde::de::DeserializeOwned;
use std::net::{IpAddr, SocketAddr};
use switchboard_domain::FieldError;

use super::middleware::BodyLimit;

/// A JSON body. Wrong content type → 415, oversized → 413, malformed → 400, wrong types or missing or
/// unknown fields → 422 naming the field.
#[derive(Debug, Clone)]
pub struct AppJson<T>(pub T);

impl<S, T> FromRequest<S> for AppJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let bytes = json_bytes(req, state).await?;
        parse_json(&bytes).map(AppJson)
    }
}

/// A JSON body like [`AppJson`], keeping the raw bytes too (idempotency keys hash the exact request).
#[derive(Debug, Clone)]
pub struct AppJsonBytes<T>(pub T, pub Bytes);

impl<S, T> FromRequest<S> for AppJsonBytes<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let bytes = json_bytes(req, state).await?;
        let value = parse_json(&bytes)?;
        Ok(AppJsonBytes(value, bytes))
    }
}

async fn json_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, AppError> {
    if !is_json(req.headers()) {
        return Err(AppError::UnsupportedMediaType);
    }
    let limit = req.extensions().get::<BodyLimit>().map(|l| l.0).unwrap_or_default();
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge { limit }
        } else {
            AppError::bad_request("INVALID_BODY", "The request body could not be read")
        }
    })
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Parses JSON, classifying failures: syntax → 400, data → 422 with the field path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::bad_request("MALFORMED_JSON", "The request body is empty; expected a JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = strip_position(&inner.to_string());
                AppError::Validation(vec![FieldError::new(field_name(&path, &message), message)])
            }
            _ => AppError::bad_request("MALFORMED_JSON", format!("The request body is not valid JSON: {inner}")),
        }
    })
}

/// serde reports missing and unknown fields at the parent's path; name the field itself.
fn field_name(path: &str, message: &str) -> String {
    let quoted = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split('`').next());
    match (path, quoted) {
        (".", Some(name)) => name.to_owned(),
        (_, Some(name)) if path == name || path.ends_with(&format!(".{name}")) => path.to_owned(),
        (_, Some(name)) => format!("{path}.{name}"),
        (".", None) => "body".to_owned(),
        (_, None) => path.to_owned(),
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Query-string parameters; a bad value is 400 naming the parameter.
#[derive(Debug, Clone)]
pub struct AppQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for AppQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(AppQuery).map_err(|err| {
            let path = err.path().to_string();
            let message = err.into_inner().to_string();
            AppError::BadRequest {
                code: "INVALID_QUERY",
                message: "Invalid query parameter".to_owned(),
                fields: vec![FieldError::new(field_name(&path, &message), message)],
            }
        })
    }
}

/// Path parameters; an unparsable one (e.g. not a UUID) is 400 naming the parameter.
#[derive(Debug, Clone)]
pub struct AppPath<T>(pub T);

impl<S, T> FromRequestParts<S> for AppPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(AppPath(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                use axum::extract::path::ErrorKind;
                // Name the parameter as the route spells it (`/users/{id}` → `id`).
                let names: Vec<String> = parts
                    .extensions
                    .get::<axum::extract::MatchedPath>()
                    .map(|m| {
                        m.as_str().split('{').skip(1).filter_map(|s| s.split('}').next()).map(str::to_owned).collect()
                    })
                    .unwrap_or_default();
                let field = match e.kind() {
                    ErrorKind::ParseErrorAtKey { key, .. } => key.clone(),
                    ErrorKind::ParseErrorAtIndex { index, .. } => names.get(*index).cloned().unwrap_or("path".into()),
                    _ => names.first().cloned().unwrap_or_else(|| "path".to_owned()),
                };
                Err(AppError::BadRequest {
                    code: "INVALID_PATH",
                    message: "Invalid path parameter".to_owned(),
                    fields: vec![FieldError::new(field, e.body_text())],
                })
            }
            Err(other) => Err(AppError::internal(other)),
        }
    }
}

/// The client's IP address: the socket peer, or the left-most `X-Forwarded-For` entry when the server
/// is configured to trust its proxy. `None` only when the server runs without a socket (in-process tests).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<crate::state::AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &crate::state::AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(Self::from_parts(parts, state.config.trust_forwarded_for)))
    }
}

impl ClientIp {
    /// Determines the client address from the request parts.
    pub fn from_parts(parts: &Parts, trust_forwarded_for: bool) -> Option<IpAddr> {
        if trust_forwarded_for
            && let Some(ip) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok())
        {
            return Some(ip);
        }
        parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Login {
        email: String,
        age: Option<u32>,
    }

    fn fields(err: AppError) -> Vec<String> {
        match err {
            AppError::Validation(f) => f.into_iter().map(|f| f.field).collect(),
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        assert_eq!(fields(parse_json::<Login>(br#"{}"#).unwrap_err()), ["email"]);
        assert_eq!(fields(parse_json::<Login>(br#"{"email":"a","age":"x"}"#).unwrap_err()), ["age"]);
        assert_eq!(fields(parse_json::<Login>(br#"{"email":"a","agee":1}"#).unwrap_err()), ["agee"]);
        assert_eq!(field_name("outer", "unknown field `x`, expected y"), "outer.x");
        assert!(matches!(parse_json::<Login>(br#"{"email":"#).unwrap_err(), AppError::BadRequest { .. }));
        assert!(matches!(parse_json::<Login>(b"  ").unwrap_err(), AppError::BadRequest { .. }));
        assert!(parse_json::<Login>(br#"{"email":"a"}"#).is_ok());
    }
}
