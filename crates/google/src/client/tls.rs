//! TLS for Google's hosts: rustls on the `ring` provider with Mozilla's roots from `webpki-roots`.
//!
//! We hand reqwest a finished rustls config instead of installing a process-wide default provider, so
//! nothing else in the process changes and aws-lc-rs (reqwest's default, a C build) stays out of the tree.
//! Roots come compiled in rather than from the OS store: the server then works in minimal containers with
//! no `ca-certificates`, and building a client never fails because the machine has no CA bundle (which
//! would also break runs against the plain-HTTP emulator). The price is that a TLS-intercepting proxy's CA
//! installed on the host is not trusted; Google's endpoints chain to public roots, so that is the only case
//! it matters.

use std::sync::Arc;

use crate::error::GoogleError;

pub(super) fn rustls_config() -> Result<rustls::ClientConfig, GoogleError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| GoogleError::InvalidRequest(format!("TLS configuration: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // reqwest is built without HTTP/2 here, and it leaves ALPN to us for a preconfigured config.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
