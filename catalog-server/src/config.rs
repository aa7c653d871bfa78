//! Configuration: defaults, then a TOML file, then `CATALOG_*` environment, then flags.

use catalog_core::checksum::Algorithms;
use clap::Args;
use serde::Deserialize;
use std::path::{Path, PathBuf};

use crate::auth::tls::TlsFiles;
use crate::auth::Modes;
use crate::db::DbUrl;

pub const DEFAULT_DATA_DIR: &str = "catalog-data";
pub const DEFAULT_BIND: &str = "127.0.0.1:8765";

/// Options shared by every subcommand that opens the catalogue.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// TOML config file (keys: data_dir, bind, database_url, log_format, checksums)
    #[arg(long, env = "CATALOG_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database and the `local` storage element [default: ./catalog-data]
    #[arg(long, env = "CATALOG_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8765]
    #[arg(long, env = "CATALOG_BIND", global = true)]
    pub bind: Option<String>,
    /// postgres://user@host/db for PostgreSQL; a path or sqlite://path for SQLite
    /// [default: DATA_DIR/catalog.db]
    #[arg(long, env = "CATALOG_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Log format: text or json [default: text]
    #[arg(long, env = "CATALOG_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// Checksums computed on every transfer besides adler32, comma-separated: md5, sha256
    /// [default: adler32 only]
    #[arg(
        long,
        env = "CATALOG_CHECKSUMS",
        global = true,
        value_name = "md5,sha256"
    )]
    pub checksums: Option<String>,
    /// Who may call: open (one local user with every right; loopback only), token, x509,
    /// or token,x509 [default: open]
    #[arg(long, env = "CATALOG_AUTH", global = true, value_name = "MODE")]
    pub auth: Option<String>,
    /// Serve HTTPS with this certificate (PEM, with its chain)
    #[arg(long, env = "CATALOG_TLS_CERT", global = true)]
    pub tls_cert: Option<PathBuf>,
    /// The TLS certificate's private key (PEM)
    #[arg(long, env = "CATALOG_TLS_KEY", global = true)]
    pub tls_key: Option<PathBuf>,
    /// CA certificates that client certificates are verified with, in the X509_CERT_DIR
    /// layout (HASH.0 files) [default: X509_CERT_DIR, else /etc/grid-security/certificates]
    #[arg(long, env = "CATALOG_CA_DIR", global = true)]
    pub ca_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    bind: Option<String>,
    database_url: Option<String>,
    log_format: Option<String>,
    checksums: Option<Vec<String>>,
    auth: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    ca_dir: Option<PathBuf>,
}

/// The merged configuration, read once in `main` and passed down.
#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub bind: String,
    pub database_url: DbUrl,
    pub log_json: bool,
    pub checksums: Algorithms,
    pub auth: Modes,
    pub tls: Option<TlsFiles>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("bind", &self.bind)
            .field("database_url", &self.database_url.redacted())
            .field("log_json", &self.log_json)
            .field("checksums", &self.checksums)
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .finish()
    }
}

impl ConfigArgs {
    pub fn resolve(&self) -> anyhow::Result<Config> {
        let file = match &self.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let data_dir = self
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let bind = self
            .bind
            .clone()
            .or(file.bind)
            .unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let database_url = match self.database_url.clone().or(file.database_url) {
            Some(u) => DbUrl::parse(&u),
            None => DbUrl::Sqlite(data_dir.join("catalog.db").display().to_string()),
        };
        let log_json = match self.log_format.clone().or(file.log_format).as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => anyhow::bail!("unknown log format {other:?}: expected text or json"),
        };
        let checksums = match (&self.checksums, file.checksums) {
            (Some(list), _) => list.clone(),
            (None, Some(list)) => list.join(","),
            (None, None) => String::new(),
        };
        let checksums = Algorithms::parse(&checksums).map_err(anyhow::Error::msg)?;
        let auth = Modes::parse(
            self.auth
                .as_deref()
                .or(file.auth.as_deref())
                .unwrap_or("open"),
        )?;
        let tls = match (
            self.tls_cert.clone().or(file.tls_cert),
            self.tls_key.clone().or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => {
                let ca_dir = self
                    .ca_dir
                    .clone()
                    .or(file.ca_dir)
                    .or_else(|| std::env::var_os("X509_CERT_DIR").map(PathBuf::from))
                    .or_else(|| {
                        Some(PathBuf::from("/etc/grid-security/certificates"))
                            .filter(|p| p.is_dir())
                    });
                Some(TlsFiles { cert, key, ca_dir })
            }
            (Some(_), None) => anyhow::bail!("--tls-cert needs --tls-key"),
            (None, Some(_)) => anyhow::bail!("--tls-key needs --tls-cert"),
            (None, None) => None,
        };
        if auth.x509 {
            match &tls {
                None => anyhow::bail!(
                    "auth x509 needs TLS: give --tls-cert and --tls-key (and --ca-dir)"
                ),
                Some(TlsFiles { ca_dir: None, .. }) => anyhow::bail!(
                    "auth x509 needs the CA directory client certificates are verified with: --ca-dir or X509_CERT_DIR"
                ),
                Some(_) => {}
            }
        }
        Ok(Config {
            data_dir,
            bind,
            database_url,
            log_json,
            checksums,
            auth,
            tls,
        })
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ConfigArgs {
        ConfigArgs {
            config: None,
            data_dir: None,
            bind: None,
            database_url: None,
            log_format: None,
            checksums: None,
            auth: None,
            tls_cert: None,
            tls_key: None,
            ca_dir: None,
        }
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        let c = args().resolve().unwrap();
        assert_eq!(c.bind, DEFAULT_BIND);
        assert_eq!(
            c.database_url,
            DbUrl::Sqlite("catalog-data/catalog.db".into())
        );
    }

    #[test]
    fn flags_beat_the_file_which_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "bind = \"127.0.0.1:1\"\ndata_dir = \"/srv/cat\"\n").unwrap();
        let mut a = args();
        a.config = Some(path.clone());
        a.bind = Some("127.0.0.1:2".into());
        let c = a.resolve().unwrap();
        assert_eq!(c.bind, "127.0.0.1:2");
        assert_eq!(c.data_dir, PathBuf::from("/srv/cat"));
        assert_eq!(c.database_url, DbUrl::Sqlite("/srv/cat/catalog.db".into()));
        std::fs::write(&path, "bnd = 1\n").unwrap();
        assert!(a
            .resolve()
            .unwrap_err()
            .to_string()
            .contains("unknown field"));
    }
}
