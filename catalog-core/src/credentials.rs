//! How the CLI and the job runner prove who they are: a bearer token, or an X.509
//! certificate or RFC 3820 proxy, found the way grid tools find them; and which CAs they
//! trust for an `https://` server.
//!
//! Token: `--token`, else `CATALOG_TOKEN`, else the file `$XDG_CONFIG_HOME/catalog/token`
//! (`~/.config/catalog/token`). Certificate: `--cert`/`--key`, else `X509_USER_PROXY`, else
//! `X509_USER_CERT`/`X509_USER_KEY`, else the proxy at `/tmp/x509up_u<uid>` when it exists.
//! CAs: `--ca-dir`, else `X509_CERT_DIR`, else `/etc/grid-security/certificates` when it
//! exists; the system's CAs are trusted too.

use std::path::{Path, PathBuf};

/// Where a client's credentials come from: the options of `catalog` and `job-runner`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CredentialArgs {
    /// Bearer token [default: CATALOG_TOKEN, else the file ~/.config/catalog/token]
    #[arg(long, global = true)]
    pub token: Option<String>,
    /// Client certificate or proxy (PEM; a proxy file holds its key and chain too)
    /// [default: X509_USER_PROXY, else X509_USER_CERT, else /tmp/x509up_u<uid> over https]
    #[arg(long, global = true)]
    pub cert: Option<PathBuf>,
    /// The certificate's key, when not in the --cert file [default: X509_USER_KEY]
    #[arg(long, global = true)]
    pub key: Option<PathBuf>,
    /// CA certificates to trust for an https server, besides the system's [default:
    /// X509_CERT_DIR, else /etc/grid-security/certificates]
    #[arg(long, global = true)]
    pub ca_dir: Option<PathBuf>,
}

/// Credentials read and checked, ready for the HTTP client.
#[derive(Clone, Default)]
pub struct Credentials {
    pub token: Option<String>,
    /// The certificate chain (leaf first) and its PKCS#8 key, both PEM.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
    /// Where the identity was read from, for `whoami` and errors.
    pub identity_source: Option<PathBuf>,
    /// Extra trusted CA certificates, PEM.
    pub ca_certs: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("identity_source", &self.identity_source)
            .field("ca_certs", &self.ca_certs.len())
            .finish()
    }
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The token file: `$XDG_CONFIG_HOME/catalog/token` or `~/.config/catalog/token`.
pub fn token_file() -> Option<PathBuf> {
    env_path("XDG_CONFIG_HOME")
        .or_else(|| env_path("HOME").map(|h| h.join(".config")))
        .map(|d| d.join("catalog").join("token"))
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
}

impl CredentialArgs {
    /// A client for `server` with these credentials (the `https` ones only over https).
    pub fn client(&self, server: &str) -> Result<crate::Client, String> {
        let creds = self.resolve(server.starts_with("https://"))?;
        crate::Client::with_credentials(server, &creds)
    }

    /// Reads what the arguments and the environment point at. `https` says whether the server
    /// is reached over TLS (certificates are only offered there).
    pub fn resolve(&self, https: bool) -> Result<Credentials, String> {
        let token = match self
            .token
            .clone()
            .or_else(|| std::env::var("CATALOG_TOKEN").ok())
            .filter(|t| !t.trim().is_empty())
        {
            Some(t) => Some(t.trim().to_owned()),
            None => match token_file().filter(|p| p.is_file()) {
                Some(p) => {
                    let text = String::from_utf8(read(&p, "token file")?)
                        .map_err(|_| format!("the token file {} is not text", p.display()))?;
                    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
                }
                None => None,
            },
        };
        let mut c = Credentials {
            token,
            ..Credentials::default()
        };
        if let Some(t) = &c.token {
            if !t.bytes().all(|b| b.is_ascii_graphic()) {
                return Err("the token holds spaces or control characters: paste it whole, as `admin token create` printed it".into());
            }
        }
        let (cert, key) = match (&self.cert, &self.key) {
            (Some(cert), key) => (Some(cert.clone()), key.clone()),
            (None, Some(_)) => return Err("--key needs --cert".into()),
            (None, None) => match env_path("X509_USER_PROXY") {
                Some(p) => (Some(p), None),
                None => match (env_path("X509_USER_CERT"), env_path("X509_USER_KEY")) {
                    (Some(cert), key) => (Some(cert), key),
                    _ => (default_proxy().filter(|_| https), None),
                },
            },
        };
        if let Some(cert) = cert {
            if !https {
                return Err(format!(
                    "a client certificate ({}) is only sent over https: use an https:// server URL",
                    cert.display()
                ));
            }
            let chain = read(&cert, "certificate")?;
            // A proxy file holds the key too; a user certificate has it beside.
            let key_pem = match &key {
                Some(k) => read(k, "key")?,
                None => chain.clone(),
            };
            c.identity = Some(identity(&chain, &key_pem, key.as_deref().unwrap_or(&cert))?);
            c.identity_source = Some(cert);
        }
        let ca_dir = self
            .ca_dir
            .clone()
            .or_else(|| env_path("X509_CERT_DIR"))
            .or_else(|| {
                Some(PathBuf::from("/etc/grid-security/certificates")).filter(|p| p.is_dir())
            });
        if let (Some(dir), true) = (ca_dir, https) {
            c.ca_certs = ca_certs(&dir)?;
        }
        Ok(c)
    }
}

fn default_proxy() -> Option<PathBuf> {
    let uid = std::fs::metadata("/proc/self")
        .ok()
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))?;
    Some(PathBuf::from(format!("/tmp/x509up_u{uid}"))).filter(|p| p.is_file())
}

/// The certificates of `chain_pem` (leaf first) and its private key as PKCS#8 PEM (grid
/// proxies and user keys are often PKCS#1 `RSA PRIVATE KEY`s).
fn identity(
    chain_pem: &[u8],
    key_pem: &[u8],
    key_path: &Path,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let certs = openssl::x509::X509::stack_from_pem(chain_pem)
        .map_err(|e| format!("no certificate readable in {}: {e}", key_path.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", key_path.display()));
    }
    let key = openssl::pkey::PKey::private_key_from_pem(key_pem).map_err(|_| {
        format!(
            "no unencrypted private key readable in {} (a passphrase-protected key must be turned into a proxy first, e.g. with voms-proxy-init)",
            key_path.display()
        )
    })?;
    let leaf_key = certs[0]
        .public_key()
        .map_err(|e| format!("certificate's public key unreadable: {e}"))?;
    if !leaf_key.public_eq(&key) {
        return Err(format!(
            "the private key in {} does not match the certificate",
            key_path.display()
        ));
    }
    let mut pem = Vec::new();
    for c in &certs {
        pem.extend(c.to_pem().map_err(|e| e.to_string())?);
    }
    let key = key
        .private_key_to_pem_pkcs8()
        .map_err(|e| format!("cannot re-encode the key: {e}"))?;
    Ok((pem, key))
}

/// A CA file name in the `X509_CERT_DIR` layout: the subject hash and a number, `1a2b3c4d.0`.
pub fn is_hashed_ca_name(name: &str) -> bool {
    matches!(name.split_once('.'), Some((h, n)) if h.len() == 8 && n.parse::<u32>().is_ok())
}

/// Every certificate in a CA directory (`HASH.0` files, `*.pem`, `*.crt`).
fn ca_certs(dir: &Path) -> Result<Vec<Vec<u8>>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read the CA directory {}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let wanted = name.ends_with(".pem") || name.ends_with(".crt") || is_hashed_ca_name(&name);
        if wanted && e.path().is_file() {
            let pem = read(&e.path(), "CA certificate")?;
            if pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                out.push(pem);
            }
        }
    }
    Ok(out)
}
