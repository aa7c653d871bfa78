//! Jobs and subjobs: submission (spec checked, inputs selected by query and split), the
//! runner protocol (claim with a lease, heartbeat, finish), and what users do with jobs
//! (status, kill, resubmit). The state lives in the catalogue database, so any runner on any
//! machine can take work.

use base64::Engine;
use catalog_core::api::{FindRequest, RegisterRequest};
use catalog_core::job::{
    AttemptInfo, ClaimRequest, FinishRequest, FinishResponse, HeartbeatRequest, HeartbeatResponse,
    JobInfo, JobSpec, JobStatus, Lease, LeaseRef, LeasedInput, SubjobInfo, SubmitRequest,
};
use catalog_core::meta::MetaValue;
use catalog_core::query::{Expr, Query};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use std::collections::{BTreeMap, HashMap};

use crate::db::schema::{files, jobs, subjob_attempts, subjob_files, subjob_inputs, subjobs};
use crate::db::{rows_per_statement, DbConn};
use crate::error::{Error, Result};
use crate::files::FileRow;
use crate::namespace::now;
use crate::query::{Bind, Compiler};
use crate::{metadata, replicas};

/// Largest total size of the files a job ships.
pub const MAX_SANDBOX_BYTES: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = jobs)]
pub struct JobRow {
    pub id: i64,
    pub name: String,
    pub spec: String,
    pub sandbox: String,
    pub query: String,
    pub watch: bool,
    pub state: String,
    pub owner: String,
    pub created: NaiveDateTime,
    pub modified: NaiveDateTime,
    /// When a scheduled job runs next.
    pub next_run: Option<NaiveDateTime>,
}

impl JobRow {
    fn spec(&self) -> Result<JobSpec> {
        serde_json::from_str(&self.spec)
            .map_err(|e| Error::Internal(format!("job {}: stored spec: {e}", self.id)))
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = subjobs)]
pub struct SubjobRow {
    pub id: i64,
    pub job_id: i64,
    pub number: i64,
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub cpus: i32,
    pub memory: i64,
    pub gpus: i32,
    pub runner: Option<String>,
    pub token: Option<String>,
    pub lease_expires: Option<NaiveDateTime>,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

/// Subjob states. `blocked` is the merge step before every other subjob is done.
pub mod state {
    pub const WAITING: &str = "waiting";
    pub const BLOCKED: &str = "blocked";
    pub const RUNNING: &str = "running";
    pub const DONE: &str = "done";
    pub const FAILED: &str = "failed";
    pub const KILLED: &str = "killed";
}

/// The query a job's input names.
fn input_query(conn: &mut DbConn, spec: &JobSpec) -> Result<Query> {
    match (&spec.input.query, &spec.input.dataset) {
        (Some(q), None) => {
            crate::query::read_request(conn, &FindRequest::text(q)).map_err(|e| match e {
                Error::Query {
                    message,
                    line,
                    column,
                } => Error::Query {
                    message: format!("input.query: {message}"),
                    line,
                    column,
                },
                e => e,
            })
        }
        (None, Some(d)) => {
            let q = Query {
                filter: Expr::Dataset { name: d.clone() },
                order: Vec::new(),
                limit: None,
            };
            crate::query::count(conn, &crate::auth::Caller::local(), &q)?;
            Ok(q)
        }
        _ => Err(Error::bad("input: give 'query' or 'dataset'")),
    }
}

/// Checks a submission against the catalogue: fields, types, query, sandbox.
fn check_submission(conn: &mut DbConn, req: &SubmitRequest) -> Result<Query> {
    let spec = &req.spec;
    let fields = metadata::list_fields(conn)?;
    let declared: HashMap<String, catalog_core::FieldType> = fields
        .iter()
        .map(|f| (f.name.clone(), f.field_type))
        .collect();
    spec.check(&|f| declared.contains_key(f))
        .map_err(Error::bad)?;
    // Static output metadata must already have the declared type of its field.
    let statics = spec
        .outputs
        .iter()
        .enumerate()
        .flat_map(|(n, o)| {
            o.metadata
                .iter()
                .map(move |(k, v)| (format!("output[{n}].metadata.{k}"), k, v))
        })
        .chain(spec.merge.iter().flat_map(|m| {
            m.output
                .metadata
                .iter()
                .map(|(k, v)| ("merge.output.metadata".to_owned() + "." + k, k, v))
        }));
    for (at, k, v) in statics {
        let templated = v.as_str().is_some_and(|s| s.contains('{'));
        if let (Some(ty), false) = (declared.get(k), templated) {
            MetaValue::from_json_typed(k, *ty, v).map_err(|e| Error::bad(format!("{at}: {e}")))?;
        }
    }
    let mut total = 0;
    for f in &spec.run.files {
        let name = std::path::Path::new(f)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(f);
        let Some(content) = req.sandbox.get(name) else {
            return Err(Error::bad(format!(
                "run.files: {f} was not sent with the job"
            )));
        };
        total += base64::engine::general_purpose::STANDARD
            .decode(content)
            .map_err(|e| Error::bad(format!("run.files: {f}: not base64: {e}")))?
            .len();
    }
    if total > MAX_SANDBOX_BYTES {
        return Err(Error::TooLarge(format!(
            "run.files: {total} bytes shipped; at most {MAX_SANDBOX_BYTES} (put large inputs in the catalogue instead)"
        )));
    }
    input_query(conn, spec)
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// The ids of the files matching `q` in path order, optionally only among `among`.
fn matching(conn: &mut DbConn, q: &Query, among: Option<&[i64]>) -> Result<Vec<i64>> {
    let mut c = Compiler::new(conn);
    c.sql.push("SELECT f.id AS id FROM files f WHERE ");
    if let Some(ids) = among {
        c.sql.push("f.id IN (");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                c.sql.push(", ");
            }
            c.sql.bind(Bind::Int(*id));
        }
        c.sql.push(") AND ");
    }
    c.predicate(&q.filter, "f")?;
    c.sql.push(" ORDER BY f.path");
    Ok(c.sql
        .load::<IdRow>(c.conn)?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

/// Splits input files into subjobs: `files_per_subjob` at a time, or one group per value of
/// `group_by` (files lacking the field form their own group, last).
fn split(conn: &mut DbConn, spec: &JobSpec, ids: Vec<i64>) -> Result<Vec<Vec<i64>>> {
    if let Some(field) = &spec.input.group_by {
        let rows = crate::files::by_ids(conn, &ids)?;
        let metas = metadata::effective(conn, &rows)?;
        let mut groups: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for (r, m) in rows.iter().zip(metas) {
            let key = m
                .entries
                .iter()
                .find(|e| &e.field == field)
                .map_or_else(|| "\u{10FFFF}".to_owned(), |e| e.value.to_string());
            groups.entry(key).or_default().push(r.id);
        }
        return Ok(groups.into_values().collect());
    }
    let per = spec.input.files_per_subjob.unwrap_or(1) as usize;
    Ok(ids.chunks(per).map(<[i64]>::to_vec).collect())
}

/// Inserts subjobs numbered from `first` for `groups` of input files.
fn add_subjobs(
    conn: &mut DbConn,
    job: i64,
    spec: &JobSpec,
    first: i64,
    groups: &[Vec<i64>],
) -> Result<()> {
    let t = now();
    let memory = spec.memory().map_err(Error::bad)? as i64;
    for (i, group) in groups.iter().enumerate() {
        let id: i64 = diesel::insert_into(subjobs::table)
            .values((
                subjobs::job_id.eq(job),
                subjobs::number.eq(first + i as i64),
                subjobs::state.eq(state::WAITING),
                subjobs::attempts.eq(0),
                subjobs::max_attempts.eq(spec.run.max_attempts as i32),
                subjobs::cpus.eq(spec.run.resources.cpus as i32),
                subjobs::memory.eq(memory),
                subjobs::gpus.eq(spec.run.resources.gpus as i32),
                subjobs::created.eq(t),
                subjobs::modified.eq(t),
            ))
            .returning(subjobs::id)
            .get_result(conn)?;
        let rows: Vec<_> = group
            .iter()
            .map(|f| {
                (
                    subjob_inputs::job_id.eq(job),
                    subjob_inputs::subjob_id.eq(id),
                    subjob_inputs::file_id.eq(*f),
                )
            })
            .collect();
        for chunk in rows.chunks(rows_per_statement(3)) {
            crate::insert_rows!(conn, subjob_inputs::table, chunk)?;
        }
    }
    Ok(())
}

pub fn submit(conn: &mut DbConn, req: &SubmitRequest, owner: &str) -> Result<JobInfo> {
    let q = check_submission(conn, req)?;
    let spec = &req.spec;
    let ids = matching(conn, &q, None)?;
    if ids.is_empty() && !spec.input.watch {
        return Err(Error::bad(format!(
            "input: no file matches {q} (set input.watch = true to wait for files)"
        )));
    }
    let t = now();
    let job: i64 = diesel::insert_into(jobs::table)
        .values((
            jobs::name.eq(&spec.name),
            jobs::spec.eq(serde_json::to_string(spec).map_err(|e| Error::Internal(e.to_string()))?),
            jobs::sandbox
                .eq(serde_json::to_string(&req.sandbox)
                    .map_err(|e| Error::Internal(e.to_string()))?),
            jobs::query.eq(q.to_string()),
            jobs::watch.eq(spec.input.watch),
            jobs::state.eq("submitted"),
            jobs::owner.eq(owner),
            jobs::created.eq(t),
            jobs::modified.eq(t),
            jobs::next_run.eq(spec
                .schedule
                .as_ref()
                .map(|s| s.next_after(t))
                .transpose()
                .map_err(Error::bad)?),
        ))
        .returning(jobs::id)
        .get_result(conn)?;
    let groups = split(conn, spec, ids)?;
    add_subjobs(conn, job, spec, 1, &groups)?;
    if spec.merge.is_some() {
        add_subjobs(conn, job, spec, 0, &[Vec::new()])?;
        diesel::update(
            subjobs::table
                .filter(subjobs::job_id.eq(job))
                .filter(subjobs::number.eq(0)),
        )
        .set(subjobs::state.eq(state::BLOCKED))
        .execute(conn)?;
    }
    info(conn, job)
}

fn get_job(conn: &mut DbConn, id: i64) -> Result<JobRow> {
    jobs::table
        .find(id)
        .select(JobRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("no such job: {id}")))
}

fn job_info(conn: &mut DbConn, row: JobRow) -> Result<JobInfo> {
    let counts: Vec<(String, i64)> = subjobs::table
        .filter(subjobs::job_id.eq(row.id))
        .group_by(subjobs::state)
        .select((subjobs::state, diesel::dsl::count_star()))
        .load(conn)?;
    let inputs: i64 = subjob_inputs::table
        .filter(subjob_inputs::job_id.eq(row.id))
        .count()
        .get_result(conn)?;
    Ok(JobInfo {
        id: row.id,
        name: row.name,
        state: row.state,
        owner: row.owner,
        query: row.query,
        watch: row.watch,
        subjobs: counts.iter().map(|(_, n)| n).sum(),
        inputs,
        counts: counts.into_iter().collect(),
        created: row.created,
        modified: row.modified,
    })
}

pub fn info(conn: &mut DbConn, id: i64) -> Result<JobInfo> {
    let row = get_job(conn, id)?;
    job_info(conn, row)
}

/// Every job (`owner`: only theirs).
pub fn list(conn: &mut DbConn, owner: Option<&str>) -> Result<Vec<JobInfo>> {
    let mut q = jobs::table
        .order(jobs::id.asc())
        .select(JobRow::as_select())
        .into_boxed();
    if let Some(o) = owner {
        q = q.filter(jobs::owner.eq(o.to_owned()));
    }
    let rows: Vec<JobRow> = q.load(conn)?;
    rows.into_iter().map(|r| job_info(conn, r)).collect()
}

/// attempt, runner, state, exit code, reason, started, finished.
type AttemptRow = (
    i32,
    String,
    String,
    Option<i32>,
    Option<String>,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

/// LFNs by subjob id, of the inputs, or of the registered files of a kind.
fn lfns_by_subjob(
    conn: &mut DbConn,
    subjob_ids: &[i64],
    kind: Option<&str>,
) -> Result<HashMap<i64, Vec<String>>> {
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    for chunk in subjob_ids.chunks(rows_per_statement(1)) {
        let rows: Vec<(i64, String)> = match kind {
            None => subjob_inputs::table
                .inner_join(files::table)
                .filter(subjob_inputs::subjob_id.eq_any(chunk))
                .select((subjob_inputs::subjob_id, files::path))
                .order(files::path)
                .load(conn)?,
            Some(k) => subjob_files::table
                .inner_join(files::table)
                .filter(subjob_files::subjob_id.eq_any(chunk))
                .filter(subjob_files::kind.eq(k))
                .select((subjob_files::subjob_id, files::path))
                .order(files::path)
                .load(conn)?,
        };
        for (s, p) in rows {
            out.entry(s).or_default().push(p);
        }
    }
    Ok(out)
}

pub fn status(conn: &mut DbConn, id: i64) -> Result<JobStatus> {
    let job = info(conn, id)?;
    let rows: Vec<SubjobRow> = subjobs::table
        .filter(subjobs::job_id.eq(id))
        .order(subjobs::number)
        .select(SubjobRow::as_select())
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|s| s.id).collect();
    let mut inputs = lfns_by_subjob(conn, &ids, None)?;
    let mut outputs = lfns_by_subjob(conn, &ids, Some("output"))?;
    let mut logs = lfns_by_subjob(conn, &ids, Some("log"))?;
    let mut history: HashMap<i64, Vec<AttemptInfo>> = HashMap::new();
    for chunk in ids.chunks(rows_per_statement(1)) {
        let rows: Vec<(i64, AttemptRow)> = subjob_attempts::table
            .filter(subjob_attempts::subjob_id.eq_any(chunk))
            .order((subjob_attempts::subjob_id, subjob_attempts::attempt))
            .select((
                subjob_attempts::subjob_id,
                (
                    subjob_attempts::attempt,
                    subjob_attempts::runner,
                    subjob_attempts::state,
                    subjob_attempts::exit_code,
                    subjob_attempts::reason,
                    subjob_attempts::started,
                    subjob_attempts::finished,
                ),
            ))
            .load(conn)?;
        for (s, (attempt, runner, state, exit_code, reason, started, finished)) in rows {
            history.entry(s).or_default().push(AttemptInfo {
                attempt,
                runner,
                state,
                exit_code,
                reason,
                started,
                finished,
            });
        }
    }
    let mut subs: Vec<SubjobInfo> = rows
        .into_iter()
        .map(|s| SubjobInfo {
            job: id,
            subjob: s.number,
            state: s.state,
            attempts: s.attempts,
            max_attempts: s.max_attempts,
            runner: s.runner,
            exit_code: s.exit_code,
            reason: s.reason,
            inputs: inputs.remove(&s.id).unwrap_or_default(),
            outputs: outputs.remove(&s.id).unwrap_or_default(),
            logs: logs.remove(&s.id).unwrap_or_default(),
            history: history.remove(&s.id).unwrap_or_default(),
        })
        .collect();
    // The merge step (0) last, as it runs last.
    subs.sort_by_key(|s| if s.subjob == 0 { i64::MAX } else { s.subjob });
    Ok(JobStatus { job, subjobs: subs })
}

fn lease_seconds() -> i64 {
    std::env::var("CATALOG_LEASE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s| *s > 0)
        .unwrap_or(60)
}

/// Gives `req.runner` up to `req.max` subjobs that fit its free capacity, each with a new
/// lease. Runs in one write transaction; on PostgreSQL the rows are locked with
/// `FOR UPDATE SKIP LOCKED`, so concurrent claims never get the same subjob.
pub fn claim(conn: &mut DbConn, req: &ClaimRequest) -> Result<Vec<Lease>> {
    let t = now();
    let mut c = Compiler::new(conn);
    c.sql
        .push("SELECT s.id AS id FROM subjobs s WHERE (s.state = ");
    c.sql
        .bind(Bind::Text(state::WAITING.into()))
        .push(" OR (s.state = ")
        .bind(Bind::Text(state::RUNNING.into()));
    c.sql
        .push(" AND s.lease_expires < ")
        .bind(Bind::Time(t))
        .push(")) AND s.cpus <= ")
        .bind(Bind::Int(req.cpus.into()));
    c.sql
        .push(" AND s.memory <= ")
        .bind(Bind::Int(req.memory.min(i64::MAX as u64) as i64));
    c.sql
        .push(" AND s.gpus <= ")
        .bind(Bind::Int(req.gpus.into()));
    if let Some(job) = req.job {
        c.sql.push(" AND s.job_id = ").bind(Bind::Int(job));
    }
    c.sql
        .push(" ORDER BY s.id LIMIT ")
        .bind(Bind::Int(i64::from(req.max.clamp(1, 1000)) * 4));
    if c.sql.is_pg() {
        c.sql.push(" FOR UPDATE SKIP LOCKED");
    }
    let candidates: Vec<i64> = c
        .sql
        .load::<IdRow>(c.conn)?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let rows: Vec<SubjobRow> = subjobs::table
        .filter(subjobs::id.eq_any(&candidates))
        .order(subjobs::id)
        .select(SubjobRow::as_select())
        .load(conn)?;
    let (mut cpus, mut memory, mut gpus) = (
        i64::from(req.cpus),
        req.memory.min(i64::MAX as u64) as i64,
        i64::from(req.gpus),
    );
    let mut leases = Vec::new();
    let mut jobs_seen: HashMap<i64, (JobRow, JobSpec)> = HashMap::new();
    for s in rows {
        if leases.len() as u32 >= req.max {
            break;
        }
        if s.state == state::RUNNING && s.attempts >= s.max_attempts {
            // Its last attempt's runner vanished.
            end_subjob(
                conn,
                &s,
                state::FAILED,
                None,
                Some("the runner stopped answering (lease expired) on the last attempt"),
            )?;
            continue;
        }
        if i64::from(s.cpus) > cpus || s.memory > memory || i64::from(s.gpus) > gpus {
            continue;
        }
        cpus -= i64::from(s.cpus);
        memory -= s.memory;
        gpus -= i64::from(s.gpus);
        if s.state == state::RUNNING {
            if let Some(old) = &s.token {
                diesel::update(subjob_attempts::table.filter(subjob_attempts::token.eq(old)))
                    .set((
                        subjob_attempts::state.eq(LOST),
                        subjob_attempts::reason.eq("lease expired"),
                        subjob_attempts::finished.eq(t),
                    ))
                    .execute(conn)?;
            }
        }
        let token = uuid::Uuid::new_v4().to_string();
        let attempt = s.attempts + 1;
        let expires = t + chrono::Duration::seconds(lease_seconds());
        diesel::update(subjobs::table.find(s.id))
            .set((
                subjobs::state.eq(state::RUNNING),
                subjobs::attempts.eq(attempt),
                subjobs::runner.eq(&req.runner),
                subjobs::token.eq(&token),
                subjobs::lease_expires.eq(expires),
                subjobs::modified.eq(t),
            ))
            .execute(conn)?;
        diesel::insert_into(subjob_attempts::table)
            .values((
                subjob_attempts::subjob_id.eq(s.id),
                subjob_attempts::attempt.eq(attempt),
                subjob_attempts::token.eq(&token),
                subjob_attempts::runner.eq(&req.runner),
                subjob_attempts::state.eq(state::RUNNING),
                subjob_attempts::started.eq(t),
            ))
            .execute(conn)?;
        if let std::collections::hash_map::Entry::Vacant(slot) = jobs_seen.entry(s.job_id) {
            let row = get_job(conn, s.job_id)?;
            let spec = row.spec()?;
            if row.state == "submitted" {
                diesel::update(jobs::table.find(row.id))
                    .set((jobs::state.eq("running"), jobs::modified.eq(t)))
                    .execute(conn)?;
            }
            slot.insert((row, spec));
        }
        let (job, spec) = &jobs_seen[&s.job_id];
        let sandbox: BTreeMap<String, String> =
            serde_json::from_str(&job.sandbox).map_err(|e| Error::Internal(e.to_string()))?;
        leases.push(Lease {
            job: s.job_id,
            job_name: job.name.clone(),
            subjob: s.number,
            attempt,
            token,
            lease_seconds: lease_seconds() as u64,
            spec: spec.clone(),
            sandbox,
            inputs: leased_inputs(conn, &s)?,
            merge: s.number == 0,
            checksums: Vec::new(),
        });
    }
    Ok(leases)
}

/// The inputs of a subjob (for the merge step: every output of the job), with replicas and
/// effective metadata.
fn leased_inputs(conn: &mut DbConn, s: &SubjobRow) -> Result<Vec<LeasedInput>> {
    let ids: Vec<i64> = if s.number == 0 {
        subjob_files::table
            .inner_join(subjobs::table)
            .filter(subjobs::job_id.eq(s.job_id))
            .filter(subjob_files::kind.eq("output"))
            .select(subjob_files::file_id)
            .load(conn)?
    } else {
        subjob_inputs::table
            .filter(subjob_inputs::subjob_id.eq(s.id))
            .select(subjob_inputs::file_id)
            .load(conn)?
    };
    let mut rows: Vec<FileRow> = crate::files::by_ids(conn, &ids)?;
    rows.sort_by(|a, b| a.path.cmp(&b.path));
    let metas = metadata::effective(conn, &rows)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut reps = replicas::of_files(conn, &ids)?;
    Ok(rows
        .iter()
        .zip(metas)
        .map(|(r, m)| LeasedInput {
            file: r.info(),
            replicas: reps
                .remove(&r.id)
                .unwrap_or_default()
                .into_iter()
                .map(|(rep, se)| replicas::info(rep, se))
                .collect(),
            metadata: m.entries.into_iter().map(|e| (e.field, e.value)).collect(),
        })
        .collect())
}

/// Subjobs (job, number) that ended (done, or failed for good) since `since`.
pub fn ended_since(conn: &mut DbConn, since: NaiveDateTime) -> Result<Vec<(i64, i64)>> {
    Ok(subjobs::table
        .filter(subjobs::modified.ge(since))
        .filter(subjobs::state.eq_any([state::DONE, state::FAILED]))
        .select((subjobs::job_id, subjobs::number))
        .order(subjobs::id)
        .load(conn)?)
}

/// A job's spec and how many attempts its subjob `number` has had.
pub fn spec_and_attempts(conn: &mut DbConn, job: i64, number: i64) -> Result<(JobSpec, i32)> {
    let attempts = subjob_by_number(conn, job, number)?.attempts;
    Ok((get_job(conn, job)?.spec()?, attempts))
}

fn subjob_by_number(conn: &mut DbConn, job: i64, number: i64) -> Result<SubjobRow> {
    subjobs::table
        .filter(subjobs::job_id.eq(job))
        .filter(subjobs::number.eq(number))
        .select(SubjobRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("no subjob {number} in job {job}")))
}

/// Renews the leases a runner holds; names those it must stop.
pub fn heartbeat(conn: &mut DbConn, req: &HeartbeatRequest) -> Result<HeartbeatResponse> {
    let t = now();
    let expires = t + chrono::Duration::seconds(lease_seconds());
    let mut stop = Vec::new();
    for l in &req.leases {
        let renewed = diesel::update(
            subjobs::table
                .filter(subjobs::job_id.eq(l.job))
                .filter(subjobs::number.eq(l.subjob))
                .filter(subjobs::token.eq(&l.token))
                .filter(subjobs::state.eq(state::RUNNING)),
        )
        .set(subjobs::lease_expires.eq(expires))
        .execute(conn)?;
        if renewed == 0 {
            stop.push(l.clone());
        }
    }
    Ok(HeartbeatResponse { stop })
}

/// Ends a subjob in `to` (done, failed, killed, or waiting again for a retry) and brings the
/// job's state along.
fn end_subjob(
    conn: &mut DbConn,
    s: &SubjobRow,
    to: &str,
    exit_code: Option<i32>,
    reason: Option<&str>,
) -> Result<()> {
    let t = now();
    diesel::update(subjobs::table.find(s.id))
        .set((
            subjobs::state.eq(to),
            subjobs::token.eq(None::<String>),
            subjobs::lease_expires.eq(None::<NaiveDateTime>),
            subjobs::exit_code.eq(exit_code),
            subjobs::reason.eq(reason),
            subjobs::modified.eq(t),
        ))
        .execute(conn)?;
    settle_job(conn, s.job_id)
}

/// The job's state from its subjobs': the merge step is released when every other subjob
/// is done; the job ends when nothing is left to run (unless it watches for files).
fn settle_job(conn: &mut DbConn, job: i64) -> Result<()> {
    // Locks the job's row before counting: two subjobs finishing at once would otherwise each
    // count the other as still running (on PostgreSQL a statement sees what was committed
    // when it began) and leave the job running with every subjob done. Found by the fault
    // test (tests/tests/e2e/faults.rs, seed 2).
    diesel::update(jobs::table.find(job))
        .set(jobs::modified.eq(jobs::modified))
        .execute(conn)?;
    let row = get_job(conn, job)?;
    if row.state == "killed" {
        return Ok(());
    }
    // Counted in the database: a job may have many subjobs.
    let counts: HashMap<String, i64> = subjobs::table
        .filter(subjobs::job_id.eq(job))
        .filter(subjobs::number.ne(0))
        .group_by(subjobs::state)
        .select((subjobs::state, diesel::dsl::count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let merge: Option<String> = subjobs::table
        .filter(subjobs::job_id.eq(job))
        .filter(subjobs::number.eq(0))
        .select(subjobs::state)
        .first(conn)
        .optional()?;
    let n = |s: &str| counts.get(s).copied().unwrap_or(0);
    let workers: i64 = counts.values().sum();
    if n(state::DONE) == workers && merge.as_deref() == Some(state::BLOCKED) {
        diesel::update(
            subjobs::table
                .filter(subjobs::job_id.eq(job))
                .filter(subjobs::number.eq(0)),
        )
        .set(subjobs::state.eq(state::WAITING))
        .execute(conn)?;
        return Ok(());
    }
    let mut all: Vec<(&str, i64)> = counts.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    if let Some(m) = &merge {
        all.push((m.as_str(), 1));
    }
    let open = all
        .iter()
        .any(|(s, _)| matches!(*s, state::WAITING | state::RUNNING | state::BLOCKED));
    let new_state = if open || row.watch || row.next_run.is_some() {
        if all
            .iter()
            .any(|(s, _)| *s != state::WAITING && *s != state::BLOCKED)
        {
            "running"
        } else {
            row.state.as_str()
        }
    } else if all.iter().all(|(s, _)| *s == state::DONE) {
        "completed"
    } else {
        "failed"
    };
    if new_state != row.state {
        diesel::update(jobs::table.find(job))
            .set((jobs::state.eq(new_state), jobs::modified.eq(now())))
            .execute(conn)?;
    }
    Ok(())
}

/// The attempt a lease names, and whether it is still the subjob's current one.
fn attempt_of(conn: &mut DbConn, l: &LeaseRef) -> Result<(SubjobRow, i32, String, bool)> {
    let s = subjob_by_number(conn, l.job, l.subjob)?;
    let (attempt, st): (i32, String) = subjob_attempts::table
        .filter(subjob_attempts::subjob_id.eq(s.id))
        .filter(subjob_attempts::token.eq(&l.token))
        .select((subjob_attempts::attempt, subjob_attempts::state))
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            Error::conflict(format!("job {} subjob {}: unknown lease", l.job, l.subjob))
        })?;
    let current = s.token.as_deref() == Some(l.token.as_str()) && s.state == state::RUNNING;
    Ok((s, attempt, st, current))
}

/// The state of an attempt whose lease expired and whose subjob went to another attempt.
const LOST: &str = "lost";

/// What an attempt already finished answered (a repeated finish call).
fn finished_answer(
    conn: &mut DbConn,
    s: &SubjobRow,
    attempt: i32,
    st: String,
) -> Result<FinishResponse> {
    let registered = subjob_files::table
        .inner_join(files::table)
        .filter(subjob_files::subjob_id.eq(s.id))
        .filter(subjob_files::attempt.eq(attempt))
        .filter(subjob_files::kind.eq("output"))
        .select(files::path)
        .order(files::path)
        .load(conn)?;
    let state = match st.as_str() {
        state::DONE => state::DONE.to_owned(),
        _ => s.state.clone(),
    };
    Ok(FinishResponse { state, registered })
}

fn record_files(
    conn: &mut DbConn,
    s: &SubjobRow,
    attempt: i32,
    lfns: &[String],
    kind: &str,
) -> Result<()> {
    let ids = crate::files::ids_by_paths(conn, lfns)?;
    let rows: Vec<_> = ids
        .values()
        .map(|id| {
            (
                subjob_files::subjob_id.eq(s.id),
                subjob_files::attempt.eq(attempt),
                subjob_files::file_id.eq(*id),
                subjob_files::kind.eq(kind),
            )
        })
        .collect();
    for chunk in rows.chunks(rows_per_statement(4)) {
        crate::insert_rows!(conn, subjob_files::table, chunk)?;
    }
    Ok(())
}

/// A successful attempt: its outputs and log are registered, with their parents, in this
/// transaction. Idempotent per attempt; a stale attempt is refused.
pub fn complete(conn: &mut DbConn, req: &FinishRequest) -> Result<FinishResponse> {
    let (s, attempt, st, current) = attempt_of(conn, &req.lease)?;
    let owner = &owner(conn, req.lease.job)?;
    if st != state::RUNNING && st != LOST {
        return finished_answer(conn, &s, attempt, st);
    }
    if !current {
        return Err(Error::conflict(format!(
            "job {} subjob {} attempt {attempt} is stale: the subjob was given to another attempt or killed; its outputs are not registered",
            req.lease.job, req.lease.subjob
        )));
    }
    let mut files = req.outputs.clone();
    files.extend(req.log.clone());
    let lfns: Vec<String> = req.outputs.iter().map(|f| f.lfn.clone()).collect();
    crate::files::register(
        conn,
        &RegisterRequest {
            files,
            create_dirs: true,
        },
        owner,
    )?;
    record_files(conn, &s, attempt, &lfns, "output")?;
    if let Some(log) = &req.log {
        record_files(conn, &s, attempt, std::slice::from_ref(&log.lfn), "log")?;
    }
    diesel::update(subjob_attempts::table.filter(subjob_attempts::token.eq(&req.lease.token)))
        .set((
            subjob_attempts::state.eq(state::DONE),
            subjob_attempts::exit_code.eq(req.exit_code),
            subjob_attempts::finished.eq(now()),
        ))
        .execute(conn)?;
    end_subjob(conn, &s, state::DONE, req.exit_code, None)?;
    let mut registered = lfns;
    registered.sort();
    Ok(FinishResponse {
        state: state::DONE.into(),
        registered,
    })
}

/// A failed attempt: retried while attempts remain, else the subjob fails. The log is
/// registered either way, also for an attempt that lost its lease meanwhile (its runner was
/// cut off from the server for longer than the lease): it is the only account of what the
/// attempt did, and unregistered it would lie on storage for good if the subjob's
/// leftovers were swept before it arrived.
pub fn fail(conn: &mut DbConn, req: &FinishRequest) -> Result<FinishResponse> {
    let (s, attempt, st, current) = attempt_of(conn, &req.lease)?;
    let owner = &owner(conn, req.lease.job)?;
    if st != state::RUNNING && st != LOST {
        return finished_answer(conn, &s, attempt, st);
    }
    let mut reason = req.reason.clone().unwrap_or_else(|| "failed".into());
    if st == LOST {
        reason = format!("lease expired; the runner then reported: {reason}");
    }
    if let Some(log) = &req.log {
        crate::files::register(
            conn,
            &RegisterRequest {
                files: vec![log.clone()],
                create_dirs: true,
            },
            owner,
        )?;
        record_files(conn, &s, attempt, std::slice::from_ref(&log.lfn), "log")?;
    }
    diesel::update(subjob_attempts::table.filter(subjob_attempts::token.eq(&req.lease.token)))
        .set((
            subjob_attempts::state.eq(state::FAILED),
            subjob_attempts::exit_code.eq(req.exit_code),
            subjob_attempts::reason.eq(&reason),
            subjob_attempts::finished.eq(now()),
        ))
        .execute(conn)?;
    if !current {
        return Ok(FinishResponse {
            state: s.state.clone(),
            registered: Vec::new(),
        });
    }
    let to = if s.attempts < s.max_attempts {
        state::WAITING
    } else {
        state::FAILED
    };
    end_subjob(conn, &s, to, req.exit_code, Some(&reason))?;
    Ok(FinishResponse {
        state: to.into(),
        registered: Vec::new(),
    })
}

/// Stops a job: subjobs not finished become killed; runners learn it at their next
/// heartbeat and stop the processes.
pub fn kill(conn: &mut DbConn, id: i64) -> Result<JobInfo> {
    let row = get_job(conn, id)?;
    if matches!(row.state.as_str(), "completed" | "failed" | "killed") {
        return Err(Error::conflict(format!(
            "job {id} has ended ({})",
            row.state
        )));
    }
    let t = now();
    diesel::update(
        subjobs::table
            .filter(subjobs::job_id.eq(id))
            .filter(subjobs::state.eq_any([state::WAITING, state::RUNNING, state::BLOCKED])),
    )
    .set((
        subjobs::state.eq(state::KILLED),
        subjobs::token.eq(None::<String>),
        subjobs::reason.eq("killed by the user"),
        subjobs::modified.eq(t),
    ))
    .execute(conn)?;
    diesel::update(jobs::table.find(id))
        .set((
            jobs::state.eq("killed"),
            jobs::watch.eq(false),
            jobs::next_run.eq(None::<NaiveDateTime>),
            jobs::modified.eq(t),
        ))
        .execute(conn)?;
    info(conn, id)
}

/// Puts failed (and, unless `only_failed`, killed) subjobs back in the queue with fresh
/// attempts: as many again as the spec allows. Attempts go on counting from the last one, so
/// each keeps its own number (its record, its log's name, the directory it uploads to).
pub fn resubmit(conn: &mut DbConn, id: i64, only_failed: bool) -> Result<JobInfo> {
    let row = get_job(conn, id)?;
    let more = row.spec()?.run.max_attempts as i32;
    let from: Vec<&str> = if only_failed {
        vec![state::FAILED]
    } else {
        vec![state::FAILED, state::KILLED]
    };
    let t = now();
    let n = diesel::update(
        subjobs::table
            .filter(subjobs::job_id.eq(id))
            .filter(subjobs::state.eq_any(&from)),
    )
    .set((
        subjobs::state.eq(state::WAITING),
        subjobs::max_attempts.eq(subjobs::attempts + more),
        subjobs::exit_code.eq(None::<i32>),
        subjobs::reason.eq(None::<String>),
        subjobs::modified.eq(t),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(Error::conflict(format!(
            "job {id} has no {} subjob to resubmit",
            from.join(" or ")
        )));
    }
    // A merge step waits again for the others.
    let merge_waits = subjobs::table
        .filter(subjobs::job_id.eq(id))
        .filter(subjobs::number.ne(0))
        .filter(subjobs::state.ne(state::DONE))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if merge_waits {
        diesel::update(
            subjobs::table
                .filter(subjobs::job_id.eq(id))
                .filter(subjobs::number.eq(0))
                .filter(subjobs::state.eq(state::WAITING)),
        )
        .set(subjobs::state.eq(state::BLOCKED))
        .execute(conn)?;
    }
    let spec = row.spec()?;
    let next_run = match (&spec.schedule, row.next_run) {
        (Some(s), None) => Some(s.next_after(t).map_err(Error::Internal)?),
        (_, kept) => kept,
    };
    diesel::update(jobs::table.find(id))
        .set((
            jobs::state.eq("running"),
            jobs::watch.eq(spec.input.watch),
            jobs::next_run.eq(next_run),
            jobs::modified.eq(t),
        ))
        .execute(conn)?;
    info(conn, id)
}

/// Adds subjobs to `job` for those of the files `ids` that match its query and are not yet
/// its inputs; how many files it took.
fn take_new_files(conn: &mut DbConn, job: &JobRow, among: Option<&[i64]>) -> Result<usize> {
    let spec = job.spec()?;
    let q = catalog_core::query::parse(&job.query)
        .map_err(|e| Error::Internal(format!("job {}: stored query: {e}", job.id)))?;
    let mut ids = Vec::new();
    match among {
        Some(new_ids) => {
            for chunk in new_ids.chunks(1_000) {
                ids.extend(matching(conn, &q, Some(chunk))?);
            }
        }
        None => ids = matching(conn, &q, None)?,
    }
    let mut taken = std::collections::HashSet::new();
    for chunk in ids.chunks(rows_per_statement(2)) {
        taken.extend(
            subjob_inputs::table
                .filter(subjob_inputs::job_id.eq(job.id))
                .filter(subjob_inputs::file_id.eq_any(chunk))
                .select(subjob_inputs::file_id)
                .load::<i64>(conn)?,
        );
    }
    ids.retain(|i| !taken.contains(i));
    if ids.is_empty() {
        return Ok(0);
    }
    let next: Option<i64> = subjobs::table
        .filter(subjobs::job_id.eq(job.id))
        .select(diesel::dsl::max(subjobs::number))
        .first(conn)?;
    let groups = split(conn, &spec, ids.clone())?;
    add_subjobs(conn, job.id, &spec, next.unwrap_or(0) + 1, &groups)?;
    if job.state != "running" {
        diesel::update(jobs::table.find(job.id))
            .set((jobs::state.eq("running"), jobs::modified.eq(now())))
            .execute(conn)?;
    }
    Ok(ids.len())
}

/// Whether any job watches for new files.
pub fn any_watching(conn: &mut DbConn) -> Result<bool> {
    Ok(jobs::table
        .filter(jobs::watch.eq(true))
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

/// Watch mode: new subjobs of each watching job for the newly registered files that match
/// its query. Each file becomes an input of a job at most once.
pub fn watch_new_files(conn: &mut DbConn, new_ids: &[i64]) -> Result<usize> {
    if new_ids.is_empty() {
        return Ok(0);
    }
    let watching: Vec<JobRow> = jobs::table
        .filter(jobs::watch.eq(true))
        .select(JobRow::as_select())
        .load(conn)?;
    let mut added = 0;
    for job in watching {
        added += take_new_files(conn, &job, Some(new_ids))?;
    }
    Ok(added)
}

/// Schedules: each job due at `t` takes the files that matched since its last run, and is
/// given its next run.
pub fn run_schedules(conn: &mut DbConn, t: NaiveDateTime) -> Result<usize> {
    let due: Vec<JobRow> = jobs::table
        .filter(jobs::next_run.le(t))
        .filter(jobs::state.ne("killed"))
        .select(JobRow::as_select())
        .load(conn)?;
    let mut added = 0;
    for job in due {
        added += take_new_files(conn, &job, None)?;
        let next = match &job.spec()?.schedule {
            Some(s) => Some(s.next_after(t).map_err(Error::Internal)?),
            None => None,
        };
        diesel::update(jobs::table.find(job.id))
            .set(jobs::next_run.eq(next))
            .execute(conn)?;
    }
    Ok(added)
}

/// Subjobs of all jobs by state (the queue depth is the `waiting` count), for `/metrics`.
pub fn subjobs_by_state(conn: &mut DbConn) -> Result<Vec<(String, i64)>> {
    Ok(subjobs::table
        .group_by(subjobs::state)
        .select((subjobs::state, diesel::dsl::count_star()))
        .order(subjobs::state)
        .load::<(String, i64)>(conn)?)
}

/// Where a job will register files: the fixed directory part of each output, merge and
/// log LFN template (what comes before the first placeholder).
pub fn output_dirs(spec: &catalog_core::job::JobSpec) -> Vec<String> {
    let mut templates: Vec<&str> = spec.outputs.iter().map(|o| o.lfn.as_str()).collect();
    if let Some(m) = &spec.merge {
        templates.push(&m.output.lfn);
    }
    if let Some(l) = &spec.logs {
        templates.push(l);
    }
    let mut dirs: Vec<String> = templates
        .into_iter()
        .map(|t| {
            let fixed = &t[..t.find('{').unwrap_or(t.len())];
            // A file in the deepest directory the fixed part names.
            match fixed.rfind('/') {
                Some(i) => format!("{}/x", &fixed[..i]),
                None => "/x".to_owned(),
            }
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// Only a job's submitter (or an admin) sees and steers it.
pub fn check_owner(conn: &mut DbConn, caller: &crate::auth::Caller, id: i64) -> Result<()> {
    let owner = owner(conn, id)?;
    crate::auth::Guard::new(caller).owns(&format!("job {id}"), &owner)
}

/// The submitter of job `id`: what its subjobs register is theirs.
pub fn owner(conn: &mut DbConn, id: i64) -> Result<String> {
    jobs::table
        .find(id)
        .select(jobs::owner)
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("no such job: {id}")))
}

/// How long after its attempt ended a lease still lets a runner act for the submitter (to
/// remove the outputs of a refused attempt).
const LEASE_GRACE_SECONDS: i64 = 600;

/// The submitter a runner holding `lease` acts for: the lease must be its subjob's current
/// one, or one whose attempt ended moments ago.
pub fn lease_owner(conn: &mut DbConn, l: &LeaseRef) -> Result<String> {
    let refused = |why: &str| {
        Error::Unauthorized(format!(
            "lease of job {} subjob {} {why}: it cannot act for the job's submitter",
            l.job, l.subjob
        ))
    };
    let s = subjob_by_number(conn, l.job, l.subjob).map_err(|_| refused("is unknown"))?;
    let attempt: Option<(String, Option<NaiveDateTime>)> = subjob_attempts::table
        .filter(subjob_attempts::subjob_id.eq(s.id))
        .filter(subjob_attempts::token.eq(&l.token))
        .select((subjob_attempts::state, subjob_attempts::finished))
        .first(conn)
        .optional()?;
    match attempt {
        None => Err(refused("is unknown")),
        Some((st, _)) if st == state::RUNNING && s.token.as_deref() == Some(l.token.as_str()) => {
            owner(conn, l.job)
        }
        Some((_, Some(ended))) if (now() - ended).num_seconds() <= LEASE_GRACE_SECONDS => {
            owner(conn, l.job)
        }
        Some(_) => Err(refused("has ended")),
    }
}

/// Runner calls: a runner token or an admin acts for any job; a user only for their own
/// jobs (`job-runner run` with their own credentials).
pub fn check_runs(
    conn: &mut DbConn,
    caller: &crate::auth::Caller,
    jobs: impl IntoIterator<Item = i64>,
) -> Result<()> {
    if caller.runner || caller.admin {
        return Ok(());
    }
    let mut any = false;
    for id in jobs {
        any = true;
        if owner(conn, id)? != caller.name {
            return Err(Error::Forbidden(format!(
                "{} may not run subjobs of job {id}: it needs a runner token (catalog-server admin token create USER --runner) or to be the job's submitter",
                caller.name
            )));
        }
    }
    if !any {
        return Err(Error::Forbidden(format!(
            "{} may only claim subjobs of their own jobs (name the job) without a runner token",
            caller.name
        )));
    }
    Ok(())
}
