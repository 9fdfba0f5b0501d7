//! Configuration: defaults, then a TOML file (`--config`, or `./scaikey.toml`
//! when present), then `SCAIKEY_*` environment variables (and `DATABASE_URL`),
//! the environment winning. Validated once at start with messages that name
//! the setting.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// Base URL clients reach this server at; default `http://` + listen.
    pub public_url: Option<String>,
    /// Directory for the SQLite database and the generated master key.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// 32 random bytes in base64; default a key file in `data_dir`.
    pub master_key: Option<String>,
    /// The master key being replaced (base64): still opens what it sealed
    /// until `scaikey keys reseal` has re-sealed everything under `master_key`.
    pub previous_master_key: Option<String>,
    /// `redis://…`: per-address rate limits shared by every replica
    /// (default: each replica limits on its own).
    pub redis_url: Option<String>,
    pub bootstrap_admin_password: Option<String>,
    /// Log level or filter, e.g. `info` or `scaikey=debug`.
    pub log: String,
    /// `json` lines, human-readable `text`, or `auto` (the default): text
    /// when stderr is a terminal, JSON lines otherwise.
    pub log_format: String,
    /// Allow webhook URLs on loopback and private ranges (tests, labs).
    pub webhooks_allow_private: bool,
    /// Proxies (CIDRs) whose `X-Forwarded-For` names the client; default none.
    /// A list in TOML, comma-separated in `SCAIKEY_TRUSTED_PROXIES`.
    #[serde(deserialize_with = "list_or_commas")]
    pub trusted_proxies: Vec<String>,
    /// Seconds of clock skew allowed on `exp`/`nbf` of tokens we verify (0–5).
    pub token_leeway_seconds: u32,
    /// Seconds a sync run's lease lasts without renewal (5–3600): how soon
    /// a run of a crashed replica can be taken over.
    pub sync_lease_seconds: u32,
    /// Seconds a dispatcher's claim on a webhook delivery lasts (11–3600;
    /// more than a send's 10 s timeout): how soon the deliveries a crashed
    /// replica was sending are sent by another.
    pub webhooks_lease_seconds: u32,
    /// Days audit records are kept (1–3650).
    pub audit_retention_days: u32,
    /// Days delivered and failed webhook deliveries are kept (1–3650).
    pub webhook_retention_days: u32,
    /// Days change events are kept once fanned out to webhooks (1–3650);
    /// a replay can reach back this far.
    pub event_retention_days: u32,
    /// Seconds between SIGTERM and closing the listener (0–60): `/ready`
    /// answers 503 at once and requests are still served meanwhile, so a
    /// load balancer stops routing here before connections are refused.
    pub shutdown_grace_seconds: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            data_dir: PathBuf::from("./data"),
            database_url: None,
            master_key: None,
            redis_url: None,
            previous_master_key: None,
            bootstrap_admin_password: None,
            log: "info".into(),
            log_format: "auto".into(),
            webhooks_allow_private: false,
            trusted_proxies: Vec::new(),
            token_leeway_seconds: 5,
            sync_lease_seconds: 60,
            webhooks_lease_seconds: 60,
            audit_retention_days: 365,
            webhook_retention_days: 30,
            event_retention_days: 90,
            shutdown_grace_seconds: 5,
        }
    }
}

fn list_or_commas<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Either::deserialize(d)? {
        Either::One(s) => s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect(),
        Either::Many(v) => v,
    })
}

/// The most clock skew a verifier may allow (SPEC §2: at most 5 s).
pub const MAX_TOKEN_LEEWAY: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(String),
    #[error("configuration: {field}: {message}")]
    Invalid { field: &'static str, message: String },
}

impl Config {
    /// Loads from the optional file and the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => {
                return Err(ConfigError::Load(format!("config file {} does not exist", path.display())));
            }
            Some(path) => fig = fig.merge(Toml::file_exact(path)),
            None if Path::new("scaikey.toml").exists() => fig = fig.merge(Toml::file_exact("scaikey.toml")),
            None => {}
        }
        let env = Env::prefixed("SCAIKEY_").only(&[
            "listen",
            "public_url",
            "data_dir",
            "master_key",
            "redis_url",
            "previous_master_key",
            "bootstrap_admin_password",
            "log",
            "log_format",
            "webhooks_allow_private",
            "trusted_proxies",
            "token_leeway_seconds",
            "sync_lease_seconds",
            "webhooks_lease_seconds",
            "audit_retention_days",
            "webhook_retention_days",
            "event_retention_days",
            "shutdown_grace_seconds",
        ]);
        fig = fig.merge(env).merge(Env::raw().only(&["database_url"]));
        let config: Config = fig.extract().map_err(|e| ConfigError::Load(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if !matches!(self.log_format.as_str(), "auto" | "json" | "text") {
            return Err(ConfigError::Invalid { field: "log_format", message: "must be auto, json or text".into() });
        }
        for (field, days) in [
            ("audit_retention_days", self.audit_retention_days),
            ("webhook_retention_days", self.webhook_retention_days),
            ("event_retention_days", self.event_retention_days),
        ] {
            if !(1..=3650).contains(&days) {
                return Err(ConfigError::Invalid { field, message: "must be 1 to 3650 days".into() });
            }
        }
        if !(11..=3600).contains(&self.webhooks_lease_seconds) {
            return Err(ConfigError::Invalid {
                field: "webhooks_lease_seconds",
                message: "must be 11 to 3600 seconds (more than a send's 10 s timeout)".into(),
            });
        }
        if self.shutdown_grace_seconds > 60 {
            return Err(ConfigError::Invalid {
                field: "shutdown_grace_seconds",
                message: "must be 0 to 60 seconds".into(),
            });
        }
        if !(5..=3600).contains(&self.sync_lease_seconds) {
            return Err(ConfigError::Invalid {
                field: "sync_lease_seconds",
                message: "must be 5 to 3600 seconds".into(),
            });
        }
        self.listen.parse::<SocketAddr>().map_err(|_| ConfigError::Invalid {
            field: "listen",
            message: format!("{:?} is not an address like 127.0.0.1:8080", self.listen),
        })?;
        let public = self.public_url();
        match url::Url::parse(&public) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.query().is_none() && u.fragment().is_none() => {}
            _ => {
                return Err(ConfigError::Invalid {
                    field: "public_url",
                    message: format!("{public:?} is not an http(s) URL without query or fragment"),
                });
            }
        }
        if let Some(db) = &self.database_url {
            let ok = ["sqlite:", "postgres://", "postgresql://"].iter().any(|p| db.starts_with(p));
            if !ok {
                return Err(ConfigError::Invalid {
                    field: "database_url",
                    message: "must start with sqlite: or postgres://".into(),
                });
            }
        }
        if self.token_leeway_seconds > MAX_TOKEN_LEEWAY {
            return Err(ConfigError::Invalid {
                field: "token_leeway_seconds",
                message: format!("must be 0 to {MAX_TOKEN_LEEWAY} seconds"),
            });
        }
        self.proxies()?;
        if let Some(k) = &self.master_key {
            crate::keys::seal::Sealer::from_base64(k)
                .map_err(|e| ConfigError::Invalid { field: "master_key", message: e.to_string() })?;
        }
        Ok(())
    }

    /// The parsed `trusted_proxies` (a bare address is a /32 or /128).
    pub fn proxies(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|p| {
                let p = p.trim();
                p.parse::<ipnet::IpNet>().or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from)).map_err(
                    |_| ConfigError::Invalid {
                        field: "trusted_proxies",
                        message: format!("{p:?} is not a CIDR like 10.0.0.0/8 or an address"),
                    },
                )
            })
            .collect()
    }

    /// The public base URL without a trailing slash.
    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen)).trim_end_matches('/').to_owned()
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("scaikey.db").display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_file() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.public_url(), "http://127.0.0.1:8080");
        assert_eq!(c.database_url(), "sqlite://./data/scaikey.db");
    }

    #[test]
    fn the_example_file_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/scaikey.example.toml");
        let c = Config::load(Some(&path)).unwrap();
        assert_eq!(c.public_url(), "https://id.example.com");
        // …and documents every setting.
        let text = std::fs::read_to_string(&path).unwrap();
        let keys = serde_json::to_value(Config::default()).unwrap();
        for key in keys.as_object().unwrap().keys() {
            assert!(text.contains(&format!("{key} =")), "deploy/scaikey.example.toml does not document {key}");
        }
    }

    #[test]
    fn a_missing_file_is_an_error_and_unknown_keys_are_refused() {
        assert!(Config::load(Some(Path::new("/nonexistent/scaikey.toml"))).is_err());
        let path = std::env::temp_dir().join(format!("scaikey-cfg-{}.toml", crate::ids::random_base36(8)));
        std::fs::write(&path, "listen = \"127.0.0.1:9\"\nlisten_port = 1\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("listen_port"), "{err}");
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn bad_values_name_the_setting() {
        let c = Config { listen: "nope".into(), ..Config::default() };
        assert!(c.validate().unwrap_err().to_string().contains("listen"));
        let c = Config { master_key: Some("c2hvcnQ=".into()), ..Config::default() };
        assert!(c.validate().unwrap_err().to_string().contains("master_key"));
        let c = Config { database_url: Some("mysql://x".into()), ..Config::default() };
        assert!(c.validate().unwrap_err().to_string().contains("database_url"));
        let c = Config { token_leeway_seconds: 60, ..Config::default() };
        assert!(c.validate().unwrap_err().to_string().contains("token_leeway_seconds"));
        let c = Config { trusted_proxies: vec!["10.0.0.0/33".into()], ..Config::default() };
        assert!(c.validate().unwrap_err().to_string().contains("trusted_proxies"));
        let c = Config { trusted_proxies: vec!["10.0.0.0/8".into(), "::1".into()], ..Config::default() };
        assert_eq!(c.proxies().unwrap().len(), 2);
    }
}
