//! Users, groups and bearer tokens in the database: what `catalog-server admin` manages and
//! what each request's credentials are looked up in. Tokens are kept as their SHA-256 only.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::Caller;
use crate::db::schema::{group_members, tokens, user_groups, users};
use crate::db::DbConn;
use crate::error::{Error, Result};
use crate::namespace::now;

/// What every token starts with, so that one pasted in the wrong place is recognisable.
pub const TOKEN_PREFIX: &str = "cat_";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub dn: Option<String>,
    pub admin: bool,
    pub runner: bool,
    pub created: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tokens)]
pub struct Token {
    pub id: i64,
    pub user_id: i64,
    pub hash: String,
    pub runner: bool,
    pub created: NaiveDateTime,
    pub expires: Option<NaiveDateTime>,
    pub revoked: Option<NaiveDateTime>,
}

/// User and group names: letters, digits, `.`, `_`, `-`, at most 64, not starting with `-`.
pub fn check_name(kind: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::bad(format!(
            "invalid {kind} name {name:?}: use 1 to 64 letters, digits, '.', '_' or '-'"
        )))
    }
}

/// A DN in the grid's slash form: `/DC=org/DC=example/CN=Alice`.
pub fn check_dn(dn: &str) -> Result<()> {
    let ok = dn.starts_with('/')
        && dn[1..].split('/').all(
            |rdn| matches!(rdn.split_once('='), Some((k, v)) if !k.is_empty() && !v.is_empty()),
        );
    if ok {
        Ok(())
    } else {
        Err(Error::bad(format!(
            "invalid DN {dn:?}: expected the slash form, for example \"/DC=org/DC=example/CN=Alice\""
        )))
    }
}

pub fn get_user(conn: &mut DbConn, name: &str) -> Result<User> {
    users::table
        .filter(users::name.eq(name))
        .select(User::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("no such user: {name}")))
}

/// What a user may be: an admin, or a job runner.
#[derive(Debug, Clone, Copy, Default)]
pub struct Roles {
    pub admin: bool,
    pub runner: bool,
}

pub fn add_user(conn: &mut DbConn, name: &str, dn: Option<&str>, roles: Roles) -> Result<User> {
    if roles.admin && roles.runner {
        return Err(Error::bad("a user is an admin or a runner, not both"));
    }
    check_name("user", name)?;
    if let Some(dn) = dn {
        check_dn(dn)?;
        let taken: Option<String> = users::table
            .filter(users::dn.eq(dn))
            .select(users::name)
            .first(conn)
            .optional()?;
        if let Some(other) = taken {
            return Err(Error::conflict(format!(
                "DN {dn} is already user {other}'s"
            )));
        }
    }
    if users::table
        .filter(users::name.eq(name))
        .count()
        .get_result::<i64>(conn)?
        > 0
    {
        return Err(Error::conflict(format!("user {name} exists")));
    }
    diesel::insert_into(users::table)
        .values((
            users::name.eq(name),
            users::dn.eq(dn),
            users::admin.eq(roles.admin),
            users::runner.eq(roles.runner),
            users::created.eq(now()),
        ))
        .execute(conn)?;
    get_user(conn, name)
}

pub fn remove_user(conn: &mut DbConn, name: &str) -> Result<()> {
    let user = get_user(conn, name)?;
    diesel::delete(tokens::table.filter(tokens::user_id.eq(user.id))).execute(conn)?;
    diesel::delete(group_members::table.filter(group_members::user_id.eq(user.id)))
        .execute(conn)?;
    diesel::delete(users::table.filter(users::id.eq(user.id))).execute(conn)?;
    Ok(())
}

/// Every user with their groups, by name.
pub fn list_users(conn: &mut DbConn) -> Result<Vec<(User, Vec<String>)>> {
    let all: Vec<User> = users::table
        .order(users::name.asc())
        .select(User::as_select())
        .load(conn)?;
    let mut out = Vec::with_capacity(all.len());
    for u in all {
        let groups = groups_of(conn, u.id)?;
        out.push((u, groups));
    }
    Ok(out)
}

fn groups_of(conn: &mut DbConn, user_id: i64) -> Result<Vec<String>> {
    Ok(group_members::table
        .inner_join(user_groups::table)
        .filter(group_members::user_id.eq(user_id))
        .order(user_groups::name.asc())
        .select(user_groups::name)
        .load(conn)?)
}

fn group_id(conn: &mut DbConn, name: &str) -> Result<i64> {
    user_groups::table
        .filter(user_groups::name.eq(name))
        .select(user_groups::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("no such group: {name}")))
}

pub fn group_exists(conn: &mut DbConn, name: &str) -> Result<bool> {
    Ok(user_groups::table
        .filter(user_groups::name.eq(name))
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

pub fn add_group(conn: &mut DbConn, name: &str) -> Result<()> {
    check_name("group", name)?;
    if group_exists(conn, name)? {
        return Err(Error::conflict(format!("group {name} exists")));
    }
    diesel::insert_into(user_groups::table)
        .values((user_groups::name.eq(name), user_groups::created.eq(now())))
        .execute(conn)?;
    Ok(())
}

/// Every group with its members, by name.
pub fn list_groups(conn: &mut DbConn) -> Result<Vec<(String, Vec<String>)>> {
    let groups: Vec<(i64, String)> = user_groups::table
        .order(user_groups::name.asc())
        .select((user_groups::id, user_groups::name))
        .load(conn)?;
    let mut out = Vec::with_capacity(groups.len());
    for (id, name) in groups {
        let members: Vec<String> = group_members::table
            .inner_join(users::table)
            .filter(group_members::group_id.eq(id))
            .order(users::name.asc())
            .select(users::name)
            .load(conn)?;
        out.push((name, members));
    }
    Ok(out)
}

pub fn add_member(conn: &mut DbConn, group: &str, user: &str) -> Result<()> {
    let g = group_id(conn, group)?;
    let u = get_user(conn, user)?;
    let there = group_members::table
        .filter(
            group_members::group_id
                .eq(g)
                .and(group_members::user_id.eq(u.id)),
        )
        .count()
        .get_result::<i64>(conn)?;
    if there > 0 {
        return Err(Error::conflict(format!(
            "{user} is already in group {group}"
        )));
    }
    diesel::insert_into(group_members::table)
        .values((
            group_members::group_id.eq(g),
            group_members::user_id.eq(u.id),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn remove_member(conn: &mut DbConn, group: &str, user: &str) -> Result<()> {
    let g = group_id(conn, group)?;
    let u = get_user(conn, user)?;
    let n = diesel::delete(
        group_members::table.filter(
            group_members::group_id
                .eq(g)
                .and(group_members::user_id.eq(u.id)),
        ),
    )
    .execute(conn)?;
    if n == 0 {
        return Err(Error::not_found(format!("{user} is not in group {group}")));
    }
    Ok(())
}

/// How a token is kept: `sha256:` and the hex digest of its text.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256:");
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A new random token for `user` (256 bits from the operating system's generator); its text
/// is returned once and never stored.
pub fn create_token(
    conn: &mut DbConn,
    user: &str,
    expires: Option<NaiveDateTime>,
    runner: bool,
) -> Result<(Token, String)> {
    use base64::Engine;
    let u = get_user(conn, user)?;
    let mut bytes = [0u8; 32];
    openssl::rand::rand_bytes(&mut bytes)
        .map_err(|e| Error::Internal(format!("no random bytes: {e}")))?;
    let text = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = token_hash(&text);
    diesel::insert_into(tokens::table)
        .values((
            tokens::user_id.eq(u.id),
            tokens::hash.eq(&hash),
            tokens::runner.eq(runner),
            tokens::created.eq(now()),
            tokens::expires.eq(expires),
        ))
        .execute(conn)?;
    let token = tokens::table
        .filter(tokens::hash.eq(&hash))
        .select(Token::as_select())
        .first(conn)?;
    Ok((token, text))
}

/// Revokes a token given by its number (`admin token ls`) or its text.
pub fn revoke_token(conn: &mut DbConn, which: &str) -> Result<i64> {
    let found: Option<Token> = match which.parse::<i64>() {
        Ok(id) => tokens::table
            .filter(tokens::id.eq(id))
            .select(Token::as_select())
            .first(conn)
            .optional()?,
        Err(_) => tokens::table
            .filter(tokens::hash.eq(token_hash(which)))
            .select(Token::as_select())
            .first(conn)
            .optional()?,
    };
    let t = found.ok_or_else(|| Error::not_found("no such token".to_owned()))?;
    if t.revoked.is_some() {
        return Err(Error::conflict(format!(
            "token {} is already revoked",
            t.id
        )));
    }
    diesel::update(tokens::table.filter(tokens::id.eq(t.id)))
        .set(tokens::revoked.eq(Some(now())))
        .execute(conn)?;
    Ok(t.id)
}

/// Tokens with their users' names, of one user or all.
pub fn list_tokens(conn: &mut DbConn, user: Option<&str>) -> Result<Vec<(String, Token)>> {
    let mut q = tokens::table
        .inner_join(users::table)
        .order(tokens::id.asc())
        .select((users::name, Token::as_select()))
        .into_boxed();
    if let Some(u) = user {
        q = q.filter(users::name.eq(u.to_owned()));
    }
    Ok(q.load(conn)?)
}

fn caller_of(conn: &mut DbConn, user: User, runner_token: bool) -> Result<Caller> {
    Ok(Caller {
        groups: groups_of(conn, user.id)?,
        runner: runner_token || user.runner,
        name: user.name,
        admin: user.admin,
    })
}

/// The caller a bearer token stands for, or why it does not.
pub fn caller_by_token(conn: &mut DbConn, token: &str, at: NaiveDateTime) -> Result<Caller> {
    let found: Option<(User, Token)> = tokens::table
        .inner_join(users::table)
        .filter(tokens::hash.eq(token_hash(token)))
        .select((User::as_select(), Token::as_select()))
        .first(conn)
        .optional()?;
    let (user, t) = found.ok_or_else(|| Error::Unauthorized("unknown token".to_owned()))?;
    if let Some(when) = t.revoked {
        return Err(Error::Unauthorized(format!(
            "token {} was revoked at {}",
            t.id,
            when.format("%Y-%m-%d %H:%M:%S UTC")
        )));
    }
    if let Some(when) = t.expires.filter(|w| *w <= at) {
        return Err(Error::Unauthorized(format!(
            "token {} expired at {}",
            t.id,
            when.format("%Y-%m-%d %H:%M:%S UTC")
        )));
    }
    caller_of(conn, user, t.runner)
}

/// A user by name, as a caller (a runner acting for a job's submitter).
pub fn caller_by_name(conn: &mut DbConn, name: &str) -> Result<Caller> {
    let user = get_user(conn, name)
        .map_err(|_| Error::Unauthorized(format!("{name} is no longer a user")))?;
    caller_of(conn, user, false)
}

/// The user a certificate's end-entity DN is mapped to.
pub fn caller_by_dn(conn: &mut DbConn, dn: &str) -> Result<Caller> {
    let user: User = users::table
        .filter(users::dn.eq(dn))
        .select(User::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            Error::Unauthorized(format!(
                "certificate DN {dn} is not mapped to a user (an admin runs: catalog-server admin user add NAME --dn \"{dn}\")"
            ))
        })?;
    caller_of(conn, user, false)
}
