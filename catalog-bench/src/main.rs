//! `catalog-bench`: the DIRAC File Catalog benchmark kit's workload (`../shared/bench/dfc`,
//! ported bit for bit: SplitMix64 attributes, directory layout, 2 replicas, 4 typed fields,
//! 4-file ancestry chains, the same queries and samples), run through the catalogue's HTTP
//! API with the project's own client. Writes the kit's JSON layout, so the kit's `table.py`
//! puts both side by side, and prints a Markdown table with medians and 90th percentiles.

use anyhow::{bail, Context};
use catalog_bench::server::{peak_mib, sibling, start_server, status_mib, wait_healthy, Server};
use catalog_bench::workload::{self, Workload};
use catalog_core::api::{FindRequest, NewField, NewStorageElement, ParentLinks, RegisterRequest};
use catalog_core::meta::FieldType;
use catalog_core::Client;
use clap::Parser;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "catalog-bench", version, about)]
struct Cli {
    /// Files to register
    #[arg(long, default_value_t = 10_000)]
    files: usize,
    /// Leaf directories [default: files / 100, as the DFC kit]
    #[arg(long)]
    dirs: Option<usize>,
    /// Files per registration and parent-link call
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// LFNs per bulk read
    #[arg(long, default_value_t = 1000)]
    bulk: usize,
    /// Repetitions of each bulk read, query and listing
    #[arg(long, default_value_t = 10)]
    reps: usize,
    /// Repetitions of each single-LFN read
    #[arg(long, default_value_t = 50)]
    single_reps: usize,
    /// Files per ancestry chain
    #[arg(long, default_value_t = 4)]
    chain_len: usize,
    /// A running, empty server to measure; otherwise one is started from the
    /// `catalog-server` beside this binary on a fresh data directory
    #[arg(long)]
    server: Option<String>,
    /// Database of the server started here (a postgres:// URL of an empty database);
    /// its embedded SQLite when absent
    #[arg(long)]
    database_url: Option<String>,
    /// Afterwards, also register this many more files from a JSON-lines manifest with
    /// `catalog register --from` (the CLI beside this binary), measuring its peak memory
    #[arg(long, default_value_t = 0)]
    manifest_files: usize,
    /// Afterwards, load the server with wrk (2 threads, 2 connections per core) for this
    /// many seconds on `stat` of one file and on a selective `find`; 0 skips it
    #[arg(long, default_value_t = 0)]
    load_seconds: u64,
    /// Where to write the JSON results (the DFC kit's layout)
    #[arg(long, default_value = "bench-results.json")]
    out: PathBuf,
}

impl Cli {
    /// Repetitions of a read of `lfns` files: bulk or single.
    fn reps_for(&self, lfns: usize) -> usize {
        if lfns > 1 {
            self.reps
        } else {
            self.single_reps
        }
    }
}

/// Adds the kit's `lfns` and `lfns_per_s` to a read's summary; its median.
fn with_rate(s: &mut Map<String, Value>, lfns: usize) -> f64 {
    let median = s["median_ms"].as_f64().unwrap_or(f64::NAN);
    s.insert("lfns".into(), json!(lfns));
    s.insert(
        "lfns_per_s".into(),
        json!(round(lfns as f64 / (median / 1000.0), 1)),
    );
    median
}

/// The largest anonymous resident memory (heap, stacks, SQLite's page caches: what the
/// process itself holds, without the file pages it maps, which the kernel may drop) of a
/// process, sampled every 100 ms until dropped.
struct AnonPeak {
    peak_kib: std::sync::Arc<std::sync::atomic::AtomicU64>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl AnonPeak {
    fn watch(pid: String) -> AnonPeak {
        use std::sync::atomic::Ordering;
        let peak = AnonPeak {
            peak_kib: Default::default(),
            stop: Default::default(),
        };
        let (p, stop) = (peak.peak_kib.clone(), peak.stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(mib) = status_mib(&pid, "RssAnon") {
                    p.fetch_max((mib * 1024.0) as u64, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        peak
    }

    fn mib(&self) -> f64 {
        self.peak_kib.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1024.0
    }
}

impl Drop for AnonPeak {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Median, min, max and 90th percentile of samples in seconds, as the kit's keys.
fn summary(samples: &[f64]) -> Map<String, Value> {
    let mut ms: Vec<f64> = samples.iter().map(|s| s * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    let median = if ms.len() % 2 == 1 {
        ms[ms.len() / 2]
    } else {
        (ms[ms.len() / 2 - 1] + ms[ms.len() / 2]) / 2.0
    };
    let mut m = Map::new();
    m.insert("median_ms".into(), json!(round(median, 3)));
    m.insert("p90_ms".into(), json!(round(at(0.9), 3)));
    m.insert("min_ms".into(), json!(round(ms[0], 3)));
    m.insert("max_ms".into(), json!(round(ms[ms.len() - 1], 3)));
    m.insert("reps".into(), json!(ms.len()));
    m
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Runs `f` `reps` times, each on the repetition's sample; the kit's summary plus `extra`.
async fn repeat<F, Fut>(reps: usize, mut f: F) -> anyhow::Result<(Map<String, Value>, usize)>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(Duration, usize)>>,
{
    let mut samples = Vec::with_capacity(reps);
    let mut count = 0;
    for r in 0..reps {
        let (t, c) = f(r).await?;
        samples.push(t.as_secs_f64());
        count = c;
    }
    Ok((summary(&samples), count))
}

/// The kit's bulk-read sample: `count` files spread over [lo, hi), shifted per repetition.
fn lfns(wl: &Workload, count: usize, rep: usize, lo: usize, hi: usize) -> Vec<String> {
    wl.sample(count, rep * 7919, lo, hi)
        .into_iter()
        .map(|i| wl.lfn(i))
        .collect()
}

struct Bench<'a> {
    client: Client,
    wl: Workload,
    cli: &'a Cli,
    errors: Vec<String>,
}

impl Bench<'_> {
    fn log(&self, msg: &str) {
        eprintln!("[catalog-bench] {msg}");
    }

    async fn storage_elements(&self, root: &Path) -> anyhow::Result<()> {
        for name in workload::SES {
            self.client
                .add_storage_element(&NewStorageElement::dir(
                    name,
                    &root.join(name).display().to_string(),
                ))
                .await
                .with_context(|| format!("cannot add storage element {name}"))?;
        }
        Ok(())
    }

    async fn meta_index_create(&self) -> anyhow::Result<Value> {
        let mut out = Map::new();
        for (name, field_type, dfc_type) in [
            ("benchInt", FieldType::Int, "INT"),
            ("benchFloat", FieldType::Float, "FLOAT"),
            ("benchStr", FieldType::String, "VARCHAR(128)"),
            ("benchDate", FieldType::Datetime, "DATETIME"),
        ] {
            let t = Instant::now();
            self.client
                .declare_field(&NewField {
                    name: name.into(),
                    field_type,
                    description: None,
                })
                .await?;
            out.insert(
                name.into(),
                json!({"type": dfc_type, "ms": round(t.elapsed().as_secs_f64() * 1000.0, 2)}),
            );
        }
        Ok(Value::Object(out))
    }

    /// Registers the N files, each with 2 replicas, a checksum and its 4 typed fields, in
    /// calls of `batch` files: the kit's addFile and setMetadataBulk in one step.
    async fn add_files(&self) -> anyhow::Result<(Value, Value)> {
        let (n, batch) = (self.wl.n, self.cli.batch);
        self.log(&format!(
            "addFile: {n} files in {} dirs, batch {batch}",
            self.wl.d
        ));
        let mut per_batch = Vec::new();
        let all = Instant::now();
        for start in (0..n).step_by(batch) {
            let files = (start..(start + batch).min(n))
                .map(|i| self.wl.new_file(i))
                .collect();
            let t = Instant::now();
            self.client
                .register(&RegisterRequest {
                    files,
                    create_dirs: true,
                })
                .await
                .with_context(|| format!("registering files {start}.."))?;
            per_batch.push(t.elapsed().as_secs_f64());
        }
        let total = all.elapsed().as_secs_f64();
        let s = summary(&per_batch);
        let rate = round(n as f64 / total, 1);
        let add = json!({
            "files": n, "replicas_per_file": 2, "batch": batch,
            "total_s": round(total, 3), "files_per_s": rate,
            "batch_median_ms": s["median_ms"], "batch_p90_ms": s["p90_ms"],
            "first_batch_ms": round(per_batch[0] * 1000.0, 2),
            "last_batch_ms": round(per_batch[per_batch.len() - 1] * 1000.0, 2),
            "metadata_fields_per_file": 4,
        });
        let meta = json!({
            "files": n, "fields_per_file": 4, "batch": batch, "total_s": round(total, 3),
            "files_per_s": rate, "values_per_s": round(4.0 * n as f64 / total, 1),
            "set_in": "addFile (the same call registers the files with their metadata)",
        });
        self.log(&format!("  {rate} files/s"));
        Ok((add, meta))
    }

    async fn queries(&mut self) -> anyhow::Result<Value> {
        let mut out = Map::new();
        for q in workload::QUERIES {
            let req = FindRequest {
                query: Some(q.text.to_owned()),
                page_size: Some(10_000),
                ..Default::default()
            };
            // The LFNs, as the DFC's findFilesByMetadata answers.
            let (mut s, hits) = repeat(self.cli.reps, |_| async {
                let t = Instant::now();
                let hits = self.client.find_lfns(&req, |_| {}).await?.len();
                Ok((t.elapsed(), hits))
            })
            .await
            .with_context(|| format!("query {}", q.text))?;
            // And the whole records (size, checksums, owner, dates...), for comparison.
            let (records, _) = repeat(self.cli.reps, |_| async {
                let t = Instant::now();
                let hits = self.client.find_all(&req, |_| {}).await?.len();
                Ok((t.elapsed(), hits))
            })
            .await
            .with_context(|| format!("query {} (records)", q.text))?;
            s.insert("returns".into(), json!("LFNs"));
            s.insert("records_median_ms".into(), records["median_ms"].clone());
            let expected = self.wl.expected_hits(q.matches);
            if hits != expected {
                self.errors
                    .push(format!("{}: {hits} hits, expected {expected}", q.name));
            }
            s.insert("conditions".into(), json!(q.conditions));
            s.insert("query".into(), json!(q.text));
            s.insert("hits".into(), json!(hits));
            s.insert("expected_hits".into(), json!(expected));
            self.log(&format!("  {}: {hits} hits, {} ms", q.name, s["median_ms"]));
            out.insert(q.name.into(), Value::Object(s));
        }
        Ok(Value::Object(out))
    }

    /// Each non-root file gets its direct ancestor, generation by generation.
    async fn add_ancestors(&self) -> anyhow::Result<Value> {
        let (wl, batch) = (&self.wl, self.cli.batch);
        let mut links = 0usize;
        let mut per_gen = Vec::new();
        let all = Instant::now();
        for k in 1..wl.chain_len {
            let t = Instant::now();
            let gen: Vec<usize> = wl.generation(k).collect();
            for part in gen.chunks(batch) {
                let req: Vec<ParentLinks> = part
                    .iter()
                    .map(|&i| ParentLinks {
                        child: wl.lfn(i),
                        parents: vec![wl.lfn(wl.ancestor_of(i).expect("non-root"))],
                    })
                    .collect();
                self.client.add_parents(req).await?;
                links += part.len();
            }
            per_gen.push(round(t.elapsed().as_secs_f64(), 3));
        }
        let total = all.elapsed().as_secs_f64();
        let rate = round(links as f64 / total, 1);
        self.log(&format!("  addFileAncestors: {rate} links/s"));
        // The catalogue stores direct links only and walks them on reads.
        Ok(json!({
            "chain_len": wl.chain_len, "links": links, "ancestor_rows": links, "batch": batch,
            "total_s": round(total, 3), "links_per_s": rate, "rows_per_s": rate,
            "per_generation_s": per_gen,
        }))
    }

    async fn relatives(&mut self) -> anyhow::Result<Value> {
        let (l, g) = (self.wl.chain_len, self.wl.gen_size);
        let last = (l - 1) * g;
        let b = self.cli.bulk;
        let mut out = Map::new();
        let all = catalog_core::api::MAX_DEPTH;
        let runs: [(String, bool, usize, usize, usize, u32); 7] = [
            (
                format!("getFileAncestors_bulk{b}_all"),
                true,
                last,
                b,
                l - 1,
                all,
            ),
            (
                format!("getFileAncestors_bulk{b}_depth1"),
                true,
                last,
                b,
                1,
                1,
            ),
            (
                "getFileAncestors_single_all".into(),
                true,
                last,
                1,
                l - 1,
                all,
            ),
            ("getFileAncestors_single_depth1".into(), true, last, 1, 1, 1),
            (
                format!("getFileDescendents_bulk{b}_all"),
                false,
                0,
                b,
                l - 1,
                all,
            ),
            (
                format!("getFileDescendents_bulk{b}_depth1"),
                false,
                0,
                b,
                1,
                1,
            ),
            (
                "getFileDescendents_single_all".into(),
                false,
                0,
                1,
                l - 1,
                all,
            ),
        ];
        for (name, up, lo, count, per_lfn, depth) in runs {
            let count = count.min(g);
            let reps = self.cli.reps_for(count);
            let wl = &self.wl;
            let client = &self.client;
            let (mut s, relatives) = repeat(reps, |r| async move {
                let sample = lfns(wl, count, r, lo, lo + g);
                let t = Instant::now();
                let res = if up {
                    client.ancestors(&sample, Some(depth)).await?
                } else {
                    client.descendants(&sample, Some(depth)).await?
                };
                let took = t.elapsed();
                Ok((took, res.files.iter().map(|f| f.relatives.len()).sum()))
            })
            .await
            .with_context(|| name.clone())?;
            if relatives != per_lfn * count {
                self.errors.push(format!(
                    "{name}: {relatives} relatives, expected {}",
                    per_lfn * count
                ));
            }
            let median = with_rate(&mut s, count);
            s.insert("relatives".into(), json!(relatives));
            self.log(&format!("  {name}: {median} ms ({relatives} relatives)"));
            out.insert(name, Value::Object(s));
        }
        Ok(Value::Object(out))
    }

    async fn bulk_reads(&mut self) -> anyhow::Result<Value> {
        #[derive(Clone, Copy)]
        enum Read {
            Replicas,
            Stat,
            Metadata,
        }
        let b = self.cli.bulk;
        let n = self.wl.n;
        let mut out = Map::new();
        let runs = [
            (format!("getReplicas_bulk{b}"), Read::Replicas, b),
            ("getReplicas_single".into(), Read::Replicas, 1),
            (format!("getFileMetadata_bulk{b}"), Read::Stat, b),
            ("getFileMetadata_single".into(), Read::Stat, 1),
            (format!("exists_bulk{b}"), Read::Stat, b),
            (format!("userMetadata_bulk{b}"), Read::Metadata, b),
            ("userMetadata_single".into(), Read::Metadata, 1),
        ];
        for (name, read, count) in runs {
            let reps = self.cli.reps_for(count);
            let wl = &self.wl;
            let client = &self.client;
            let (mut s, items) = repeat(reps, |r| async move {
                let sample = lfns(wl, count, r, 0, n);
                let t = Instant::now();
                // Each answer is checked: 2 replicas, a stat, 4 fields per file.
                let (took, items) = match read {
                    Read::Replicas => {
                        let res = client.replicas(&sample).await?;
                        let took = t.elapsed();
                        if let Some(f) = res.files.iter().find(|f| f.replicas.len() != 2) {
                            bail!("{} has {} replicas", f.lfn, f.replicas.len());
                        }
                        (took, res.files.len())
                    }
                    Read::Stat => {
                        let res = client.stat_files(&sample).await?;
                        (t.elapsed(), res.files.len())
                    }
                    Read::Metadata => {
                        let res = client.metadata(&sample).await?;
                        let took = t.elapsed();
                        if let Some(f) = res.files.iter().find(|f| f.entries.len() != 4) {
                            bail!("{} has {} metadata entries", f.path, f.entries.len());
                        }
                        (took, res.files.len())
                    }
                };
                Ok((took, items))
            })
            .await
            .with_context(|| name.clone())?;
            if items != count {
                self.errors
                    .push(format!("{name}: {items} answers for {count} LFNs"));
            }
            let median = with_rate(&mut s, count);
            self.log(&format!("  {name}: {median} ms"));
            out.insert(name, Value::Object(s));
        }
        Ok(Value::Object(out))
    }

    /// One leaf directory listed, 10 different directories per form. The listing always
    /// carries each file's size, checksum, status and dates (the DFC's verbose form); the
    /// two rows are measured separately for the side-by-side table.
    async fn list_directory(&self) -> anyhow::Result<Value> {
        let mut out = Map::new();
        for name in ["listDirectory", "listDirectory_verbose"] {
            let (mut s, files) = repeat(self.cli.reps.max(10), |r| async move {
                let path = self.wl.dir_path((r * 7919) % self.wl.d);
                let t = Instant::now();
                let page = self.client.list_page(&path, false, None, None).await?;
                Ok((t.elapsed(), page.entries.len()))
            })
            .await?;
            s.insert("files_in_dir".into(), json!(files));
            s.insert("files_per_dir_nominal".into(), json!(self.wl.n / self.wl.d));
            self.log(&format!("  {name}: {files} files, {} ms", s["median_ms"]));
            out.insert(name.into(), Value::Object(s));
        }
        Ok(Value::Object(out))
    }

    /// Registers `m` more files from a manifest with the CLI; its throughput and peak memory.
    async fn manifest(&self, url: &str, m: usize) -> anyhow::Result<Value> {
        let dir = tempfile_dir("catalog-bench-manifest")?;
        let path = dir.join("manifest.jsonl");
        {
            use std::io::Write;
            let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
            for i in 0..m {
                serde_json::to_writer(&mut w, &self.wl.manifest_line(i))?;
                w.write_all(b"\n")?;
            }
        }
        let cli = sibling("catalog")?;
        self.log(&format!(
            "register --from: {m} files through {}",
            cli.display()
        ));
        let t = Instant::now();
        let status = Command::new(&cli)
            .args(["--server", url, "register", "-p", "--from"])
            .arg(&path)
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("cannot run {}", cli.display()))?;
        let total = t.elapsed().as_secs_f64();
        if !status.success() {
            bail!("catalog register --from failed: {status}");
        }
        let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)?;
        let _ = std::fs::remove_dir_all(&dir);
        let rate = round(m as f64 / total, 1);
        self.log(&format!("  {rate} files/s"));
        Ok(json!({
            "files": m, "total_s": round(total, 3), "files_per_s": rate,
            "cli_peak_mib": round(usage.max_rss() as f64 / 1024.0, 1),
        }))
    }
}

/// The selective query of the load step: about N / 10,000 hits.
const SELECTIVE: &str = "benchInt = 500 and benchStr = \"tag3\"";

/// Requests per second and latency percentiles from wrk, for a GET of `path` or a POST of
/// `body` to it.
fn load(url: &str, path: &str, body: Option<&str>, seconds: u64) -> anyhow::Result<Value> {
    let dir = tempfile_dir("catalog-bench-wrk")?;
    let script = dir.join("request.lua");
    let lua = match body {
        Some(b) => format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = {}\n",
            serde_json::to_string(b)?
        ),
        None => String::new(),
    };
    std::fs::write(&script, lua)?;
    let connections = 2 * std::thread::available_parallelism().map_or(1, |n| n.get());
    let out = Command::new("wrk")
        .args(["--latency", "-t2"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("-s")
        .arg(&script)
        .arg(format!("{url}{path}"))
        .output()
        .context("cannot run wrk (install it: apt-get install wrk)")?;
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() || text.contains("Non-2xx") {
        bail!(
            "wrk failed or saw errors:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let field = |prefix: &str| -> Option<String> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .map(|v| v.trim().to_owned())
    };
    let millis = |v: Option<String>| -> Option<f64> {
        let v = v?;
        let (num, factor) = if let Some(x) = v.strip_suffix("us") {
            (x, 0.001)
        } else if let Some(x) = v.strip_suffix("ms") {
            (x, 1.0)
        } else {
            (v.strip_suffix('s')?, 1000.0)
        };
        num.parse::<f64>().ok().map(|n| round(n * factor, 3))
    };
    Ok(json!({
        "connections": connections, "seconds": seconds,
        "requests_per_s": field("Requests/sec:").and_then(|v| v.parse::<f64>().ok()),
        "p50_ms": millis(field("50%")), "p90_ms": millis(field("90%")), "p99_ms": millis(field("99%")),
    }))
}

fn tempfile_dir(prefix: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Bytes of the database on disk: the SQLite files, or PostgreSQL's pg_database_size.
fn database_mib(server: Option<&Server>, database_url: Option<&str>) -> Option<f64> {
    match database_url {
        Some(u) if u.starts_with("postgres") => {
            let out = Command::new("psql")
                .args([u, "-tAc", "SELECT pg_database_size(current_database())"])
                .output()
                .ok()?;
            let bytes: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
            Some(round(bytes / 1048576.0, 2))
        }
        Some(_) => None,
        None => {
            let dir = &server?.data_dir;
            let bytes: u64 = ["catalog.db", "catalog.db-wal", "catalog.db-shm"]
                .iter()
                .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
                .map(|m| m.len())
                .sum();
            Some(round(bytes as f64 / 1048576.0, 2))
        }
    }
}

fn machine() -> Value {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    json!({
        "nproc": nproc, "mem_gib": round(mem_kb / 1048576.0, 1), "cpu": cpu,
        "platform": format!("{} {}", std::env::consts::OS, kernel.trim()),
    })
}

fn print_table(results: &Map<String, Value>, header: &str) {
    println!("{header}");
    println!();
    println!("| operation | median | p90 | rate | hits |");
    println!("|---|---:|---:|---:|---:|");
    let ms = |v: &Value| v.as_f64().map_or("-".into(), |v| format!("{v:.2} ms"));
    let add = &results["addFile"];
    println!(
        "| register files with 2 replicas, a checksum and 4 typed fields | {} / batch | {} / batch | {} files/s | {} |",
        ms(&add["batch_median_ms"]),
        ms(&add["batch_p90_ms"]),
        add["files_per_s"],
        add["files"]
    );
    let anc = &results["addFileAncestors"];
    println!(
        "| add parent links | - | - | {} links/s | {} |",
        anc["links_per_s"], anc["links"]
    );
    for group in [
        "findFilesByMetadata",
        "ancestry_queries",
        "bulk_reads",
        "listDirectory",
    ] {
        for (name, v) in object(results[group].clone()) {
            let label = v["query"]
                .as_str()
                .map_or(name.clone(), |q| format!("{name}: `{q}`"));
            let hits = ["hits", "relatives", "files_in_dir", "lfns"]
                .iter()
                .find_map(|k| v.get(*k))
                .map_or("-".into(), |h| h.to_string());
            println!(
                "| {label} | {} | {} | - | {hits} |",
                ms(&v["median_ms"]),
                ms(&v["p90_ms"])
            );
        }
    }
    if let Some(h) = results.get("http_load") {
        for (name, v) in object(h.clone()) {
            println!(
                "| HTTP load, {name} ({} connections, {} s): p50 / p90 / p99 {} / {} / {} ms | {} | {} | {} req/s | - |",
                v["connections"], v["seconds"], v["p50_ms"], v["p90_ms"], v["p99_ms"],
                ms(&v["p50_ms"]), ms(&v["p90_ms"]), v["requests_per_s"]
            );
        }
    }
    if let Some(m) = results.get("registerManifest") {
        println!(
            "| catalog register --from manifest (CLI) | - | - | {} files/s | {} |",
            m["files_per_s"], m["files"]
        );
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.files < cli.chain_len || cli.chain_len < 2 {
        bail!("--files must be at least --chain-len, and --chain-len at least 2");
    }
    let started = Instant::now();
    let started_utc = chrono::Utc::now().to_rfc3339();
    let (server, url) = match &cli.server {
        Some(u) => (None, u.clone()),
        None => {
            let (s, u) = start_server(cli.database_url.as_deref())?;
            (Some(s), u)
        }
    };
    let client = Client::new(&url);
    wait_healthy(&client).await?;
    let dirs = cli.dirs.unwrap_or((cli.files / 100).max(1));
    let anon = server
        .as_ref()
        .map(|s| AnonPeak::watch(s.child.id().to_string()));
    let mut bench = Bench {
        client,
        wl: Workload::new(cli.files, dirs, cli.chain_len),
        cli: &cli,
        errors: Vec::new(),
    };
    let se_root = tempfile_dir("catalog-bench-se")?;
    bench.storage_elements(&se_root).await?;
    let mut results = Map::new();
    results.insert("meta_index_create".into(), bench.meta_index_create().await?);
    let (add, meta) = bench.add_files().await?;
    results.insert("addFile".into(), add);
    results.insert("setMetadataBulk".into(), meta);
    results.insert("findFilesByMetadata".into(), bench.queries().await?);
    results.insert("addFileAncestors".into(), bench.add_ancestors().await?);
    results.insert("ancestry_queries".into(), bench.relatives().await?);
    results.insert("bulk_reads".into(), bench.bulk_reads().await?);
    results.insert("listDirectory".into(), bench.list_directory().await?);
    let database_mib = database_mib(server.as_ref(), cli.database_url.as_deref());
    if cli.manifest_files > 0 {
        let m = bench.manifest(&url, cli.manifest_files).await?;
        results.insert("registerManifest".into(), m);
    }
    if cli.load_seconds > 0 {
        let stat = format!(
            "/api/v1/namespace/stat?path={}",
            bench.wl.lfn(cli.files / 2).replace('/', "%2F")
        );
        let find = json!({"query": SELECTIVE}).to_string();
        let find_path = "/api/v1/find/lfns";
        bench.log(&format!("wrk: stat and find, {} s each", cli.load_seconds));
        let mut http = Map::new();
        http.insert("stat".into(), load(&url, &stat, None, cli.load_seconds)?);
        let mut f = object(load(&url, find_path, Some(&find), cli.load_seconds)?);
        f.insert("query".into(), json!(SELECTIVE));
        f.insert("endpoint".into(), json!(find_path));
        http.insert("find".into(), Value::Object(f));
        results.insert("http_load".into(), Value::Object(http));
    }
    let server_pid = server.as_ref().map(|s| s.child.id().to_string());
    let db = match cli.database_url.as_deref() {
        Some(u) if u.starts_with("postgres") => "postgres",
        Some(_) => "sqlite",
        None if cli.server.is_some() => "unknown",
        None => "sqlite",
    };
    let doc = json!({
        "kit": "catalog-bench (port of the dfc-bench workload)",
        "implementation": format!("catalog-{db} (catalog-server {} over its HTTP API, one client)", env!("CARGO_PKG_VERSION")),
        "started_utc": started_utc,
        "wall_s": round(started.elapsed().as_secs_f64(), 1),
        "machine": machine(),
        "params": {
            "files": cli.files, "dirs": dirs, "profile": db, "batch": cli.batch, "bulk": cli.bulk,
            "reps": cli.reps, "single_reps": cli.single_reps, "chain_len": cli.chain_len,
            "db": if db == "postgres" { "PostgreSQL on 127.0.0.1" } else { "embedded SQLite" },
            "server": url,
        },
        "results": results,
        "db_stats": {"size_mib_total": database_mib},
        "memory": {
            "server_peak_mib": server_pid.as_deref().and_then(peak_mib).map(|v| round(v, 1)),
            "server_peak_anon_mib": anon.as_ref().map(|a| round(a.mib(), 1)),
            "client_peak_mib": peak_mib("self").map(|v| round(v, 1)),
        },
        "errors": bench.errors,
    });
    drop(server);
    let _ = std::fs::remove_dir_all(&se_root);
    std::fs::write(&cli.out, serde_json::to_string_pretty(&doc)?)
        .with_context(|| format!("cannot write {}", cli.out.display()))?;
    print_table(
        &object(doc["results"].clone()),
        &format!(
            "catalog-bench: {} files in {dirs} directories, {db}; server peak {} MiB ({} MiB anonymous), client peak {} MiB, database {} MiB",
            cli.files,
            doc["memory"]["server_peak_mib"],
            doc["memory"]["server_peak_anon_mib"],
            doc["memory"]["client_peak_mib"],
            doc["db_stats"]["size_mib_total"]
        ),
    );
    let errors = doc["errors"].as_array().map_or(0, Vec::len);
    if errors > 0 {
        bail!("{errors} check(s) failed: {}", doc["errors"]);
    }
    Ok(())
}
