//! OAuth calls: the authorization URL, code exchange, refresh and revocation.

use reqwest::{Method, Url};

use super::GoogleClient;
use super::transport::{Body, Call};
use crate::error::GoogleError;
use crate::oauth::{AuthorizationRequest, TokenResponse, authorization_url};

impl GoogleClient {
    /// Where to send the user's browser to grant access.
    pub fn authorization_url(&self, req: &AuthorizationRequest<'_>) -> Url {
        authorization_url(&self.inner.endpoints.auth, &self.inner.config.client_id, req)
    }

    /// Trades the callback's `code` for tokens (PKCE: the verifier kept with the pending authorization).
    /// Start a [`super::Session`] from the answer with [`super::Session::from_token_response`].
    pub async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<TokenResponse, GoogleError> {
        self.token_request(vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("code_verifier", code_verifier.to_owned()),
            ("redirect_uri", redirect_uri.to_owned()),
        ])
        .await
    }

    /// A new access token for `refresh_token`. A dead refresh token fails with
    /// [`GoogleError::is_invalid_grant`]: the account must be connected again.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenResponse, GoogleError> {
        self.token_request(vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", refresh_token.to_owned()),
        ])
        .await
    }

    /// Revokes the grant behind an access or refresh token (both die). The token goes in the form body, not
    /// the URL, so it cannot end up in a log line.
    pub async fn revoke(&self, token: &str) -> Result<(), GoogleError> {
        let call = Call::new(Method::POST, self.inner.endpoints.revoke.clone(), None)
            .body(Body::Form(vec![("token", token.to_owned())]));
        self.execute(call).await.map(drop)
    }

    /// Client credentials go in the body (`client_secret_post`), which Google accepts for web clients.
    async fn token_request(&self, mut form: Vec<(&'static str, String)>) -> Result<TokenResponse, GoogleError> {
        let config = &self.inner.config;
        form.push(("client_id", config.client_id.clone()));
        form.push(("client_secret", config.client_secret.clone()));
        let call = Call::new(Method::POST, self.inner.endpoints.token.clone(), None).body(Body::Form(form));
        self.execute_json(call, "token response").await
    }
}
