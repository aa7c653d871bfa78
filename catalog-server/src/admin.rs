//! `catalog-server admin`: users, groups, tokens and the audit log, managed on the database
//! directly (as DIRAC's and Rucio's admin tools do), with or without the server running.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use clap::Subcommand;

use crate::auth::{audit, users};
use crate::db::Db;
use crate::namespace::now;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Users: add, ls, rm
    #[command(subcommand)]
    User(UserCommand),
    /// Groups: add, ls, add-member, rm-member
    #[command(subcommand)]
    Group(GroupCommand),
    /// Bearer tokens: create, ls, revoke
    #[command(subcommand)]
    Token(TokenCommand),
    /// Show the audit log of writes, oldest first
    Audit {
        /// Entries at or after this: a duration back from now (30m, 12h, 7d) or a UTC time
        /// (2026-11-23T10:00:00Z) [default: 1d]
        #[arg(long, default_value = "1d")]
        since: String,
        /// Only this user's writes
        #[arg(long)]
        user: Option<String>,
        /// At most this many entries
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user, optionally mapped from an X.509 subject DN
    Add {
        name: String,
        /// The end-entity certificate's subject, e.g. "/DC=org/DC=example/CN=Alice"
        #[arg(long)]
        dn: Option<String>,
        /// Give the admin role (declare fields and schemas, manage storage elements and users)
        #[arg(long)]
        admin: bool,
        /// A job runner (e.g. mapped from a host certificate's DN): it may only claim,
        /// heartbeat and finish subjobs
        #[arg(long, conflicts_with = "admin")]
        runner: bool,
    },
    /// List users with their DN, role and groups
    Ls,
    /// Remove a user and their tokens (what they own keeps its owner name)
    Rm { name: String },
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Add a group
    Add { name: String },
    /// List groups with their members
    Ls,
    /// Add a user to a group
    AddMember { group: String, user: String },
    /// Remove a user from a group
    RmMember { group: String, user: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a bearer token for USER and print it (once: only its hash is kept)
    Create {
        user: String,
        /// Lifetime: 90m, 12h, 30d, 2w [default: never expires]
        #[arg(long)]
        expires: Option<String>,
        /// A job runner's token: it may only claim, heartbeat and finish subjobs
        #[arg(long)]
        runner: bool,
    },
    /// List tokens (number, user, kind, created, expires, revoked), of one user or all
    Ls { user: Option<String> },
    /// Revoke a token, given by its number (from `ls`) or its text
    Revoke { token: String },
}

/// `30d`, `12h`, `90m`, `45s`, `2w`.
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let bad = || {
        anyhow::anyhow!("invalid duration {text:?}: expected a number and s, m, h, d or w (30d)")
    };
    let unit = text.chars().last().ok_or_else(bad)?;
    let n: i64 = text[..text.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| bad())?;
    if n <= 0 {
        return Err(bad());
    }
    let d = match unit {
        's' => Duration::try_seconds(n),
        'm' => Duration::try_minutes(n),
        'h' => Duration::try_hours(n),
        'd' => Duration::try_days(n),
        'w' => Duration::try_weeks(n),
        _ => None,
    };
    d.ok_or_else(bad)
}

/// A duration back from now, or an RFC 3339 time.
fn parse_since(text: &str) -> anyhow::Result<NaiveDateTime> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc).naive_utc());
    }
    let d = parse_duration(text).map_err(|_| {
        anyhow::anyhow!("invalid --since {text:?}: expected a duration (12h, 7d) or a time (2026-11-23T10:00:00Z)")
    })?;
    Ok(now() - d)
}

fn time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn run(db: &Db, cmd: AdminCommand) -> anyhow::Result<()> {
    let mut conn = db.write_conn()?;
    let c = &mut *conn;
    match cmd {
        AdminCommand::User(UserCommand::Add {
            name,
            dn,
            admin,
            runner,
        }) => {
            let u = users::add_user(c, &name, dn.as_deref(), users::Roles { admin, runner })?;
            println!(
                "user {} added{}{}",
                u.name,
                u.dn.map(|d| format!(", DN {d}")).unwrap_or_default(),
                match (u.admin, u.runner) {
                    (true, _) => ", admin",
                    (_, true) => ", runner",
                    _ => "",
                }
            );
        }
        AdminCommand::User(UserCommand::Ls) => {
            for (u, groups) in users::list_users(c)? {
                println!(
                    "{}\t{}\t{}\t{}",
                    u.name,
                    match (u.admin, u.runner) {
                        (true, _) => "admin",
                        (_, true) => "runner",
                        _ => "user",
                    },
                    if groups.is_empty() {
                        "-".to_owned()
                    } else {
                        groups.join(",")
                    },
                    u.dn.unwrap_or_else(|| "-".to_owned())
                );
            }
        }
        AdminCommand::User(UserCommand::Rm { name }) => {
            users::remove_user(c, &name)?;
            println!("user {name} removed");
        }
        AdminCommand::Group(GroupCommand::Add { name }) => {
            users::add_group(c, &name)?;
            println!("group {name} added");
        }
        AdminCommand::Group(GroupCommand::Ls) => {
            for (g, members) in users::list_groups(c)? {
                println!("{g}\t{}", members.join(","));
            }
        }
        AdminCommand::Group(GroupCommand::AddMember { group, user }) => {
            users::add_member(c, &group, &user)?;
            println!("{user} added to group {group}");
        }
        AdminCommand::Group(GroupCommand::RmMember { group, user }) => {
            users::remove_member(c, &group, &user)?;
            println!("{user} removed from group {group}");
        }
        AdminCommand::Token(TokenCommand::Create {
            user,
            expires,
            runner,
        }) => {
            let expires = expires
                .as_deref()
                .map(parse_duration)
                .transpose()?
                .map(|d| now() + d);
            let (t, text) = users::create_token(c, &user, expires, runner)?;
            // The token alone on stdout, for `TOKEN=$(catalog-server admin token create ...)`.
            println!("{text}");
            eprintln!(
                "token {} for {user}{}{}: shown once, keep it safe",
                t.id,
                if runner { " (runner)" } else { "" },
                t.expires
                    .map(|e| format!(", expires {}", time(e)))
                    .unwrap_or_default()
            );
        }
        AdminCommand::Token(TokenCommand::Ls { user }) => {
            for (name, t) in users::list_tokens(c, user.as_deref())? {
                println!(
                    "{}\t{name}\t{}\tcreated {}\texpires {}\t{}",
                    t.id,
                    if t.runner { "runner" } else { "user" },
                    time(t.created),
                    t.expires.map(time).unwrap_or_else(|| "never".into()),
                    t.revoked
                        .map(|r| format!("revoked {}", time(r)))
                        .unwrap_or_else(|| "active".into())
                );
            }
        }
        AdminCommand::Token(TokenCommand::Revoke { token }) => {
            let id = users::revoke_token(c, &token)?;
            println!("token {id} revoked");
        }
        AdminCommand::Audit {
            since,
            user,
            limit,
            json,
        } => {
            let since = parse_since(&since)?;
            for e in audit::list(c, since, user.as_deref(), limit)? {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "at": time(e.at), "who": e.who, "action": e.action,
                            "target": e.target, "status": e.status, "remote": e.remote,
                            "request_id": e.request_id,
                        })
                    );
                } else {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        time(e.at),
                        e.who,
                        e.remote,
                        e.status,
                        e.action,
                        e.target,
                        e.request_id
                    );
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d").unwrap(), Duration::days(30));
        assert_eq!(parse_duration("90m").unwrap(), Duration::minutes(90));
        assert!(parse_duration("0d").is_err());
        assert!(parse_duration("3y").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_since("2026-11-23T10:00:00Z").is_ok());
        assert!(parse_since("yesterday").is_err());
    }
}
