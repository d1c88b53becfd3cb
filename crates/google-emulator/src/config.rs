//! Emulator settings, shared by the library and the binary.

/// How an emulator instance behaves; `Default` suits tests (auto-consent, any client accepted).
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Scales every delay: injected latency, `Retry-After` values and the write-quota window.
    pub delay_factor: f64,
    /// `true`: `/o/oauth2/v2/auth` consents at once; `false`: it serves an Allow/Deny page.
    pub auto_consent: bool,
    /// Writes per user per (scaled) minute; `None` = unlimited.
    pub write_quota_per_minute: Option<u32>,
    /// `None` accepts any client id.
    pub client_id: Option<String>,
    /// `None` accepts any client secret.
    pub client_secret: Option<String>,
    /// Registered redirect URIs; `None` accepts any http(s) URI.
    pub redirect_uris: Option<Vec<String>>,
    /// The account that consents when neither a one-shot plan nor `login_hint` names one
    /// (`None`: the first account added).
    pub default_account: Option<String>,
    /// Accounts created at start.
    pub seed_accounts: Vec<String>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            delay_factor: 1.0,
            auto_consent: true,
            write_quota_per_minute: None,
            client_id: None,
            client_secret: None,
            redirect_uris: None,
            default_account: None,
            seed_accounts: Vec::new(),
        }
    }
}
