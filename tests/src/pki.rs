//! Certificates for the TLS and X.509 tests, made with OpenSSL in a temporary directory: a
//! CA (in an `X509_CERT_DIR`-style directory, hashed names), a server certificate for
//! 127.0.0.1, user certificates, RFC 3820 proxies and the broken cases.

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509Extension, X509Name, X509NameBuilder, X509};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

static SERIAL: AtomicU32 = AtomicU32::new(1);

/// A certificate with its key.
pub struct Cert {
    pub cert: X509,
    pub key: PKey<Private>,
    /// The certificates above it a client sends along (proxies: their issuers up to the EE).
    pub chain: Vec<X509>,
}

impl Cert {
    /// Writes the certificate, its chain and its key into one PEM file, as a proxy file is,
    /// and returns its path.
    pub fn write_proxy_file(&self, path: &Path) -> PathBuf {
        let mut pem = self.cert.to_pem().unwrap();
        pem.extend(self.key.private_key_to_pem_pkcs8().unwrap());
        for c in &self.chain {
            pem.extend(c.to_pem().unwrap());
        }
        std::fs::write(path, pem).unwrap();
        path.to_owned()
    }

    /// Writes `NAME.pem` (certificate and chain) and `NAME.key`; returns both paths.
    pub fn write_pair(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let mut pem = self.cert.to_pem().unwrap();
        for c in &self.chain {
            pem.extend(c.to_pem().unwrap());
        }
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, pem).unwrap();
        // PKCS#1, as grid user keys often are: the CLI must take it.
        std::fs::write(&key, self.key.rsa().unwrap().private_key_to_pem().unwrap()).unwrap();
        (cert, key)
    }
}

/// The key usage of user certificates and proxies.
fn signing() -> X509Extension {
    KeyUsage::new()
        .critical()
        .digital_signature()
        .key_encipherment()
        .build()
        .unwrap()
}

fn key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

/// `/DC=org/DC=catalog-test/CN=Alice` from its parts.
pub fn name(dn: &str) -> X509Name {
    let mut b = X509NameBuilder::new().unwrap();
    for rdn in dn.trim_start_matches('/').split('/') {
        let (k, v) = rdn.split_once('=').unwrap();
        b.append_entry_by_text(k, v).unwrap();
    }
    b.build()
}

/// Days from now, for validity bounds.
fn days(d: i64) -> Asn1Time {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    Asn1Time::from_unix(now + d * 86_400).unwrap()
}

pub enum Kind {
    Ca,
    Server,
    User,
    Proxy,
}

/// Issues a certificate for `subject` signed by `issuer` (self-signed when `None`), valid
/// from `from` to `to` days from now.
pub fn issue(subject: &str, issuer: Option<&Cert>, kind: Kind, from: i64, to: i64) -> Cert {
    let key = key();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_u32(SERIAL.fetch_add(1, Ordering::Relaxed) + 1000)
        .unwrap()
        .to_asn1_integer()
        .unwrap();
    b.set_serial_number(&serial).unwrap();
    let subject = name(subject);
    b.set_subject_name(&subject).unwrap();
    b.set_issuer_name(issuer.map(|i| i.cert.subject_name()).unwrap_or(&subject))
        .unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&days(from)).unwrap();
    b.set_not_after(&days(to)).unwrap();
    match kind {
        Kind::Ca => {
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()
                    .unwrap(),
            )
            .unwrap();
        }
        Kind::Server => {
            let san = SubjectAlternativeName::new()
                .ip("127.0.0.1")
                .dns("localhost")
                .build(&b.x509v3_context(issuer.map(|i| &*i.cert), None))
                .unwrap();
            b.append_extension(san).unwrap();
            b.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap())
                .unwrap();
        }
        Kind::User => {
            b.append_extension(BasicConstraints::new().critical().build().unwrap())
                .unwrap();
            b.append_extension(signing()).unwrap();
            b.append_extension(ExtendedKeyUsage::new().client_auth().build().unwrap())
                .unwrap();
        }
        Kind::Proxy => {
            #[allow(deprecated)]
            let pci = X509Extension::new(
                None,
                None,
                "proxyCertInfo",
                // ProxyCertInfo { proxyPolicy { policyLanguage id-ppl-inheritAll } }, in DER:
                // the text form needs an OpenSSL config database.
                "critical,DER:30:0C:30:0A:06:08:2B:06:01:05:05:07:15:01",
            )
            .unwrap();
            b.append_extension(pci).unwrap();
            b.append_extension(signing()).unwrap();
        }
    }
    let signer = issuer.map(|i| &i.key).unwrap_or(&key);
    b.sign(signer, MessageDigest::sha256()).unwrap();
    let mut chain = Vec::new();
    if let (Kind::Proxy, Some(i)) = (&kind, issuer) {
        chain.push(i.cert.clone());
        chain.extend(i.chain.iter().cloned());
    }
    Cert {
        cert: b.build(),
        key,
        chain,
    }
}

/// A proxy of `of` (an end entity or a proxy): its subject plus one CN.
pub fn proxy(of: &Cert) -> Cert {
    let subject = format!(
        "{}/CN={}",
        slash(of.cert.subject_name()),
        SERIAL.fetch_add(1, Ordering::Relaxed) + 70_000
    );
    issue(&subject, Some(of), Kind::Proxy, -1, 1)
}

/// The slash form of a name.
pub fn slash(n: &openssl::x509::X509NameRef) -> String {
    n.entries()
        .map(|e| {
            format!(
                "/{}={}",
                e.object().nid().short_name().unwrap(),
                e.data().to_string().unwrap()
            )
        })
        .collect()
}

/// A CA written into an `X509_CERT_DIR`-style directory, and the server's certificate.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: Cert,
    pub ca_dir: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl Default for Pki {
    fn default() -> Pki {
        Pki::new()
    }
}

pub const BASE: &str = "/DC=org/DC=catalog-test";

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = issue(
            &format!("{BASE}/CN=Catalog Test CA"),
            None,
            Kind::Ca,
            -1,
            30,
        );
        let ca_dir = dir.path().join("certificates");
        std::fs::create_dir(&ca_dir).unwrap();
        let hash = ca.cert.subject_name_hash();
        std::fs::write(
            ca_dir.join(format!("{hash:08x}.0")),
            ca.cert.to_pem().unwrap(),
        )
        .unwrap();
        let server = issue(
            &format!("{BASE}/CN=localhost"),
            Some(&ca),
            Kind::Server,
            -1,
            30,
        );
        let (server_cert, server_key) = server.write_pair(dir.path(), "server");
        Pki {
            dir,
            ca,
            ca_dir,
            server_cert,
            server_key,
        }
    }

    /// A user certificate for `cn` from the test CA.
    pub fn user(&self, cn: &str) -> Cert {
        issue(
            &format!("{BASE}/CN={cn}"),
            Some(&self.ca),
            Kind::User,
            -1,
            30,
        )
    }

    pub fn dn(cn: &str) -> String {
        format!("{BASE}/CN={cn}")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}
