//! `catalog`: the command line of the metadata file catalogue.

mod access;
mod datasets;
mod find;
mod metadata;
mod namespace;
mod output;
mod provenance;
mod register;
mod schemas;
mod search;
mod storage;
mod transfer;

use clap::{Parser, Subcommand};
use output::Format;

#[derive(Parser)]
#[command(
    name = "catalog",
    version,
    about = "The metadata file catalogue: namespace, replicas, metadata and provenance"
)]
pub struct Cli {
    /// Catalogue server URL
    #[arg(
        long,
        global = true,
        env = "CATALOG_URL",
        default_value = "http://127.0.0.1:8765"
    )]
    server: String,
    #[command(flatten)]
    credentials: catalog_core::credentials::CredentialArgs,
    /// Output format of read commands
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Format::Table)]
    output: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create directories
    Mkdir(namespace::MkdirArgs),
    /// List a directory (or show a file)
    Ls(namespace::LsArgs),
    /// Show a file's or directory's attributes
    Stat(namespace::StatArgs),
    /// Move or rename a file or directory
    Mv(namespace::MvArgs),
    /// Remove files, with the bytes of their replicas
    Rm(namespace::RmArgs),
    /// Remove a directory (with -r, everything below it)
    Rmdir(namespace::RmdirArgs),
    /// Upload local files to a storage element and register them, in one step
    Put(transfer::PutArgs),
    /// Download files from a replica, verifying the checksum
    Get(transfer::GetArgs),
    /// Register files already on a storage element, from a JSON-lines manifest
    Register(register::RegisterArgs),
    /// Show the replicas of files
    Replicas(storage::ReplicasArgs),
    /// Storage elements
    #[command(subcommand)]
    Se(storage::SeCommand),
    /// Metadata fields and values
    #[command(subcommand)]
    Meta(metadata::MetaCommand),
    /// Provenance links
    #[command(subcommand)]
    Parents(provenance::ParentsCommand),
    /// Files the given files were made from, generation by generation
    Ancestors(provenance::LineageArgs),
    /// Files made from the given files, generation by generation
    Descendants(provenance::LineageArgs),
    /// Copy files to another storage element (verified) and register the new replicas
    Replicate(storage::ReplicateArgs),
    /// Check that replicas exist with the right size and checksum
    Verify(storage::VerifyArgs),
    /// Files and bytes below a directory, per storage element
    Du(storage::DuArgs),
    /// Find files by metadata, attributes, place and provenance
    Find(find::FindArgs),
    /// Full-text search over paths, names, string metadata and datasets, ranked
    Search(search::SearchArgs),
    /// Datasets: named sets of files
    #[command(subcommand)]
    Dataset(datasets::DatasetCommand),
    /// JSON Schemas that the metadata of the files below a directory must satisfy
    #[command(subcommand)]
    Schema(schemas::SchemaCommand),
    /// Who the server takes you for: user, groups, role
    Whoami,
    /// Change the mode bits of files or directories (owner or admin)
    Chmod(access::ChmodArgs),
    /// Change the owner (and group, with OWNER:GROUP) of files or directories
    Chown(access::ChownArgs),
    /// Change the group of files or directories (to one of yours, unless admin)
    Chgrp(access::ChgrpArgs),
}

/// What every command gets: the server and how to print.
pub struct Ctx {
    pub client: catalog_core::Client,
    pub format: Format,
}

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("catalog: cannot start: {e}");
            std::process::exit(1);
        }
    };
    let client = match cli.credentials.client(&cli.server) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("catalog: {e}");
            std::process::exit(1);
        }
    };
    let ctx = Ctx {
        client,
        format: cli.output,
    };
    if let Err(e) = runtime.block_on(run(cli.command, &ctx)) {
        eprintln!("catalog: {e:#}");
        std::process::exit(1);
    }
}

async fn run(command: Command, ctx: &Ctx) -> anyhow::Result<()> {
    match command {
        Command::Mkdir(a) => namespace::mkdir(ctx, a).await,
        Command::Whoami => access::whoami(ctx).await,
        Command::Chmod(a) => access::chmod(ctx, a).await,
        Command::Chown(a) => access::chown(ctx, a).await,
        Command::Chgrp(a) => access::chgrp(ctx, a).await,
        Command::Ls(a) => namespace::ls(ctx, a).await,
        Command::Stat(a) => namespace::stat(ctx, a).await,
        Command::Mv(a) => namespace::mv(ctx, a).await,
        Command::Rm(a) => namespace::rm(ctx, a).await,
        Command::Rmdir(a) => namespace::rmdir(ctx, a).await,
        Command::Put(a) => transfer::put(ctx, a).await,
        Command::Get(a) => transfer::get(ctx, a).await,
        Command::Register(a) => register::run(ctx, a).await,
        Command::Replicas(a) => storage::replicas(ctx, a).await,
        Command::Se(c) => storage::se(ctx, c).await,
        Command::Meta(c) => metadata::run(ctx, c).await,
        Command::Parents(c) => provenance::parents(ctx, c).await,
        Command::Ancestors(a) => {
            provenance::lineage(ctx, a, provenance::Direction::Ancestors).await
        }
        Command::Descendants(a) => {
            provenance::lineage(ctx, a, provenance::Direction::Descendants).await
        }
        Command::Find(a) => find::run(ctx, a).await,
        Command::Replicate(a) => storage::replicate(ctx, a).await,
        Command::Verify(a) => storage::verify(ctx, a).await,
        Command::Du(a) => storage::du(ctx, a).await,
        Command::Search(a) => search::run(ctx, a).await,
        Command::Dataset(c) => datasets::run(ctx, c).await,
        Command::Schema(c) => schemas::run(ctx, c).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
