//! Who am I, and who may do what: `whoami`, `chmod`, `chown`, `chgrp`.

use catalog_core::api::PermissionsRequest;
use clap::Args;

use crate::output::Format;
use crate::Ctx;

#[derive(Args)]
pub struct ChmodArgs {
    /// Octal mode, e.g. 750 (owner rwx, group r-x, others nothing); files keep rw bits
    pub mode: String,
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Also everything below each directory
    #[arg(short = 'R', long)]
    pub recursive: bool,
}

#[derive(Args)]
pub struct ChownArgs {
    /// New owner, or OWNER:GROUP
    pub owner: String,
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Also everything below each directory
    #[arg(short = 'R', long)]
    pub recursive: bool,
}

#[derive(Args)]
pub struct ChgrpArgs {
    pub group: String,
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Also everything below each directory
    #[arg(short = 'R', long)]
    pub recursive: bool,
}

pub fn parse_mode(text: &str) -> anyhow::Result<i32> {
    let m = i32::from_str_radix(text, 8)
        .ok()
        .filter(|m| (0..=0o777).contains(m) && !text.is_empty() && text.len() <= 4);
    m.ok_or_else(|| anyhow::anyhow!("invalid mode {text:?}: expected octal digits, e.g. 750"))
}

async fn apply(
    ctx: &Ctx,
    paths: Vec<String>,
    recursive: bool,
    mode: Option<i32>,
    owner: Option<String>,
    group: Option<String>,
) -> anyhow::Result<()> {
    for path in paths {
        let r = ctx
            .client
            .set_permissions(&PermissionsRequest {
                path,
                mode,
                owner: owner.clone(),
                group: group.clone(),
                recursive,
            })
            .await?;
        if recursive {
            eprintln!("{}: {} entries changed", r.path, r.changed);
        }
    }
    Ok(())
}

pub async fn chmod(ctx: &Ctx, a: ChmodArgs) -> anyhow::Result<()> {
    let mode = parse_mode(&a.mode)?;
    apply(ctx, a.paths, a.recursive, Some(mode), None, None).await
}

pub async fn chown(ctx: &Ctx, a: ChownArgs) -> anyhow::Result<()> {
    let (owner, group) = match a.owner.split_once(':') {
        Some((o, g)) => (o.to_owned(), Some(g.to_owned()).filter(|g| !g.is_empty())),
        None => (a.owner, None),
    };
    apply(ctx, a.paths, a.recursive, None, Some(owner), group).await
}

pub async fn chgrp(ctx: &Ctx, a: ChgrpArgs) -> anyhow::Result<()> {
    apply(ctx, a.paths, a.recursive, None, None, Some(a.group)).await
}

pub async fn whoami(ctx: &Ctx) -> anyhow::Result<()> {
    let me = ctx.client.whoami().await?;
    match ctx.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&me)?),
        _ => {
            println!("{}", me.user);
            println!(
                "groups: {}",
                if me.groups.is_empty() {
                    "-".to_owned()
                } else {
                    me.groups.join(", ")
                }
            );
            let role = match (me.admin, me.runner) {
                (true, _) => "admin",
                (_, true) => "runner",
                _ => "user",
            };
            println!("role: {role}");
            println!("server auth: {}", me.auth);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(parse_mode("750").unwrap(), 0o750);
        assert_eq!(parse_mode("0644").unwrap(), 0o644);
        assert!(parse_mode("800").is_err());
        assert!(parse_mode("rwx").is_err());
        assert!(parse_mode("").is_err());
    }
}
