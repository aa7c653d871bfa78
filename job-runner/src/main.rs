use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use job_runner::runner::{self, RunnerConfig};
use job_runner::submit;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Runs catalogue jobs: inputs chosen by a metadata query, split into subjobs, outputs
/// registered with their metadata and provenance.
#[derive(Parser)]
#[command(name = "job-runner", version)]
struct Cli {
    /// Catalogue server URL
    #[arg(
        long,
        global = true,
        env = "CATALOG_URL",
        default_value = "http://127.0.0.1:8765"
    )]
    server: String,
    // A user's credentials submit and steer jobs; `work` needs a runner token
    // (`catalog-server admin token create USER --runner`) or an admin's.
    #[command(flatten)]
    credentials: catalog_core::credentials::CredentialArgs,
    /// Print JSON instead of tables
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Submit a job spec (TOML); prints the job id, subjobs and input files
    Submit { spec: PathBuf },
    /// Submit a job spec and run it to the end here, with a local runner
    Run {
        spec: PathBuf,
        #[command(flatten)]
        runner: RunnerArgs,
    },
    /// Claim and run subjobs until stopped (ctrl-c or SIGTERM)
    Work {
        #[command(flatten)]
        runner: RunnerArgs,
    },
    /// Jobs, or one job with each subjob's state, attempts, runner and exit code
    Status { job: Option<i64> },
    /// List jobs
    Ls,
    /// The log (stdout and stderr) of each attempt of a job's subjobs
    Logs {
        job: i64,
        #[arg(long)]
        subjob: Option<i64>,
    },
    /// Stop a job: its running subjobs are killed, the others will not run
    Kill { job: i64 },
    /// Run a job's failed and killed subjobs again (with --failed, only the failed ones)
    Resubmit {
        job: i64,
        #[arg(long)]
        failed: bool,
    },
}

#[derive(clap::Args)]
struct RunnerArgs {
    /// Subjobs run at once [default: the number of cores]
    #[arg(long)]
    slots: Option<u32>,
    /// The backend that runs the commands (local processes)
    #[arg(long, default_value = "local", value_parser = ["local"])]
    backend: String,
    /// GPUs this runner offers
    #[arg(long, default_value_t = 0)]
    gpus: u32,
    /// CPUs this runner offers [default: the number of cores]
    #[arg(long)]
    cpus: Option<u32>,
    /// Work directories go below this [default: a directory in the system's temporary directory]
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Keep each attempt's work directory
    #[arg(long)]
    keep: bool,
    /// This runner's name [default: HOST-PID]
    #[arg(long)]
    name: Option<String>,
}

impl RunnerArgs {
    fn config(&self) -> RunnerConfig {
        let work = self.work_dir.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("job-runner-{}", std::process::id()))
        });
        let mut cfg = RunnerConfig::local(self.slots, work);
        cfg.gpus = self.gpus;
        if let Some(c) = self.cpus {
            cfg.cpus = c;
        }
        if let Some(n) = &self.name {
            cfg.name = n.clone();
        }
        cfg.keep = self.keep;
        cfg
    }
}

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,job_runner=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("job-runner: cannot start: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(cli)) {
        eprintln!("job-runner: {e:#}");
        std::process::exit(1);
    }
}

/// Cancelled on ctrl-c or SIGTERM.
fn stop_signal() -> CancellationToken {
    let stop = CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
        }
        eprintln!("job-runner: stopping; running subjobs are stopped and will be retried");
        s.cancel();
    });
    stop
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let client = cli
        .credentials
        .client(&cli.server)
        .map_err(anyhow::Error::msg)?;
    match cli.command {
        Command::Submit { spec } => {
            let req = submit::read(&spec)?;
            let job = client.submit_job(&req).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&job)?);
            } else {
                println!(
                    "job {} submitted: {} subjobs, {} input files",
                    job.id, job.subjobs, job.inputs
                );
            }
            Ok(())
        }
        Command::Run { spec, runner } => {
            let req = submit::read(&spec)?;
            let job = client.submit_job(&req).await?;
            eprintln!(
                "job {} submitted: {} subjobs, {} input files",
                job.id, job.subjobs, job.inputs
            );
            let mut cfg = runner.config();
            cfg.only_job = Some(job.id);
            let bar = if std::io::stderr().is_terminal() {
                ProgressBar::new(job.subjobs as u64)
            } else {
                ProgressBar::hidden()
            };
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} subjobs {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let b = bar.clone();
            let on_finish: runner::OnFinish = Arc::new(move |lease, result| match result {
                Ok(r) if r.state == "done" => b.inc(1),
                Ok(r) => b.println(format!(
                    "subjob {} attempt {}: {}",
                    lease.subjob, lease.attempt, r.state
                )),
                Err(e) => b.println(format!("subjob {}: {e:#}", lease.subjob)),
            });
            let work = cfg.work.clone();
            let result = runner::work(client.clone(), cfg, stop_signal(), on_finish).await;
            bar.finish_and_clear();
            if runner.work_dir.is_none() && !runner.keep {
                let _ = std::fs::remove_dir_all(&work);
            }
            result?;
            let st = client.job(job.id).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&st)?);
            } else {
                submit::print_status(&st);
            }
            if st.job.state != "completed" {
                anyhow::bail!("job {} ended {}", job.id, st.job.state);
            }
            Ok(())
        }
        Command::Work { runner } => {
            let cfg = runner.config();
            eprintln!(
                "runner {} working: {} slots, {} cpus, {} gpus, in {}",
                cfg.name,
                cfg.slots,
                cfg.cpus,
                cfg.gpus,
                cfg.work.display()
            );
            let on_finish: runner::OnFinish = Arc::new(|lease, result| match result {
                Ok(r) => {
                    tracing::info!(job = lease.job, subjob = lease.subjob, attempt = lease.attempt, state = %r.state, "attempt finished")
                }
                Err(e) => {
                    tracing::warn!(job = lease.job, subjob = lease.subjob, error = %format!("{e:#}"), "attempt not reported")
                }
            });
            runner::work(client, cfg, stop_signal(), on_finish).await
        }
        Command::Status { job: None } | Command::Ls => {
            let jobs = client.jobs().await?.jobs;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&jobs)?);
            } else {
                submit::print_jobs(&jobs);
            }
            Ok(())
        }
        Command::Status { job: Some(id) } => {
            let st = client.job(id).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&st)?);
            } else {
                submit::print_status(&st);
            }
            Ok(())
        }
        Command::Logs { job, subjob } => {
            let st = client.job(job).await?;
            let logs: Vec<String> = st
                .subjobs
                .iter()
                .filter(|s| subjob.is_none_or(|n| n == s.subjob))
                .flat_map(|s| s.logs.clone())
                .collect();
            if logs.is_empty() {
                anyhow::bail!(
                    "job {job} has no logs yet{}",
                    subjob
                        .map(|s| format!(" for subjob {s}"))
                        .unwrap_or_default()
                );
            }
            let reps = client.replicas(&logs).await?.files;
            let tmp = std::env::temp_dir().join(format!("job-runner-logs-{}", std::process::id()));
            for f in reps {
                let r = f
                    .replicas
                    .first()
                    .with_context(|| format!("{} has no replica", f.lfn))?;
                catalog_core::transfer::download_file(
                    &client,
                    &r.se,
                    &r.pfn,
                    &tmp,
                    Default::default(),
                    catalog_core::transfer::no_progress(),
                )
                .await?;
                println!("==> {} <==", f.lfn);
                print!("{}", String::from_utf8_lossy(&std::fs::read(&tmp)?));
            }
            let _ = std::fs::remove_file(&tmp);
            Ok(())
        }
        Command::Kill { job } => {
            let j = client.kill_job(job).await?;
            println!("job {} {}", j.id, j.state);
            Ok(())
        }
        Command::Resubmit { job, failed } => {
            let j = client.resubmit_job(job, failed).await?;
            println!("job {} {}: {} subjobs", j.id, j.state, j.subjobs);
            Ok(())
        }
    }
}
