//! Server configuration: defaults, overlaid by an optional TOML file, overlaid by `SWITCHBOARD_*`
//! environment variables and command-line flags (the binary maps flags and environment onto
//! [`ConfigOverrides`]; clap already gives flags precedence over the environment).

use secrets::SecretValue;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod sealed;
pub mod secrets;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (default).
    #[default]
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "human" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            _ => Err("expected 'human' or 'json'".to_owned()),
        }
    }
}

/// The resolved configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Directory for the SQLite file and generated key files.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Maximum database connections in the pool.
    pub database_max_connections: u32,
    /// How much of the SQLite file each connection reads through a memory map, in MiB (0: none).
    pub sqlite_mmap_mib: u32,
    /// Requests per minute per credential; 0 disables the limit.
    pub rate_limit_per_minute: u32,
    /// Login attempts per minute per client IP.
    pub login_rate_limit_per_minute: u32,
    /// Origins allowed by CORS; `*` allows any; empty sends no CORS headers.
    pub cors_allowed_origins: Vec<String>,
    /// Host names accepted in the `Host` header; empty accepts any.
    pub allowed_hosts: Vec<String>,
    /// Trust the left-most `X-Forwarded-For` address as the client IP (only behind a proxy you run).
    pub trust_forwarded_for: bool,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// A request taking longer than this is answered 503.
    pub request_timeout: Duration,
    /// Log line format.
    pub log_format: LogFormat,
    /// The HMAC key for access tokens (config, else `<data-dir>/jwt.key`).
    pub jwt_secret: Option<SecretValue>,
    /// The key that encrypts stored third-party tokens (config, else `<data-dir>/secret.key`).
    pub secret_key: Option<SecretValue>,
    /// Access token lifetime.
    pub access_token_ttl: Duration,
    /// Refresh token lifetime (sliding).
    pub refresh_token_ttl: Duration,
    /// Absolute lifetime of a refresh-token family (a login session).
    pub refresh_family_ttl: Duration,
    /// How long after its rotation a refresh token may be presented again without counting as reuse
    /// (two browser tabs refreshing at once).
    pub refresh_reuse_grace: Duration,
    /// How long an authenticated credential is cached before being re-read from the database. This is
    /// the bound on how late a revocation or deactivation made on *another* instance takes effect.
    pub credential_cache_ttl: Duration,
    /// How often batched "last used / last seen" times are written.
    pub usage_flush_interval: Duration,
    /// How long deleted contacts stay as tombstones for delta sync before they are purged. A device whose
    /// cursor is older than the purge line must download everything again (410 `FULL_SYNC_REQUIRED`).
    pub tombstone_retention: Duration,
    /// A device more than this many versions behind the workspace is "outdated".
    pub outdated_device_threshold: i64,
    /// How long `Idempotency-Key` results are remembered.
    pub idempotency_ttl: Duration,
    /// How long offline mutation ids (`POST /api/v1/sync/push`) are remembered.
    pub mutation_ttl: Duration,
    /// The change-feed poll, the safety net behind commit and `NOTIFY` wake-ups.
    pub feed_poll_interval: Duration,
    /// A write transaction that takes longer is logged (warn) with the time of each of its steps.
    pub slow_write_log: Duration,
    /// How often this instance refreshes its "device connected" rows; they expire after three beats.
    pub device_heartbeat_interval: Duration,
    /// Name of the workspace created on first start.
    pub bootstrap_workspace_name: String,
    /// Email of the owner created on first start.
    pub bootstrap_owner_email: String,
    /// Connecting Google accounts and syncing with them.
    pub google: GoogleConfig,
}

/// Google OAuth client and sync settings (docs/google.md).
#[derive(Debug, Clone)]
pub struct GoogleConfig {
    /// The OAuth client id from Google Cloud; without it, connecting an account is refused with a message.
    pub client_id: Option<String>,
    /// The OAuth client secret.
    pub client_secret: Option<SecretValue>,
    /// Where Google sends the browser back: this server's `/api/v1/auth/google/callback`, exactly as
    /// registered with the OAuth client.
    pub redirect_url: Option<String>,
    /// One origin serving every Google path (the emulator); `None` uses Google's real hosts.
    pub base_url: Option<String>,
    /// How often every account syncs.
    pub sync_interval: Duration,
    /// Most writes per minute sent to one Google account (its quota is per user per minute); 0: no limit.
    pub writes_per_minute: u32,
    /// Timeout of one request to Google.
    pub request_timeout: Duration,
    /// How long an instance holds an account's sync lease without renewing it.
    pub lease: Duration,
}

impl Default for GoogleConfig {
    fn default() -> Self {
        Self {
            client_id: None,
            client_secret: None,
            redirect_url: None,
            base_url: None,
            sync_interval: Duration::from_secs(5 * 60),
            writes_per_minute: 60,
            request_timeout: Duration::from_secs(30),
            lease: Duration::from_secs(60),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        let data_dir = PathBuf::from("./data");
        Self {
            bind: "127.0.0.1:8080".parse().expect("valid default address"),
            database_url: default_database_url(&data_dir),
            data_dir,
            database_max_connections: 16,
            sqlite_mmap_mib: 256,
            rate_limit_per_minute: 100,
            login_rate_limit_per_minute: 10,
            cors_allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            trust_forwarded_for: false,
            max_body_bytes: 2 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            log_format: LogFormat::Human,
            jwt_secret: None,
            secret_key: None,
            access_token_ttl: Duration::from_secs(30 * 60),
            refresh_token_ttl: Duration::from_secs(7 * 24 * 3600),
            refresh_family_ttl: Duration::from_secs(30 * 24 * 3600),
            refresh_reuse_grace: Duration::from_secs(10),
            credential_cache_ttl: Duration::from_secs(5),
            usage_flush_interval: Duration::from_secs(5),
            tombstone_retention: Duration::from_secs(90 * 24 * 3600),
            outdated_device_threshold: 100,
            idempotency_ttl: Duration::from_secs(24 * 3600),
            mutation_ttl: Duration::from_secs(30 * 24 * 3600),
            feed_poll_interval: Duration::from_secs(1),
            slow_write_log: Duration::from_millis(100),
            device_heartbeat_interval: Duration::from_secs(15),
            bootstrap_workspace_name: "My Business".to_owned(),
            bootstrap_owner_email: "owner@switchboard.local".to_owned(),
            google: GoogleConfig::default(),
        }
    }
}

/// The SQLite URL used when no `DATABASE_URL` is given.
pub fn default_database_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("switchboard.db").display())
}

/// Values given on the command line or in the environment; `None` means "not given".
#[derive(Debug, Clone, Default)]
pub struct ConfigOverrides {
    pub config_file: Option<PathBuf>,
    pub bind: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub database_max_connections: Option<u32>,
    pub rate_limit_per_minute: Option<u32>,
    pub login_rate_limit_per_minute: Option<u32>,
    pub cors_allowed_origins: Option<Vec<String>>,
    pub allowed_hosts: Option<Vec<String>>,
    pub trust_forwarded_for: Option<bool>,
    pub max_body_bytes: Option<usize>,
    pub request_timeout_secs: Option<u64>,
    pub log_format: Option<LogFormat>,
    pub jwt_secret: Option<String>,
    pub secret_key: Option<String>,
    pub bootstrap_workspace_name: Option<String>,
    pub bootstrap_owner_email: Option<String>,
    pub google_client_id: Option<String>,
    pub google_client_secret: Option<String>,
    pub google_redirect_url: Option<String>,
    pub google_base_url: Option<String>,
}

/// The TOML file's shape: every key optional, unknown keys rejected so typos are caught.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    database_max_connections: Option<u32>,
    sqlite_mmap_mib: Option<u32>,
    rate_limit_per_minute: Option<u32>,
    login_rate_limit_per_minute: Option<u32>,
    cors_allowed_origins: Option<Vec<String>>,
    allowed_hosts: Option<Vec<String>>,
    trust_forwarded_for: Option<bool>,
    max_body_bytes: Option<usize>,
    request_timeout_secs: Option<u64>,
    log_format: Option<LogFormat>,
    jwt_secret: Option<String>,
    secret_key: Option<String>,
    access_token_ttl_secs: Option<u64>,
    refresh_token_ttl_secs: Option<u64>,
    refresh_family_ttl_secs: Option<u64>,
    refresh_reuse_grace_secs: Option<u64>,
    credential_cache_ttl_secs: Option<u64>,
    usage_flush_interval_secs: Option<u64>,
    tombstone_retention_days: Option<u64>,
    outdated_device_threshold: Option<i64>,
    idempotency_ttl_secs: Option<u64>,
    mutation_ttl_secs: Option<u64>,
    feed_poll_interval_ms: Option<u64>,
    slow_write_log_ms: Option<u64>,
    device_heartbeat_secs: Option<u64>,
    bootstrap_workspace_name: Option<String>,
    bootstrap_owner_email: Option<String>,
    google_client_id: Option<String>,
    google_client_secret: Option<String>,
    google_redirect_url: Option<String>,
    google_base_url: Option<String>,
    google_sync_interval_secs: Option<u64>,
    google_writes_per_minute: Option<u32>,
    google_request_timeout_secs: Option<u64>,
}

/// A configuration problem, reported before anything starts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid setting {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

impl Config {
    /// Resolves defaults ← TOML file (when `overrides.config_file` names one) ← overrides.
    pub fn load(overrides: ConfigOverrides) -> Result<Config, ConfigError> {
        let file = match &overrides.config_file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.clone(), source })?;
                toml::from_str::<FileConfig>(&text)
                    .map_err(|e| ConfigError::Parse { path: path.clone(), message: e.to_string() })?
            }
            None => FileConfig::default(),
        };
        let d = Config::default();
        let secs = |v: Option<u64>, default: Duration| v.map(Duration::from_secs).unwrap_or(default);
        let data_dir = overrides.data_dir.or(file.data_dir).unwrap_or(d.data_dir);
        let database_url = overrides
            .database_url
            .or(file.database_url)
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| default_database_url(&data_dir));
        let config = Config {
            bind: overrides.bind.or(file.bind).unwrap_or(d.bind),
            database_url,
            data_dir,
            database_max_connections: overrides
                .database_max_connections
                .or(file.database_max_connections)
                .unwrap_or(d.database_max_connections),
            sqlite_mmap_mib: file.sqlite_mmap_mib.unwrap_or(d.sqlite_mmap_mib),
            rate_limit_per_minute: overrides
                .rate_limit_per_minute
                .or(file.rate_limit_per_minute)
                .unwrap_or(d.rate_limit_per_minute),
            login_rate_limit_per_minute: overrides
                .login_rate_limit_per_minute
                .or(file.login_rate_limit_per_minute)
                .unwrap_or(d.login_rate_limit_per_minute),
            cors_allowed_origins: overrides
                .cors_allowed_origins
                .or(file.cors_allowed_origins)
                .unwrap_or(d.cors_allowed_origins),
            allowed_hosts: overrides.allowed_hosts.or(file.allowed_hosts).unwrap_or(d.allowed_hosts),
            trust_forwarded_for: overrides
                .trust_forwarded_for
                .or(file.trust_forwarded_for)
                .unwrap_or(d.trust_forwarded_for),
            max_body_bytes: overrides.max_body_bytes.or(file.max_body_bytes).unwrap_or(d.max_body_bytes),
            request_timeout: secs(overrides.request_timeout_secs.or(file.request_timeout_secs), d.request_timeout),
            log_format: overrides.log_format.or(file.log_format).unwrap_or(d.log_format),
            jwt_secret: overrides.jwt_secret.or(file.jwt_secret).map(SecretValue::new),
            secret_key: overrides.secret_key.or(file.secret_key).map(SecretValue::new),
            access_token_ttl: secs(file.access_token_ttl_secs, d.access_token_ttl),
            refresh_token_ttl: secs(file.refresh_token_ttl_secs, d.refresh_token_ttl),
            refresh_family_ttl: secs(file.refresh_family_ttl_secs, d.refresh_family_ttl),
            refresh_reuse_grace: secs(file.refresh_reuse_grace_secs, d.refresh_reuse_grace),
            credential_cache_ttl: secs(file.credential_cache_ttl_secs, d.credential_cache_ttl),
            usage_flush_interval: secs(file.usage_flush_interval_secs, d.usage_flush_interval),
            tombstone_retention: file
                .tombstone_retention_days
                .map(|days| Duration::from_secs(days * 24 * 3600))
                .unwrap_or(d.tombstone_retention),
            outdated_device_threshold: file.outdated_device_threshold.unwrap_or(d.outdated_device_threshold),
            idempotency_ttl: secs(file.idempotency_ttl_secs, d.idempotency_ttl),
            mutation_ttl: secs(file.mutation_ttl_secs, d.mutation_ttl),
            feed_poll_interval: file.feed_poll_interval_ms.map(Duration::from_millis).unwrap_or(d.feed_poll_interval),
            slow_write_log: file.slow_write_log_ms.map(Duration::from_millis).unwrap_or(d.slow_write_log),
            device_heartbeat_interval: secs(file.device_heartbeat_secs, d.device_heartbeat_interval),
            bootstrap_workspace_name: overrides
                .bootstrap_workspace_name
                .or(file.bootstrap_workspace_name)
                .unwrap_or(d.bootstrap_workspace_name),
            bootstrap_owner_email: overrides
                .bootstrap_owner_email
                .or(file.bootstrap_owner_email)
                .unwrap_or(d.bootstrap_owner_email),
            google: GoogleConfig {
                client_id: non_empty(overrides.google_client_id.or(file.google_client_id)),
                client_secret: non_empty(overrides.google_client_secret.or(file.google_client_secret))
                    .map(SecretValue::new),
                redirect_url: non_empty(overrides.google_redirect_url.or(file.google_redirect_url)),
                base_url: non_empty(overrides.google_base_url.or(file.google_base_url))
                    .map(|u| u.trim_end_matches('/').to_owned()),
                sync_interval: secs(file.google_sync_interval_secs, d.google.sync_interval),
                writes_per_minute: file.google_writes_per_minute.unwrap_or(d.google.writes_per_minute),
                request_timeout: secs(file.google_request_timeout_secs, d.google.request_timeout),
                lease: d.google.lease,
            },
        };
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| Err(ConfigError::Invalid { key, message: message.to_owned() });
        if self.database_max_connections == 0 {
            return invalid("database_max_connections", "must be at least 1");
        }
        if self.max_body_bytes < 1024 {
            return invalid("max_body_bytes", "must be at least 1024");
        }
        if self.access_token_ttl.is_zero() || self.refresh_token_ttl < self.access_token_ttl {
            return invalid("refresh_token_ttl_secs", "must be longer than the access token lifetime");
        }
        if self.refresh_family_ttl < self.refresh_token_ttl {
            return invalid("refresh_family_ttl_secs", "must be at least the refresh token lifetime");
        }
        if self.credential_cache_ttl > Duration::from_secs(60) {
            return invalid("credential_cache_ttl_secs", "must be at most 60 (revocations must apply quickly)");
        }
        if self.tombstone_retention < Duration::from_secs(24 * 3600) {
            return invalid("tombstone_retention_days", "must be at least 1");
        }
        if self.outdated_device_threshold < 1 {
            return invalid("outdated_device_threshold", "must be at least 1");
        }
        if self.feed_poll_interval < Duration::from_millis(50) {
            return invalid("feed_poll_interval_ms", "must be at least 50");
        }
        if self.device_heartbeat_interval.is_zero() {
            return invalid("device_heartbeat_secs", "must be at least 1");
        }
        if self.google.sync_interval < Duration::from_secs(10) {
            return invalid("google_sync_interval_secs", "must be at least 10");
        }
        if self.google.request_timeout.is_zero() {
            return invalid("google_request_timeout_secs", "must be at least 1");
        }
        for (key, url) in
            [("google_redirect_url", &self.google.redirect_url), ("google_base_url", &self.google.base_url)]
        {
            if let Some(url) = url
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                return invalid(key, "must be an http:// or https:// URL");
            }
        }
        Ok(())
    }
}

/// A setting given as an empty string counts as not given.
fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// A documented example configuration file (`switchboard config example`).
pub const EXAMPLE_TOML: &str = include_str!("config/example.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_file_parses_and_matches_defaults() {
        let parsed: FileConfig = toml::from_str(EXAMPLE_TOML).expect("example parses");
        assert_eq!(parsed.bind, Some(Config::default().bind));
        assert_eq!(parsed.rate_limit_per_minute, Some(100));
        assert_eq!(parsed.sqlite_mmap_mib, Some(Config::default().sqlite_mmap_mib));
    }

    #[test]
    fn overrides_beat_the_file_and_the_file_beats_defaults() {
        let dir = std::env::temp_dir().join(format!("sb-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(&path, "rate_limit_per_minute = 7\nbind = \"127.0.0.1:9000\"\n").unwrap();
        let cfg = Config::load(ConfigOverrides {
            config_file: Some(path.clone()),
            bind: Some("0.0.0.0:1234".parse().unwrap()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(cfg.bind.port(), 1234, "flag wins");
        assert_eq!(cfg.rate_limit_per_minute, 7, "file wins over default");
        assert_eq!(cfg.login_rate_limit_per_minute, 10, "default");
        assert!(cfg.database_url.starts_with("sqlite://"));

        std::fs::write(&path, "rate_limit_per_mintue = 7\n").unwrap();
        let err = Config::load(ConfigOverrides { config_file: Some(path), ..Default::default() }).unwrap_err();
        assert!(err.to_string().contains("rate_limit_per_mintue"), "{err}");
    }
}
