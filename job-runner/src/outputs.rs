//! Outputs: the files of the work directory an output glob matches, each with its LFN,
//! metadata (static, templated from its input, and from the sidecar the job wrote) and
//! parents, uploaded to their storage element.

use anyhow::{bail, Context};
use catalog_core::api::{Metadata, NewFile};
use catalog_core::checksum::Sums;
use catalog_core::job::{fill, placeholders, Lease, LeasedInput};
use catalog_core::meta::{FieldType, MetaValue};
use catalog_core::transfer::{self, no_progress};
use catalog_core::Client;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::retry::retrying;

/// What an output is before it is uploaded.
#[derive(Debug, Clone)]
pub struct Planned {
    pub path: PathBuf,
    pub lfn: String,
    pub se: String,
    pub metadata: Metadata,
    pub parents: Vec<String>,
}

/// `name` matches `pattern` (`*` any run of characters, `?` one).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn stem(name: &str) -> &str {
    Path::new(name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(name)
}

/// The input an output belongs to: the one input whose stem its name starts with (followed
/// by a non-alphanumeric character or the end).
fn owner<'a>(name: &str, inputs: &'a [LeasedInput]) -> Option<&'a LeasedInput> {
    let mut found = inputs.iter().filter(|i| {
        let s = stem(catalog_core::lfn::split(&i.file.lfn).1);
        name.strip_prefix(s)
            .is_some_and(|rest| rest.chars().next().is_none_or(|c| !c.is_alphanumeric()))
    });
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// A templated or static value as the declared type of its field wants it.
fn typed(
    field: &str,
    value: Value,
    declared: &HashMap<String, FieldType>,
) -> anyhow::Result<Value> {
    let Value::String(s) = &value else {
        return Ok(value);
    };
    Ok(match declared.get(field) {
        Some(ty) => MetaValue::parse_typed(field, *ty, s)?.to_json(),
        None => MetaValue::parse_inferred(s).to_json(),
    })
}

/// Values for `{...}` in an output's templates.
struct Templates<'a> {
    lease: &'a Lease,
    name: String,
    path: PathBuf,
    input: Option<&'a LeasedInput>,
}

impl Templates<'_> {
    fn value(&self, key: &str) -> Option<String> {
        Some(match key {
            "job" => self.lease.job.to_string(),
            "job_name" => self.lease.job_name.clone(),
            "subjob" => self.lease.subjob.to_string(),
            "name" => self.name.clone(),
            "stem" => stem(&self.name).to_owned(),
            "path" => self.path.display().to_string(),
            _ => {
                let input = self.input?;
                let (dir, name) = catalog_core::lfn::split(&input.file.lfn);
                match key {
                    "input.stem" => stem(name).to_owned(),
                    "input.name" => name.to_owned(),
                    "input.lfn" => input.file.lfn.clone(),
                    "input.dir" => dir.to_owned(),
                    _ => {
                        let field = key.strip_prefix("input.meta.")?;
                        let v = input.metadata.get(field)?;
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                    }
                }
            }
        })
    }

    fn fill(&self, template: &str, what: &str) -> anyhow::Result<String> {
        if self.input.is_none()
            && placeholders(template)
                .map_err(anyhow::Error::msg)?
                .iter()
                .any(|p| p.starts_with("input."))
        {
            bail!(
                "{what} {template:?} names {{input.*}}, but output {} belongs to no single input (its name must start with the stem of exactly one input)",
                self.name
            );
        }
        fill(template, &|k| self.value(k))
            .map_err(|e| anyhow::anyhow!("{what} {template:?} for {}: {e}", self.name))
    }
}

/// Finds and describes the outputs of an attempt; `skip` are names not to take (shipped
/// files and staged inputs).
pub fn plan(
    lease: &Lease,
    dir: &Path,
    skip: &BTreeSet<String>,
    declared: &HashMap<String, FieldType>,
) -> anyhow::Result<Vec<Planned>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !skip.contains(n))
        .collect();
    names.sort();
    let mut planned = Vec::new();
    if lease.merge {
        let Some(m) = &lease.spec.merge else {
            bail!("merge step without a merge section")
        };
        let naming = Templates {
            lease,
            name: String::new(),
            path: dir.to_path_buf(),
            input: None,
        };
        let lfn = naming.fill(&m.output.lfn, "merge.output.lfn")?;
        let file = m
            .output
            .file
            .clone()
            .unwrap_or_else(|| catalog_core::lfn::split(&lfn).1.to_owned());
        let path = dir.join(&file);
        if !path.is_file() {
            bail!("missing output: the merge command wrote no {file}");
        }
        let cx = Templates {
            lease,
            name: file,
            path: path.clone(),
            input: None,
        };
        let mut metadata = Metadata::new();
        for (k, v) in &m.output.metadata {
            let v = match v {
                Value::String(s) => Value::String(cx.fill(s, "merge.output.metadata")?),
                v => v.clone(),
            };
            metadata.insert(k.clone(), typed(k, v, declared)?);
        }
        planned.push(Planned {
            lfn,
            path,
            se: m.output.se.clone(),
            metadata,
            parents: lease.inputs.iter().map(|i| i.file.lfn.clone()).collect(),
        });
        return Ok(planned);
    }
    // Sidecars are never outputs themselves.
    let mut sidecars = BTreeSet::new();
    for o in &lease.spec.outputs {
        if let Some(t) = &o.metadata_from {
            for n in names.iter().filter(|n| glob_match(&o.glob, n)) {
                let cx = Templates {
                    lease,
                    name: n.clone(),
                    path: dir.join(n),
                    input: owner(n, &lease.inputs),
                };
                if let Ok(p) = fill(t, &|k| cx.value(k)) {
                    sidecars.insert(
                        Path::new(&p)
                            .file_name()
                            .map(|f| f.to_string_lossy().into_owned())
                            .unwrap_or(p),
                    );
                }
            }
        }
    }
    for (i, o) in lease.spec.outputs.iter().enumerate() {
        let matched: Vec<&String> = names
            .iter()
            .filter(|n| glob_match(&o.glob, n) && !sidecars.contains(n.as_str()))
            .collect();
        if matched.is_empty() {
            bail!(
                "missing output: no file matches output[{i}].glob {:?}",
                o.glob
            );
        }
        for n in matched {
            let path = dir.join(n);
            let input = owner(n, &lease.inputs);
            let cx = Templates {
                lease,
                name: n.clone(),
                path: path.clone(),
                input,
            };
            let mut metadata = Metadata::new();
            for (k, v) in &o.metadata {
                let v = match v {
                    Value::String(s) => {
                        Value::String(cx.fill(s, &format!("output[{i}].metadata.{k}"))?)
                    }
                    v => v.clone(),
                };
                metadata.insert(k.clone(), typed(k, v, declared)?);
            }
            if let Some(t) = &o.metadata_from {
                let side = PathBuf::from(cx.fill(t, &format!("output[{i}].metadata_from"))?);
                let side = if side.is_absolute() {
                    side
                } else {
                    dir.join(side)
                };
                let text = std::fs::read_to_string(&side)
                    .with_context(|| format!("bad sidecar: {} was not written", side.display()))?;
                let obj: serde_json::Map<String, Value> = serde_json::from_str(&text)
                    .with_context(|| {
                        format!("bad sidecar {}: not a JSON object", side.display())
                    })?;
                metadata.extend(obj);
            }
            let parents = match input {
                Some(i) => vec![i.file.lfn.clone()],
                None => lease.inputs.iter().map(|i| i.file.lfn.clone()).collect(),
            };
            planned.push(Planned {
                lfn: cx.fill(&o.lfn, &format!("output[{i}].lfn"))?,
                path,
                se: o.se.clone(),
                metadata,
                parents,
            });
        }
    }
    let mut seen = BTreeSet::new();
    for p in &planned {
        if !seen.insert(&p.lfn) {
            bail!("two outputs would both be registered as {}", p.lfn);
        }
    }
    Ok(planned)
}

/// Where an attempt's bytes go on a storage element: apart from any other attempt's.
pub fn pfn(lease: &Lease, name: &str) -> String {
    format!(
        "{}/{name}",
        catalog_core::job::attempt_dir(lease.job, lease.subjob, lease.attempt)
    )
}

/// Uploads `path` to `pfn`, in this attempt's own directory on `se`, sending it again while
/// the server is away. A try cut off after the server had stored the bytes would meet
/// "object exists" on the next one (an attempt failed so, or was reported without its log),
/// so every try after the first removes what an earlier one may have left: nothing else
/// writes in an attempt's directory, and the server never removes a registered object.
pub async fn upload_to_attempt(
    client: &Client,
    lease: &Lease,
    se: &str,
    pfn: &str,
    path: &Path,
    what: &str,
) -> Result<Sums, transfer::TransferError> {
    let tried = AtomicBool::new(false);
    retrying(
        what,
        || async {
            if tried.swap(true, Ordering::Relaxed) {
                client.delete_object(se, pfn).await?;
            }
            transfer::upload_file(client, se, pfn, path, lease.algorithms(), no_progress()).await
        },
        transfer::TransferError::is_transient,
    )
    .await
}

/// Uploads a file and describes it for registration.
pub async fn upload(client: &Client, lease: &Lease, p: &Planned) -> anyhow::Result<NewFile> {
    let name = p
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let pfn = pfn(lease, &name);
    let sums = upload_to_attempt(
        client,
        lease,
        &p.se,
        &pfn,
        &p.path,
        &format!("upload {name}"),
    )
    .await
    .with_context(|| format!("cannot upload {name} to storage element {}", p.se))?;
    Ok(NewFile {
        metadata: p.metadata.clone(),
        parents: p.parents.clone(),
        ..NewFile::stored(p.lfn.clone(), sums, p.se.clone(), pfn)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*.clusters.json", "frame_0001.clusters.json"));
        assert!(!glob_match(
            "*.clusters.json",
            "frame_0001.clusters.json.meta.json"
        ));
        assert!(glob_match("f?.txt", "f1.txt"));
        assert!(glob_match("*", "anything"));
        assert!(!glob_match("a*b", "ac"));
    }
}
