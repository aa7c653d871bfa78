//! TLS with OpenSSL, and the X.509 identity of a client: its certificate chain verified
//! against a CA directory in the `X509_CERT_DIR` layout (hashed names), RFC 3820 proxy
//! certificates (and proxies of proxies) accepted, the identity being the end-entity
//! certificate's subject DN in the grid's slash form.

use openssl::ssl::{SslAcceptor, SslAcceptorBuilder, SslFiletype, SslMethod, SslVerifyMode};
use openssl::stack::{Stack, StackRef};
use openssl::x509::store::{X509Lookup, X509Store, X509StoreBuilder};
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::{X509NameRef, X509Ref, X509StoreContext, X509};
use std::path::{Path, PathBuf};

/// The server's certificate and key, and the CA directory client chains are verified with.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca_dir: Option<PathBuf>,
}

/// What a TLS connection's client certificate proved, kept with the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// The chain verified: the end entity's subject DN.
    Verified(String),
    /// Why the chain was refused.
    Refused(String),
}

/// The acceptor for `bind_openssl`. With `client_certs` it asks each client for a
/// certificate but lets the handshake finish whatever is sent: the chain is verified
/// afterwards by [`PeerVerifier`], so that a refused certificate gets an HTTP answer that says
/// why instead of a bare TLS alert.
pub fn acceptor(files: &TlsFiles, client_certs: bool) -> anyhow::Result<SslAcceptorBuilder> {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    b.set_private_key_file(&files.key, SslFiletype::PEM)
        .map_err(|e| anyhow::anyhow!("cannot read the TLS key {}: {e}", files.key.display()))?;
    b.set_certificate_chain_file(&files.cert).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the TLS certificate {}: {e}",
            files.cert.display()
        )
    })?;
    b.check_private_key().map_err(|e| {
        anyhow::anyhow!(
            "the TLS key {} does not match the certificate {}: {e}",
            files.key.display(),
            files.cert.display()
        )
    })?;
    if client_certs {
        b.set_verify_callback(SslVerifyMode::PEER, |_, _| true);
    }
    Ok(b)
}

/// Verifies client chains against the CA directory, proxies allowed.
pub struct PeerVerifier {
    store: X509Store,
}

impl PeerVerifier {
    pub fn new(ca_dir: &Path) -> anyhow::Result<PeerVerifier> {
        let dir = ca_dir
            .to_str()
            .ok_or_else(|| anyhow::anyhow!("CA directory {} is not UTF-8", ca_dir.display()))?;
        let hashed = std::fs::read_dir(ca_dir)
            .map_err(|e| anyhow::anyhow!("cannot read the CA directory {dir}: {e}"))?
            .filter_map(|e| e.ok())
            .any(|e| {
                catalog_core::credentials::is_hashed_ca_name(&e.file_name().to_string_lossy())
            });
        if !hashed {
            anyhow::bail!(
                "the CA directory {dir} holds no hashed CA certificates (HASH.0 files): run `openssl rehash {dir}`"
            );
        }
        let mut b = X509StoreBuilder::new()?;
        b.add_lookup(X509Lookup::hash_dir())?
            .add_dir(dir, SslFiletype::PEM)?;
        b.set_flags(X509VerifyFlags::ALLOW_PROXY_CERTS)?;
        Ok(PeerVerifier { store: b.build() })
    }

    /// Verifies `leaf` with the intermediate certificates the client sent.
    pub fn verify(&self, leaf: &X509Ref, sent: Option<&StackRef<X509>>) -> Peer {
        match self.try_verify(leaf, sent) {
            Ok(p) => p,
            Err(e) => Peer::Refused(format!("certificate chain not verifiable: {e}")),
        }
    }

    fn try_verify(
        &self,
        leaf: &X509Ref,
        sent: Option<&StackRef<X509>>,
    ) -> Result<Peer, openssl::error::ErrorStack> {
        let mut chain = Stack::new()?;
        for c in sent.into_iter().flatten() {
            chain.push(c.to_owned())?;
        }
        let mut ctx = X509StoreContext::new()?;
        ctx.init(&self.store, leaf, &chain, |c| {
            if c.verify_cert()? {
                let verified: Vec<X509> = c
                    .chain()
                    .map(|s| s.iter().map(|x| x.to_owned()).collect())
                    .unwrap_or_default();
                Ok(Peer::Verified(slash_dn(end_entity(&verified, leaf))))
            } else {
                let which = c
                    .current_cert()
                    .map(|x| slash_dn(x.subject_name()))
                    .unwrap_or_else(|| slash_dn(leaf.subject_name()));
                Ok(Peer::Refused(format!(
                    "client certificate refused: {} ({which})",
                    c.error().error_string()
                )))
            }
        })
    }
}

/// The subject DN of `name` in the slash form: `/DC=org/DC=example/CN=Alice`.
pub fn slash_dn(name: &X509NameRef) -> String {
    let mut s = String::new();
    for e in name.entries() {
        let key = e.object().nid().short_name().unwrap_or("?");
        let value = e.data().to_string().unwrap_or_default();
        s.push('/');
        s.push_str(key);
        s.push('=');
        s.push_str(&value);
    }
    s
}

/// Whether `c` is an RFC 3820 proxy certificate issued by `issuer`: it carries the
/// proxyCertInfo extension and its subject is its issuer's plus one CN.
fn is_proxy_of(c: &X509Ref, issuer: &X509Ref) -> bool {
    let s = slash_dn(c.subject_name());
    let i = slash_dn(issuer.subject_name());
    let extends = s
        .strip_prefix(&i)
        .and_then(|rest| rest.strip_prefix("/CN="))
        .is_some_and(|cn| !cn.is_empty() && !cn.contains('/'));
    extends
        && c.to_text()
            .map(|t| String::from_utf8_lossy(&t).contains("Proxy Certificate Information"))
            .unwrap_or(false)
}

/// The end-entity certificate of a verified chain (leaf first): below it, only proxies.
fn end_entity<'a>(verified: &'a [X509], leaf: &'a X509Ref) -> &'a X509NameRef {
    let mut i = 0;
    while i + 1 < verified.len() && is_proxy_of(&verified[i], &verified[i + 1]) {
        i += 1;
    }
    verified
        .get(i)
        .map(|c| c.subject_name())
        .unwrap_or_else(|| leaf.subject_name())
}
