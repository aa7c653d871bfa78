//! `catalog-soak`: holds a fixed rate of mixed requests against the catalogue for minutes and
//! says whether it kept up: 70 % reads (stat, find, replicas, ancestors), 30 % writes
//! (register, metadata set, parent links), sent open-loop (request k leaves at start + k/rate
//! whether or not earlier ones came back, and its latency counts from then, so a stall shows
//! as the latency of every request it held up). The server's memory is sampled every second.
//! Fails (exit 1) on any error, on a rate not held, or on memory growth past `--max-growth`
//! after warm-up (memory's level being its mean over 30 s).

use anyhow::{bail, Context};
use catalog_bench::server::{start_server, status_mib, wait_healthy};
use catalog_bench::workload::{self, splitmix64, Workload};
use catalog_core::api::{
    FindRequest, NewField, NewFile, NewReplica, NewStorageElement, ParentLinks, RegisterRequest,
    SetMetadataRequest,
};
use catalog_core::meta::FieldType;
use catalog_core::Client;
use clap::Parser;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "catalog-soak",
    version,
    about = "Holds a fixed rate of mixed requests against a catalogue server for minutes, \
             sampling its memory, and fails on any error, a rate not held or memory growth"
)]
struct Cli {
    /// Requests per second to hold
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// How long to hold it
    #[arg(long, default_value_t = 600)]
    seconds: u64,
    /// The first seconds, after which memory's level (its mean over 30 s) must stay within
    /// --max-growth of its level then
    #[arg(long, default_value_t = 60)]
    warmup: u64,
    /// Largest memory growth allowed after warm-up, in percent
    #[arg(long, default_value_t = 10.0)]
    max_growth: f64,
    /// Files registered before the run (with 2 replicas, 4 typed fields and 4-file ancestry
    /// chains, as catalog-bench's workload). Enough that the database outgrows the server's
    /// caches during warm-up; with 10,000 the run grows the database sevenfold, and the
    /// SQLite page caches (up to 192 MiB) grow with it for minutes
    #[arg(long, default_value_t = 100_000)]
    files: usize,
    /// Requests allowed in flight at once; a request due when they are is counted an error
    #[arg(long, default_value_t = 2048)]
    max_in_flight: usize,
    /// Seed of the mix (which operation each request is, on which file)
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Database of the server started here (a postgres:// URL of an empty database); its
    /// embedded SQLite when absent
    #[arg(long)]
    database_url: Option<String>,
    /// Where to write the JSON results
    #[arg(long, default_value = "soak-results.json")]
    out: PathBuf,
}

/// The operations, and how many of every 100 requests are each.
const MIX: [(Op, u64); 7] = [
    (Op::Stat, 25),
    (Op::Find, 15),
    (Op::Replicas, 15),
    (Op::Ancestors, 15),
    (Op::Register, 10),
    (Op::SetMetadata, 10),
    (Op::AddParents, 10),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Stat,
    Find,
    Replicas,
    Ancestors,
    Register,
    SetMetadata,
    AddParents,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Stat => "stat",
            Op::Find => "find",
            Op::Replicas => "replicas",
            Op::Ancestors => "ancestors",
            Op::Register => "register",
            Op::SetMetadata => "metadata set",
            Op::AddParents => "parent links",
        }
    }

    fn is_write(self) -> bool {
        matches!(self, Op::Register | Op::SetMetadata | Op::AddParents)
    }

    /// The operation of draw `h` (uniform over u64).
    fn of(h: u64) -> Op {
        let mut x = h % 100;
        for (op, share) in MIX {
            if x < share {
                return op;
            }
            x -= share;
        }
        Op::Stat
    }
}

/// What the requests came to, shared by the tasks that send them.
#[derive(Default)]
struct Tally {
    /// Latency in microseconds from when each request was due, per operation.
    latencies: BTreeMap<Op, Vec<u32>>,
    errors: BTreeMap<String, u64>,
    /// Answers completed per second of the run.
    per_second: Vec<u64>,
}

struct Run {
    client: Client,
    wl: Workload,
    started: Instant,
    /// Files registered during the run, waiting for a parent link.
    unlinked: Mutex<Vec<String>>,
    registered: AtomicU64,
    in_flight: AtomicUsize,
    tally: Mutex<Tally>,
}

impl Run {
    async fn send(&self, k: u64, h: u64) -> Result<(), String> {
        let pick = |salt: u64| (splitmix64(h ^ salt) % self.wl.n as u64) as usize;
        let err = |e: catalog_core::client::ClientError| e.to_string();
        match Op::of(h) {
            Op::Stat => self
                .client
                .stat_path(&self.wl.lfn(pick(1)))
                .await
                .map(drop)
                .map_err(err),
            Op::Find => {
                let m = Workload::meta(pick(2));
                let req = FindRequest {
                    query: Some(format!(
                        "benchInt = {} and benchStr = \"tag{}\"",
                        m.int, m.string
                    )),
                    page_size: Some(100),
                    ..FindRequest::default()
                };
                self.client
                    .find_lfns_page(&req)
                    .await
                    .map(drop)
                    .map_err(err)
            }
            Op::Replicas => self
                .client
                .replicas(&[self.wl.lfn(pick(3))])
                .await
                .map(drop)
                .map_err(err),
            Op::Ancestors => {
                // The last generation of the chains: three ancestors each.
                let g = self.wl.generation(self.wl.chain_len - 1);
                let i = g.start + pick(4) % g.len().max(1);
                self.client
                    .ancestors(&[self.wl.lfn(i)], None)
                    .await
                    .map(drop)
                    .map_err(err)
            }
            Op::Register => {
                let lfn = format!("/soak/w{:04}/f{k:08}", k / 1000);
                let m = Workload::meta(k as usize);
                let file = NewFile {
                    replicas: vec![NewReplica {
                        se: workload::SES[0].to_owned(),
                        pfn: lfn.trim_start_matches('/').to_owned(),
                    }],
                    lfn: lfn.clone(),
                    size: 1_000 + k as i64,
                    adler32: format!("{:08x}", h >> 32),
                    md5: None,
                    sha256: None,
                    guid: None,
                    metadata: [
                        ("benchInt".to_owned(), json!(m.int)),
                        ("benchStr".to_owned(), json!(format!("tag{}", m.string))),
                        ("soakSeq".to_owned(), json!(k)),
                    ]
                    .into_iter()
                    .collect(),
                    parents: Vec::new(),
                };
                let req = RegisterRequest {
                    files: vec![file],
                    create_dirs: true,
                };
                self.client.register(&req).await.map_err(err)?;
                self.registered.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut u) = self.unlinked.lock() {
                    u.push(lfn);
                }
                Ok(())
            }
            Op::SetMetadata => {
                let req = SetMetadataRequest {
                    path: self.wl.lfn(pick(5)),
                    values: [("soakSeq".to_owned(), json!(k))].into_iter().collect(),
                };
                self.client.set_metadata(&req).await.map(drop).map_err(err)
            }
            Op::AddParents => {
                // A file registered during the run gets a parent from the preloaded ones (so
                // lineages stay shallow and acyclic); before there is one, a chain link is
                // given again (already there: nothing added).
                let child = self.unlinked.lock().ok().and_then(|mut u| u.pop());
                let link = match child {
                    Some(child) => ParentLinks {
                        child,
                        parents: vec![self.wl.lfn(pick(6))],
                    },
                    None => {
                        let g = self.wl.generation(1);
                        let i = g.start + pick(7) % g.len().max(1);
                        let parent = self
                            .wl
                            .ancestor_of(i)
                            .context("chain")
                            .map_err(|e| e.to_string())?;
                        ParentLinks {
                            child: self.wl.lfn(i),
                            parents: vec![self.wl.lfn(parent)],
                        }
                    }
                };
                self.client
                    .add_parents(vec![link])
                    .await
                    .map(drop)
                    .map_err(err)
            }
        }
    }

    fn record(&self, op: Op, due: Instant, outcome: Result<(), String>) {
        let latency = due.elapsed().as_micros().min(u32::MAX as u128) as u32;
        let second = self.started.elapsed().as_secs() as usize;
        let Ok(mut t) = self.tally.lock() else { return };
        if t.per_second.len() <= second {
            t.per_second.resize(second + 1, 0);
        }
        t.per_second[second] += 1;
        t.latencies.entry(op).or_default().push(latency);
        if let Err(e) = outcome {
            let kind = format!("{}: {}", op.name(), e.chars().take(200).collect::<String>());
            *t.errors.entry(kind).or_default() += 1;
        }
    }
}

/// The server's memory (VmRSS and RssAnon, MiB) every second.
#[derive(Default)]
struct Memory {
    /// Seconds since the start, VmRSS and RssAnon in MiB.
    samples: Vec<(f64, f64, f64)>,
    /// Per entry of [`HEAPS`]: seconds since the start and MiB, from the server's /metrics.
    heaps: BTreeMap<&'static str, Vec<(f64, f64)>>,
    /// Open database connections (all pools), sampled beside the memory: each one carries
    /// its own buffers and cache of prepared statements.
    connections: Vec<(f64, f64)>,
}

/// The heaps the server reports in /metrics, sampled beside its RSS: what the memory is made
/// of. Their key in the results, what the report calls them, and their sample line.
const HEAPS: [(&str, &str, &str); 3] = [
    (
        "sqlite_heap_samples",
        "SQLite's heap (page caches)",
        "catalog_sqlite_memory_bytes{state=\"now\"}",
    ),
    (
        "heap_in_use_samples",
        "malloc's heap in use",
        "catalog_heap_bytes{state=\"in_use\"}",
    ),
    (
        "heap_free_samples",
        "malloc's heap freed and kept",
        "catalog_heap_bytes{state=\"free\"}",
    ),
];

/// Open database connections, summed over the server's pools.
fn open_connections(page: &str) -> Option<f64> {
    let open: Vec<f64> = page
        .lines()
        .filter(|l| l.starts_with("catalog_db_connections{") && l.contains("state=\"open\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!open.is_empty()).then(|| open.iter().sum())
}

/// The value of one sample line of a Prometheus text page.
fn metric(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p / 100.0).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

fn latency_summary(mut v: Vec<u32>) -> Value {
    v.sort_unstable();
    let r = |x: f64| (x * 1000.0).round() / 1000.0;
    json!({
        "requests": v.len(),
        "p50_ms": r(percentile(&v, 50.0)), "p90_ms": r(percentile(&v, 90.0)),
        "p99_ms": r(percentile(&v, 99.0)), "p999_ms": r(percentile(&v, 99.9)),
        "max_ms": r(percentile(&v, 100.0)),
    })
}

/// Registers the preloaded files (2 replicas, 4 typed fields each) and their ancestry chains.
async fn preload(client: &Client, wl: &Workload, se_root: &std::path::Path) -> anyhow::Result<()> {
    for name in workload::SES {
        client
            .add_storage_element(&NewStorageElement::dir(
                name,
                &se_root.join(name).display().to_string(),
            ))
            .await
            .with_context(|| format!("cannot add storage element {name}"))?;
    }
    for (name, field_type) in [
        ("benchInt", FieldType::Int),
        ("benchFloat", FieldType::Float),
        ("benchStr", FieldType::String),
        ("benchDate", FieldType::Datetime),
        ("soakSeq", FieldType::Int),
    ] {
        client
            .declare_field(&NewField {
                name: name.into(),
                field_type,
                description: None,
            })
            .await?;
    }
    for start in (0..wl.n).step_by(1000) {
        let files = (start..(start + 1000).min(wl.n))
            .map(|i| wl.new_file(i))
            .collect();
        client
            .register(&RegisterRequest {
                files,
                create_dirs: true,
            })
            .await
            .with_context(|| format!("registering files {start}.."))?;
    }
    let links: Vec<ParentLinks> = (0..wl.n)
        .filter_map(|i| {
            Some(ParentLinks {
                child: wl.lfn(i),
                parents: vec![wl.lfn(wl.ancestor_of(i)?)],
            })
        })
        .collect();
    for chunk in links.chunks(1000) {
        client.add_parents(chunk.to_vec()).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.rate == 0 || cli.seconds == 0 || cli.warmup >= cli.seconds {
        bail!("--rate and --seconds must be positive, and --warmup shorter than --seconds");
    }
    if cli.files < 100 {
        bail!("--files must be at least 100");
    }
    let (server, url) = start_server(cli.database_url.as_deref())?;
    let pid = server.child.id().to_string();
    let db = if cli.database_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let client = Client::new(&url);
    wait_healthy(&client).await?;
    let wl = Workload::new(cli.files, (cli.files / 100).max(1), 4);
    let se_root = server.data_dir.join("soak-se");
    eprintln!("[catalog-soak] {db}: preloading {} files", cli.files);
    preload(&client, &wl, &se_root).await?;

    eprintln!(
        "[catalog-soak] {db}: {} requests/s for {} s (warm-up {} s), seed {}",
        cli.rate, cli.seconds, cli.warmup, cli.seed
    );
    let run = Arc::new(Run {
        client,
        wl,
        started: Instant::now(),
        unlinked: Mutex::new(Vec::new()),
        registered: AtomicU64::new(0),
        in_flight: AtomicUsize::new(0),
        tally: Mutex::new(Tally::default()),
    });
    let memory = Arc::new(Mutex::new(Memory::default()));
    let sampler = {
        let (memory, pid, started, client) =
            (memory.clone(), pid.clone(), run.started, run.client.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let t = started.elapsed().as_secs_f64();
                if let (Some(rss), Some(anon), Ok(mut m)) = (
                    status_mib(&pid, "VmRSS"),
                    status_mib(&pid, "RssAnon"),
                    memory.lock(),
                ) {
                    m.samples.push((t, rss, anon));
                }
                let page = client.metrics().await.unwrap_or_default();
                if let (Some(open), Ok(mut m)) = (open_connections(&page), memory.lock()) {
                    m.connections.push((t, open));
                }
                for (key, _, line) in HEAPS {
                    if let (Some(bytes), Ok(mut m)) = (metric(&page, line), memory.lock()) {
                        m.heaps
                            .entry(key)
                            .or_default()
                            .push((t, bytes / (1024.0 * 1024.0)));
                    }
                }
            }
        })
    };
    let total = cli.rate * cli.seconds;
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..total {
        let due = run.started + Duration::from_nanos(k * 1_000_000_000 / cli.rate);
        tokio::time::sleep_until(due.into()).await;
        let h = splitmix64(cli.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ k);
        let op = Op::of(h);
        if run.in_flight.load(Ordering::Relaxed) >= cli.max_in_flight {
            run.record(
                op,
                due,
                Err(format!("{} requests already in flight", cli.max_in_flight)),
            );
            continue;
        }
        run.in_flight.fetch_add(1, Ordering::Relaxed);
        let r = run.clone();
        tasks.spawn(async move {
            let outcome = r.send(k, h).await;
            r.record(op, due, outcome);
            r.in_flight.fetch_sub(1, Ordering::Relaxed);
        });
        while tasks.try_join_next().is_some() {}
        if k % (cli.rate * 30) == 0 && k > 0 {
            let errors: u64 = run
                .tally
                .lock()
                .map(|t| t.errors.values().sum())
                .unwrap_or(0);
            eprintln!(
                "[catalog-soak] {} s: {k} requests sent, {errors} errors, {} in flight",
                k / cli.rate,
                run.in_flight.load(Ordering::Relaxed)
            );
        }
    }
    while tasks.join_next().await.is_some() {}
    let wall = run.started.elapsed().as_secs_f64();
    sampler.abort();
    drop(server);

    let tally = std::mem::take(
        &mut *run
            .tally
            .lock()
            .map_err(|_| anyhow::anyhow!("tally poisoned"))?,
    );
    let (samples, heaps, connections) = {
        let m = memory
            .lock()
            .map_err(|_| anyhow::anyhow!("memory poisoned"))?;
        (m.samples.clone(), m.heaps.clone(), m.connections.clone())
    };
    let warm = cli.warmup as f64;
    // Memory is judged by its level, the mean over 30 s: single samples swing with the
    // requests in flight (a hiccup of 200 ms at 1,000 requests/s holds 200 more connections
    // and their buffers for a moment). Growth is the highest level after warm-up against the
    // level of warm-up's last 30 s; the highest single sample is reported beside it.
    const WINDOW: f64 = 30.0;
    let level = |from: f64, to: f64, pick: fn(&(f64, f64, f64)) -> f64| -> f64 {
        let v: Vec<f64> = samples
            .iter()
            .filter(|s| s.0 >= from && s.0 < to)
            .map(pick)
            .collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let most_after = |pick: fn(&(f64, f64, f64)) -> f64| -> f64 {
        samples
            .iter()
            .filter(|s| s.0 >= warm)
            .map(pick)
            .fold(0.0, f64::max)
    };
    let highest_level = |pick: fn(&(f64, f64, f64)) -> f64| -> f64 {
        samples
            .iter()
            .filter(|s| s.0 >= warm && s.0 + WINDOW <= wall + 1.0)
            .map(|s| level(s.0, s.0 + WINDOW, pick))
            .fold(0.0, f64::max)
    };
    let rss_warm = level(warm - WINDOW, warm, |s| s.1);
    let anon_warm = level(warm - WINDOW, warm, |s| s.2);
    let (rss_level, anon_level) = (highest_level(|s| s.1), highest_level(|s| s.2));
    let (rss_peak, anon_peak) = (most_after(|s| s.1), most_after(|s| s.2));
    let rss_end = level(wall - WINDOW, wall + 1.0, |s| s.1);
    let growth = |to: f64, from: f64| ((to / from - 1.0) * 1000.0).round() / 10.0;
    let (rss_growth, anon_growth) = (growth(rss_level, rss_warm), growth(anon_level, anon_warm));
    let round = |x: f64| (x * 10.0).round() / 10.0;

    let mut all: Vec<u32> = Vec::new();
    let (mut reads, mut writes) = (0usize, 0usize);
    let mut per_op = serde_json::Map::new();
    for (op, v) in &tally.latencies {
        all.extend(v);
        if op.is_write() {
            writes += v.len();
        } else {
            reads += v.len();
        }
        per_op.insert(op.name().into(), latency_summary(v.clone()));
    }
    let errors: u64 = tally.errors.values().sum();
    let steady = &tally.per_second[(cli.warmup as usize).min(tally.per_second.len())
        ..tally.per_second.len().saturating_sub(1)];
    let (slowest_second, fastest_second) = (
        steady.iter().copied().min().unwrap_or(0),
        steady.iter().copied().max().unwrap_or(0),
    );
    let achieved = all.len() as f64 / wall;
    let mut memory_doc = json!({
        "level_window_s": WINDOW,
        "rss_at_warmup": round(rss_warm), "rss_highest_level_after": round(rss_level),
        "rss_peak_sample_after": round(rss_peak), "rss_at_end": round(rss_end),
        "rss_growth_percent": rss_growth,
        "anon_at_warmup": round(anon_warm), "anon_highest_level_after": round(anon_level),
        "anon_peak_sample_after": round(anon_peak), "anon_growth_percent": anon_growth,
        "samples": samples.iter().step_by(10).map(|s| json!([s.0.round(), round(s.1), round(s.2)])).collect::<Vec<_>>(),
    });
    memory_doc["db_connections_samples"] = connections
        .iter()
        .step_by(10)
        .map(|s| json!([s.0.round(), s.1]))
        .collect();
    for (key, v) in &heaps {
        memory_doc[*key] = v
            .iter()
            .step_by(10)
            .map(|s| json!([s.0.round(), round(s.1)]))
            .collect();
    }
    let doc = json!({
        "database": db,
        "rate": cli.rate, "seconds": cli.seconds, "warmup_s": cli.warmup, "seed": cli.seed,
        "preloaded_files": cli.files,
        "mix": MIX.iter().map(|(op, share)| json!({"op": op.name(), "percent": share})).collect::<Vec<_>>(),
        "requests": all.len(), "reads": reads, "writes": writes,
        "files_registered": run.registered.load(Ordering::Relaxed),
        "achieved_per_s": (achieved * 10.0).round() / 10.0,
        "answers_per_second_after_warmup": {"min": slowest_second, "max": fastest_second},
        "errors": errors, "error_kinds": tally.errors,
        "latency": latency_summary(all),
        "latency_per_op": per_op,
        "memory_mib": memory_doc,
    });
    std::fs::write(&cli.out, serde_json::to_string_pretty(&doc)?)
        .with_context(|| format!("cannot write {}", cli.out.display()))?;
    let l = &doc["latency"];
    println!(
        "| {db} | {} req/s x {} s | {} ({} reads, {} writes) | {:.1} | {errors} | {} / {} / {} / {} | {:.0} -> {:.0} MiB ({:+.1} %), peak {:.0} | {:.0} -> {:.0} MiB ({:+.1} %), peak {:.0} |",
        cli.rate, cli.seconds, doc["requests"], reads, writes, achieved,
        l["p50_ms"], l["p90_ms"], l["p99_ms"], l["max_ms"],
        rss_warm, rss_level, rss_growth, rss_peak, anon_warm, anon_level, anon_growth, anon_peak
    );
    for (op, v) in doc["latency_per_op"].as_object().into_iter().flatten() {
        eprintln!(
            "[catalog-soak]   {op}: {} requests, p50 {} ms, p99 {} ms, max {} ms",
            v["requests"], v["p50_ms"], v["p99_ms"], v["max_ms"]
        );
    }
    for (key, what, _) in HEAPS {
        let Some(v) = heaps.get(key) else { continue };
        if let (Some(warmed), Some(last)) = (v.iter().find(|s| s.0 >= warm), v.last()) {
            eprintln!(
                "[catalog-soak]   {what}: {:.0} MiB at the end of warm-up, {:.0} MiB at the end",
                warmed.1, last.1
            );
        }
    }
    if let (Some(warmed), Some(last)) =
        (connections.iter().find(|s| s.0 >= warm), connections.last())
    {
        let most = connections.iter().map(|s| s.1).fold(0.0, f64::max);
        eprintln!(
            "[catalog-soak]   open database connections: {} at the end of warm-up, {} at the end, {most} at most",
            warmed.1, last.1
        );
    }
    let mut failures = Vec::new();
    if errors > 0 {
        failures.push(format!("{errors} errors: {:?}", tally.errors));
    }
    if achieved < cli.rate as f64 * 0.99 {
        failures.push(format!("held {achieved:.1} requests/s, not {}", cli.rate));
    }
    if rss_growth > cli.max_growth {
        failures.push(format!(
            "memory grew {rss_growth} % after warm-up (at most {} %)",
            cli.max_growth
        ));
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("; "));
    }
    Ok(())
}
