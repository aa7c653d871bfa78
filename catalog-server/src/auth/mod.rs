//! Who is calling, and what they may do.
//!
//! Modes (config `auth`): `open`, the embedded default, is one implicit local user with every
//! right, served on a loopback address only unless the server is started with `--insecure`;
//! `token`, bearer tokens issued by `catalog-server admin token create` and kept hashed;
//! `x509`, TLS client certificates (RFC 3820 proxies accepted), the end-entity subject DN
//! mapped to a user. `token` and `x509` can be on together.

pub mod access;
pub mod audit;
pub mod permissions;
pub mod tls;
pub mod users;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;

use crate::app::AppState;
use crate::error::{Error, Result};
use crate::namespace::{now, LOCAL_USER};

pub use access::{Guard, Need};
pub use tls::Peer;

/// Which credentials the server accepts; neither is `open`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Modes {
    pub token: bool,
    pub x509: bool,
}

impl Modes {
    /// `open`, `token`, `x509`, or `token,x509`.
    pub fn parse(text: &str) -> anyhow::Result<Modes> {
        let mut m = Modes::default();
        let mut open = false;
        for part in text.split(',').map(str::trim) {
            match part {
                "open" => open = true,
                "token" => m.token = true,
                "x509" => m.x509 = true,
                other => anyhow::bail!(
                    "unknown auth mode {other:?}: expected open, token, x509 or token,x509"
                ),
            }
        }
        if open && m != Modes::default() {
            anyhow::bail!("auth mode open cannot be combined with token or x509");
        }
        Ok(m)
    }

    pub fn is_open(self) -> bool {
        !self.token && !self.x509
    }

    pub fn describe(self) -> &'static str {
        match (self.token, self.x509) {
            (false, false) => "open",
            (true, false) => "token",
            (false, true) => "x509",
            (true, true) => "token,x509",
        }
    }
}

/// How long a credential, once looked up, is taken without asking the database again:
/// revoking a token, removing a user or changing their groups takes effect within this.
/// (Measured, `stat` under wrk: open mode 7,904-8,232 req/s; tokens looked up on every
/// request 4,827-4,835 req/s; with this cache 7,851-8,066 against open's 8,353-8,421.)
pub const CALLER_CACHE: std::time::Duration = std::time::Duration::from_secs(2);
const CALLER_CACHE_ENTRIES: usize = 10_000;

/// Callers recently authenticated, by the hash of their token or by their DN.
#[derive(Default)]
pub struct CallerCache {
    map: std::sync::Mutex<std::collections::HashMap<String, (Caller, std::time::Instant)>>,
}

impl CallerCache {
    fn get(&self, key: &str) -> Option<Caller> {
        let map = self.map.lock().ok()?;
        map.get(key)
            .filter(|(_, at)| at.elapsed() < CALLER_CACHE)
            .map(|(c, _)| c.clone())
    }

    fn put(&self, key: String, caller: &Caller) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= CALLER_CACHE_ENTRIES {
                map.retain(|_, (_, at)| at.elapsed() < CALLER_CACHE);
                if map.len() >= CALLER_CACHE_ENTRIES {
                    map.clear();
                }
            }
            map.insert(key, (caller.clone(), std::time::Instant::now()));
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub groups: Vec<String>,
    pub admin: bool,
    /// Authenticated with a runner token: may only claim, heartbeat and finish subjobs.
    pub runner: bool,
}

impl Caller {
    /// The one user of `open` mode.
    pub fn local() -> Caller {
        Caller {
            name: LOCAL_USER.to_owned(),
            groups: Vec::new(),
            admin: true,
            runner: false,
        }
    }

    /// Runner tokens are refused everywhere but the runner's own calls.
    fn refuse_runner(&self) -> Result<()> {
        if self.runner {
            Err(Error::Forbidden(format!(
                "{} is a job runner (a runner token or user), which may only claim, heartbeat and finish subjobs",
                self.name
            )))
        } else {
            Ok(())
        }
    }
}

/// Any authenticated caller, job runners included, as themselves (no lease delegation): the
/// runner's own calls (claim, heartbeat, finish; `jobs::check_runs` says for which jobs) and
/// `whoami`.
#[derive(Debug, Clone)]
pub struct AnyCaller(pub Caller);

/// The caller of `req`. With `delegate`, a runner that sends a lease of a running subjob
/// (`x-catalog-lease: JOB:SUBJOB:TOKEN`) acts as the job's submitter.
async fn authenticate(req: HttpRequest, delegate: bool) -> Result<Caller> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| Error::Internal("no application state".into()))?;
    let modes = state.auth;
    let caller = if modes.is_open() {
        Caller::local()
    } else if let Some(header) = req.headers().get(AUTHORIZATION) {
        if !modes.token {
            return Err(Error::Unauthorized(
                "this server does not take bearer tokens (auth = x509): use a client certificate"
                    .into(),
            ));
        }
        let token = bearer(header.to_str().unwrap_or(""))?;
        let key = users::token_hash(&token);
        match state.callers.get(&key) {
            Some(c) => c,
            None => {
                let c = state
                    .db
                    .read(move |c| users::caller_by_token(c, &token, now()))
                    .await?;
                state.callers.put(key, &c);
                c
            }
        }
    } else if let (true, Some(peer)) = (modes.x509, req.conn_data::<Peer>().cloned()) {
        match peer {
            Peer::Verified(dn) => {
                let key = format!("dn:{dn}");
                match state.callers.get(&key) {
                    Some(c) => c,
                    None => {
                        let c = state.db.read(move |c| users::caller_by_dn(c, &dn)).await?;
                        state.callers.put(key, &c);
                        c
                    }
                }
            }
            Peer::Refused(why) => return Err(Error::Unauthorized(why)),
        }
    } else {
        return Err(Error::Unauthorized(match (modes.token, modes.x509) {
            (true, true) => "authentication required: send a bearer token (Authorization: Bearer ...) or a client certificate",
            (true, false) => "authentication required: send a bearer token (Authorization: Bearer ...)",
            _ => "authentication required: send a client certificate",
        }
        .into()));
    };
    let caller = match req.headers().get(catalog_core::client::LEASE_HEADER) {
        Some(v) if delegate && !modes.is_open() => {
            let lease = lease(v.to_str().unwrap_or(""))?;
            let base = caller;
            state
                .db
                .read(move |c| {
                    let owner = crate::jobs::lease_owner(c, &lease)?;
                    if !(base.runner || base.admin || base.name == owner) {
                        return Err(Error::Forbidden(format!(
                            "{} may not act for {owner}: only runners act for a lease's submitter",
                            base.name
                        )));
                    }
                    users::caller_by_name(c, &owner)
                })
                .await?
        }
        _ => caller,
    };
    req.extensions_mut().insert(audit::Who(caller.name.clone()));
    Ok(caller)
}

fn lease(header: &str) -> Result<catalog_core::job::LeaseRef> {
    let mut parts = header.splitn(3, ':');
    let parsed = match (parts.next(), parts.next(), parts.next()) {
        (Some(j), Some(s), Some(t)) if !t.is_empty() => {
            j.parse()
                .ok()
                .zip(s.parse().ok())
                .map(|(job, subjob)| catalog_core::job::LeaseRef {
                    job,
                    subjob,
                    token: t.to_owned(),
                })
        }
        _ => None,
    };
    parsed.ok_or_else(|| {
        Error::Unauthorized(format!(
            "malformed {} header: expected JOB:SUBJOB:TOKEN",
            catalog_core::client::LEASE_HEADER
        ))
    })
}

fn bearer(header: &str) -> Result<String> {
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            Error::Unauthorized(
                "malformed Authorization header: expected \"Bearer <token>\"".into(),
            )
        })?;
    Ok(token.to_owned())
}

impl FromRequest for Caller {
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Caller>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = authenticate(req, true).await?;
            caller.refuse_runner()?;
            Ok(caller)
        })
    }
}

impl FromRequest for AnyCaller {
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<AnyCaller>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(AnyCaller(authenticate(req, false).await?)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse() {
        assert!(Modes::parse("open").unwrap().is_open());
        let both = Modes::parse("token, x509").unwrap();
        assert!(both.token && both.x509);
        assert_eq!(both.describe(), "token,x509");
        assert!(Modes::parse("open,token").is_err());
        assert!(Modes::parse("kerberos")
            .unwrap_err()
            .to_string()
            .contains("unknown auth mode"));
    }

    #[test]
    fn bearer_headers() {
        assert_eq!(bearer("Bearer cat_abc").unwrap(), "cat_abc");
        assert!(bearer("Basic dXNlcg==").is_err());
        assert!(bearer("Bearer ").is_err());
        assert!(bearer("Bearer a b").is_err());
    }
}
