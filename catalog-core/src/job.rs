//! Job specs (TOML), their templates, and the wire types of the jobs API: shared by the
//! server (which checks specs at submission) and the runner (which fills the templates).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use utoipa::ToSchema;

use crate::api::{FileInfo, Metadata, NewFile};

/// A job as its author writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    pub name: String,
    pub input: InputSpec,
    pub run: RunSpec,
    #[serde(default, rename = "output", skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<OutputSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeSpec>,
    /// Directory the logs of each attempt are registered in (default `/jobs/{job}/logs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<String>,
    /// Run again on a schedule, on the files that matched since the last run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleSpec>,
}

/// `every = "1h"`, or `cron = "0 * * * *"` (UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
}

impl ScheduleSpec {
    /// The next run after `t`.
    pub fn next_after(&self, t: chrono::NaiveDateTime) -> Result<chrono::NaiveDateTime, String> {
        match (&self.every, &self.cron) {
            (Some(every), None) => {
                let d = parse_duration(every).map_err(|e| format!("schedule.every: {e}"))?;
                if d < Duration::from_secs(1) {
                    return Err("schedule.every: at least 1s".into());
                }
                Ok(
                    t + chrono::Duration::from_std(d)
                        .map_err(|e| format!("schedule.every: {e}"))?,
                )
            }
            (None, Some(expr)) => crate::cron::Cron::parse(expr)
                .map_err(|e| format!("schedule.cron: {e}"))?
                .next_after(t)
                .ok_or_else(|| format!("schedule.cron: {expr:?} never matches")),
            _ => Err("schedule: give 'every' or 'cron'".into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// The input files: a query (see `catalog find --help`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Or a dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// Files per subjob (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_per_subjob: Option<u32>,
    /// Or one subjob per distinct value of this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
    /// Keep the job open: files that match later become new subjobs.
    #[serde(default)]
    pub watch: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// The program and its arguments; `{inputs}` as a whole argument becomes one argument per
    /// staged input path (`{input_lfns}` likewise); `{job}` and `{subjob}` anywhere.
    pub command: Vec<String>,
    /// Local files shipped into every subjob's work directory (paths relative to the spec).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub resources: Resources,
    /// Attempts before a subjob fails (default 3).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Longest run of one attempt, e.g. `30m`, `2h`, `90s` (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

fn default_attempts() -> u32 {
    3
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default = "one")]
    pub cpus: u32,
    /// e.g. `1GiB`, `512MB` (default 0: no requirement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(default)]
    pub gpus: u32,
}

fn one() -> u32 {
    1
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            cpus: 1,
            memory: None,
            gpus: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// File names in the work directory, e.g. `*.clusters.json`.
    pub glob: String,
    /// The LFN template, e.g. `/out/{input.stem}.json` or `/out/{job}/{subjob}/{name}`.
    pub lfn: String,
    #[serde(default = "default_se")]
    pub se: String,
    /// Static or templated values (`{input.meta.start_time}`), converted to the declared
    /// type of their field.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Object)]
    pub metadata: Metadata,
    /// A JSON object the job writes beside each output, e.g. `{path}.meta.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_from: Option<String>,
}

fn default_se() -> String {
    "local".to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeSpec {
    /// Run after every subjob is done; `{outputs}` are the staged subjob outputs.
    pub command: Vec<String>,
    pub output: MergeOutput,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeOutput {
    pub lfn: String,
    #[serde(default = "default_se")]
    pub se: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Object)]
    pub metadata: Metadata,
    /// The file the merge command writes in its work directory (default: the LFN's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// The directory on a storage element that one attempt uploads its outputs and log to, apart
/// from every other attempt's: what an attempt killed between its uploads and its finish left
/// behind is found there once its subjob has ended.
pub fn attempt_dir(job: i64, subjob: i64, attempt: i32) -> String {
    format!("jobs/{job}/{subjob}.{attempt}")
}

impl JobSpec {
    /// The storage element an attempt's log goes to: the first output's, else `local`.
    pub fn log_se(&self) -> String {
        self.outputs
            .first()
            .map_or_else(|| "local".to_owned(), |o| o.se.clone())
    }

    /// Every storage element an attempt of this job uploads to (outputs, merge output, log).
    pub fn upload_ses(&self) -> Vec<String> {
        let mut ses: Vec<String> = self.outputs.iter().map(|o| o.se.clone()).collect();
        ses.extend(self.merge.iter().map(|m| m.output.se.clone()));
        ses.push(self.log_se());
        ses.sort();
        ses.dedup();
        ses
    }

    /// Reads a TOML spec; unknown keys are refused.
    pub fn from_toml(text: &str) -> Result<JobSpec, String> {
        toml::from_str(text).map_err(|e| format!("job spec: {}", e.to_string().trim_end()))
    }

    pub fn timeout(&self) -> Result<Option<Duration>, String> {
        self.run.timeout.as_deref().map(parse_duration).transpose()
    }

    pub fn memory(&self) -> Result<u64, String> {
        match &self.run.resources.memory {
            None => Ok(0),
            Some(m) => parse_size(m).ok_or_else(|| {
                format!("resources.memory: {m:?} is not a size such as 1GiB or 512MB")
            }),
        }
    }

    /// Checks what can be checked without the catalogue: names, numbers, templates.
    /// `field` tells whether a metadata field is declared (for `{input.meta.X}`).
    pub fn check(&self, declared: &dyn Fn(&str) -> bool) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("name: a job needs a name".into());
        }
        let i = &self.input;
        match (&i.query, &i.dataset) {
            (Some(_), Some(_)) => return Err("input: give 'query' or 'dataset', not both".into()),
            (None, None) => return Err("input: give 'query' or 'dataset'".into()),
            _ => {}
        }
        if i.files_per_subjob.is_some() && i.group_by.is_some() {
            return Err("input: give 'files_per_subjob' or 'group_by', not both".into());
        }
        if i.files_per_subjob == Some(0) {
            return Err("input.files_per_subjob must be at least 1".into());
        }
        if let Some(g) = &i.group_by {
            if !declared(g) {
                return Err(format!(
                    "input.group_by: no metadata field '{g}' is declared"
                ));
            }
        }
        if self.run.command.is_empty() {
            return Err("run.command: the command is empty".into());
        }
        if self.run.max_attempts == 0 {
            return Err("run.max_attempts must be at least 1".into());
        }
        self.timeout().map_err(|e| format!("run.timeout: {e}"))?;
        self.memory()?;
        for (k, v) in &self.run.env {
            if k.is_empty() || k.contains('=') {
                return Err(format!("run.env: {k:?} is not a variable name"));
            }
            check_template(v, Scope::Command, declared).map_err(|e| format!("run.env.{k}: {e}"))?;
        }
        for arg in &self.run.command {
            check_template(arg, Scope::Command, declared)
                .map_err(|e| format!("run.command: {e}"))?;
        }
        for (n, o) in self.outputs.iter().enumerate() {
            let at = format!("output[{n}]");
            if o.glob.is_empty() || o.glob.contains('/') {
                return Err(format!(
                    "{at}.glob: {:?} must be a file name pattern in the work directory",
                    o.glob
                ));
            }
            check_template(&o.lfn, Scope::Output, declared)
                .map_err(|e| format!("{at}.lfn: {e}"))?;
            if !o.lfn.starts_with('/') {
                return Err(format!(
                    "{at}.lfn: {:?} must be an absolute LFN template",
                    o.lfn
                ));
            }
            for (k, v) in &o.metadata {
                crate::meta::validate_field_name(k).map_err(|e| format!("{at}.metadata: {e}"))?;
                if let Value::String(s) = v {
                    check_template(s, Scope::Output, declared)
                        .map_err(|e| format!("{at}.metadata.{k}: {e}"))?;
                }
            }
            if let Some(m) = &o.metadata_from {
                check_template(m, Scope::Output, declared)
                    .map_err(|e| format!("{at}.metadata_from: {e}"))?;
            }
        }
        if let Some(m) = &self.merge {
            if m.command.is_empty() {
                return Err("merge.command: the command is empty".into());
            }
            for arg in &m.command {
                check_template(arg, Scope::Merge, declared)
                    .map_err(|e| format!("merge.command: {e}"))?;
            }
            check_template(&m.output.lfn, Scope::Merge, declared)
                .map_err(|e| format!("merge.output.lfn: {e}"))?;
        }
        if let Some(l) = &self.logs {
            crate::lfn::validate(l).map_err(|e| format!("logs: {e}"))?;
        }
        if let Some(s) = &self.schedule {
            s.next_after(chrono::NaiveDateTime::default())?;
        }
        Ok(())
    }
}

/// Where a template is used, which decides the names it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Command,
    Output,
    Merge,
}

/// The `{...}` names of a template, in order.
pub fn placeholders(template: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("{template:?}: '{{' without '}}'"))?;
        out.push(after[..end].to_owned());
        rest = &after[end + 1..];
    }
    Ok(out)
}

fn check_template(t: &str, scope: Scope, declared: &dyn Fn(&str) -> bool) -> Result<(), String> {
    for p in placeholders(t)? {
        let ok = match p.as_str() {
            "job" | "subjob" | "job_name" => true,
            "inputs" | "input_lfns" => scope == Scope::Command,
            "outputs" => scope == Scope::Merge,
            "name" | "stem" | "path" => scope == Scope::Output,
            "input.stem" | "input.name" | "input.lfn" | "input.dir" => scope == Scope::Output,
            other => match other.strip_prefix("input.meta.") {
                Some(field) if scope == Scope::Output => {
                    if !declared(field) {
                        return Err(format!(
                            "{{{other}}}: no metadata field '{field}' is declared"
                        ));
                    }
                    true
                }
                _ => false,
            },
        };
        if !ok {
            return Err(format!(
                "unknown placeholder {{{p}}} here (commands: {{inputs}} {{input_lfns}} {{job}} {{subjob}}; outputs: {{name}} {{stem}} {{path}} {{input.stem}} {{input.name}} {{input.lfn}} {{input.dir}} {{input.meta.FIELD}} {{job}} {{subjob}}; merge: {{outputs}} {{job}})"
            ));
        }
    }
    Ok(())
}

/// Fills `{name}` placeholders from `value`; a name it does not know is an error.
pub fn fill(template: &str, value: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("{template:?}: '{{' without '}}'"))?;
        let name = &after[..end];
        out.push_str(&value(name).ok_or_else(|| format!("{{{name}}} has no value here"))?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `30m`, `2h`, `90s`, `1h30m`, `500ms`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        let unit_len = rest[digits..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?} is not a duration such as 30m, 2h or 90s"))?;
        let unit = &rest[digits..digits + unit_len];
        total += match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" | "min" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            "d" => Duration::from_secs(n * 86400),
            _ => return Err(format!("{text:?} is not a duration such as 30m, 2h or 90s")),
        };
        rest = &rest[digits + unit_len..];
    }
    Ok(total)
}

/// `1GiB`, `512MB`, `1000`.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let digits = t
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .count();
    let value: f64 = t[..digits].parse().ok()?;
    let unit = t[digits..].trim();
    let factor = if unit.is_empty() {
        1
    } else {
        crate::query::lexer::UNITS
            .iter()
            .find(|(u, _)| *u == unit)?
            .1
    };
    Some((value * factor as f64).round() as u64)
}

// ---- the jobs API ----

/// A job submission: the spec, and the contents of the files it ships.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    pub spec: JobSpec,
    /// File name to base64 contents, for `run.files`.
    #[serde(default)]
    pub sandbox: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobInfo {
    pub id: i64,
    pub name: String,
    /// submitted, running, completed, failed or killed.
    pub state: String,
    pub owner: String,
    /// The normalised input query.
    pub query: String,
    pub watch: bool,
    pub subjobs: i64,
    pub inputs: i64,
    /// Subjobs per state.
    pub counts: BTreeMap<String, i64>,
    pub created: chrono::NaiveDateTime,
    pub modified: chrono::NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubjobInfo {
    pub job: i64,
    /// 1-based number within the job; 0 is the merge step.
    pub subjob: i64,
    /// waiting, running, done, failed or killed.
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub runner: Option<String>,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    /// LFNs of the log of each attempt.
    pub logs: Vec<String>,
    /// Every attempt, oldest first.
    pub history: Vec<AttemptInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttemptInfo {
    pub attempt: i32,
    pub runner: String,
    /// running, done, failed or lost (its runner stopped answering).
    pub state: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub started: chrono::NaiveDateTime,
    pub finished: Option<chrono::NaiveDateTime>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobStatus {
    pub job: JobInfo,
    pub subjobs: Vec<SubjobInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobsResponse {
    pub jobs: Vec<JobInfo>,
}

/// What a runner offers when it asks for work.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    pub runner: String,
    /// Free capacity now.
    pub cpus: u32,
    pub memory: u64,
    pub gpus: u32,
    /// At most this many subjobs.
    pub max: u32,
    /// Only this job (`job-runner run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<i64>,
}

/// One subjob leased to a runner: everything it needs to run it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Lease {
    pub job: i64,
    pub job_name: String,
    pub subjob: i64,
    pub attempt: i32,
    /// Proves the lease in heartbeat, complete and fail.
    pub token: String,
    pub lease_seconds: u64,
    pub spec: JobSpec,
    #[schema(value_type = Object)]
    pub sandbox: BTreeMap<String, String>,
    pub inputs: Vec<LeasedInput>,
    /// The merge step: the outputs of every subjob are its inputs.
    pub merge: bool,
    /// The checksums the catalogue computes on transfers (adler32, and md5/sha256 when
    /// configured): the runner computes the same on its uploads.
    #[serde(default)]
    pub checksums: Vec<String>,
}

impl Lease {
    /// The checksums to compute besides adler32.
    pub fn algorithms(&self) -> crate::checksum::Algorithms {
        crate::checksum::Algorithms::from_names(&self.checksums)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LeasedInput {
    pub file: FileInfo,
    pub replicas: Vec<crate::api::ReplicaInfo>,
    /// Effective metadata.
    #[schema(value_type = Object)]
    pub metadata: Metadata,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClaimResponse {
    pub leases: Vec<Lease>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    pub runner: String,
    /// (subjob, token) of the leases held.
    pub leases: Vec<LeaseRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct LeaseRef {
    pub job: i64,
    pub subjob: i64,
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatResponse {
    /// Leases the runner must stop: lost (expired and given to another) or killed.
    pub stop: Vec<LeaseRef>,
}

/// The end of an attempt: outputs (already uploaded) on success, the reason on failure, and
/// the attempt's log either way.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishRequest {
    pub lease: LeaseRef,
    pub exit_code: Option<i32>,
    /// Set on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default)]
    pub outputs: Vec<NewFile>,
    /// The attempt's log, uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<NewFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FinishResponse {
    /// done, waiting (to be retried), failed or killed.
    pub state: String,
    pub registered: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
name = "find-clusters"
[input]
query = 'under "/frames"'
files_per_subjob = 10
[run]
command = ["sh", "find.sh", "{inputs}"]
files = ["find.sh"]
env = { THRESHOLD = "5" }
resources = { cpus = 1, memory = "1GiB", gpus = 0 }
max_attempts = 3
timeout = "30m"
[[output]]
glob = "*.clusters.json"
lfn = "/clusters/{input.stem}.clusters.json"
metadata = { kind = "clusters", start_time = "{input.meta.start_time}" }
metadata_from = "{path}.meta.json"
"#;

    #[test]
    fn reads_and_checks_the_spec() {
        let s = JobSpec::from_toml(SPEC).unwrap();
        assert_eq!(s.outputs[0].se, "local");
        assert_eq!(s.memory().unwrap(), 1 << 30);
        assert_eq!(s.timeout().unwrap(), Some(Duration::from_secs(1800)));
        assert!(s.check(&|f| f == "start_time").is_ok());
        let e = s.check(&|_| false).unwrap_err();
        assert!(e.contains("no metadata field 'start_time'"), "{e}");
    }

    #[test]
    fn refuses_unknown_keys_and_placeholders() {
        let e = JobSpec::from_toml(&SPEC.replace("timeout", "time_out")).unwrap_err();
        assert!(e.contains("unknown field `time_out`"), "{e}");
        let s = JobSpec::from_toml(&SPEC.replace("{inputs}", "{inptus}")).unwrap();
        assert!(s
            .check(&|_| true)
            .unwrap_err()
            .contains("unknown placeholder {inptus}"));
        let s = JobSpec::from_toml(&SPEC.replace("30m", "thirty")).unwrap();
        assert!(s.check(&|_| true).unwrap_err().contains("run.timeout"));
    }

    #[test]
    fn fills_templates() {
        let v = |n: &str| (n == "input.stem").then(|| "frame_0001".to_owned());
        assert_eq!(
            fill("/c/{input.stem}.json", &v).unwrap(),
            "/c/frame_0001.json"
        );
        assert!(fill("/c/{nope}", &v).is_err());
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_size("512MB"), Some(512_000_000));
    }
}
