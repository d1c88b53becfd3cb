//! End-to-end tests of the emulator over real HTTP (one binary; modules by area).

mod calendar;
mod control;
mod faults;
mod oauth;
mod people;
mod python;

use google_emulator::{CALENDAR_SCOPE, CONTACTS_SCOPE, Control, Emulator, EmulatorConfig, RunningEmulator};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub const USER: &str = "ada@example.com";

/// An emulator on a random port, an HTTP client, and a user with a token for both APIs.
pub struct TestEmu {
    pub running: RunningEmulator,
    pub http: reqwest::Client,
    pub token: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestEmu {
    pub async fn start() -> Self {
        Self::with(EmulatorConfig { delay_factor: 0.01, ..EmulatorConfig::default() }).await
    }

    pub async fn with(config: EmulatorConfig) -> Self {
        let running = Emulator::start(config).await.expect("emulator starts");
        running.control().add_account(USER);
        let token = running.control().issue_tokens(USER, &[CONTACTS_SCOPE, CALENDAR_SCOPE]).unwrap().access_token;
        // Built with the workspace, reqwest has `rustls-no-provider` (switchboard-google's choice, to keep
        // aws-lc out): a client needs a process-wide crypto provider, even for plain HTTP.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        TestEmu { running, http, token }
    }

    pub fn control(&self) -> Control {
        self.running.control()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.base_url())
    }

    /// A request with the default user's token.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_as(&self.token, method, path, body).await
    }

    pub async fn call_as(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        reply(request.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    Reply { status, headers, body }
}
