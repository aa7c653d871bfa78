//! Full-text search (tantivy) over file paths and names, string metadata (own and
//! inherited) and datasets. The index lives in DATA_DIR/search; after each commit the
//! handlers tell the indexer what changed, and it updates the index a moment later (well
//! within a second: it gathers what changes meanwhile and commits at most every
//! [`COMMIT_EVERY`]). Results are read back from the database, so a file deleted or moved
//! meanwhile shows as it is now. `catalog-server reindex` rebuilds the index.

use catalog_core::api::{SearchHit, SearchRequest, SearchResponse};
use catalog_core::meta::FieldType;
use diesel::prelude::*;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::QueryParser;
use tantivy::schema::{Field, Schema, Value as _, FAST, INDEXED, STORED, STRING, TEXT};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use tokio::sync::mpsc;

use crate::db::schema::{datasets, files};
use crate::db::{Db, DbConn};
use crate::error::{Error, Result};
use crate::files::FileRow;
use crate::metadata;
use crate::query::{Bind, Compiler};

/// Largest number of hits a search returns.
pub const MAX_HITS: u32 = 10_000;
/// Files read from the database per indexing step.
const BATCH: usize = 5_000;
/// Least time between two commits of the index. Each commit writes a segment (seven files)
/// and reopens the reader; under a steady 300 writes/s, committing every 20 ms burnt disk
/// writes and, through the directory's cache (see [`Search::commit`]), memory.
const COMMIT_EVERY: Duration = Duration::from_millis(250);
/// How long the indexer waits after a change for more of a burst, when it last committed
/// longer than [`COMMIT_EVERY`] ago.
const GATHER: Duration = Duration::from_millis(20);

/// What changed, for the indexer.
#[derive(Debug, Clone)]
pub enum Change {
    /// These files (re-read; those gone are dropped from the index).
    Files(Vec<i64>),
    /// The files with these LFNs.
    Lfns(Vec<String>),
    /// Every file at or below this path (a file, or a directory after a move or a
    /// metadata change).
    Below(String),
    /// This dataset (re-read, or dropped when gone).
    Dataset(String),
}

#[derive(Clone, Copy)]
struct Fields {
    key: Field,
    kind: Field,
    id: Field,
    path: Field,
    name: Field,
    meta: Field,
}

#[derive(Clone)]
pub struct Search {
    index: Index,
    directory: MmapDirectory,
    reader: IndexReader,
    writer: Arc<Mutex<IndexWriter>>,
    fields: Fields,
    changes: Option<mpsc::UnboundedSender<Vec<Change>>>,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        key: b.add_text_field("key", STRING | STORED),
        kind: b.add_text_field("kind", STRING | STORED),
        id: b.add_u64_field("id", INDEXED | STORED | FAST),
        path: b.add_text_field("path", TEXT | STORED),
        name: b.add_text_field("name", TEXT),
        meta: b.add_text_field("meta", TEXT),
    };
    (b.build(), fields)
}

fn ix(e: tantivy::TantivyError) -> Error {
    Error::Internal(format!("search index: {e}"))
}

impl Search {
    /// Opens (or creates) the index in `dir`. An index of another layout is rebuilt.
    pub fn open(dir: &Path) -> Result<Search> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Internal(format!("cannot create {}: {e}", dir.display())))?;
        let (schema, fields) = schema();
        let mmap = |d: &Path| {
            MmapDirectory::open(d)
                .map_err(|e| Error::Internal(format!("search index {}: {e}", d.display())))
        };
        let mut directory = mmap(dir)?;
        let index = match Index::open_or_create(directory.clone(), schema.clone()) {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(error = %e, dir = %dir.display(), "search index unreadable or of another layout; starting a new one");
                std::fs::remove_dir_all(dir)
                    .and_then(|_| std::fs::create_dir_all(dir))
                    .map_err(|e| Error::Internal(e.to_string()))?;
                directory = mmap(dir)?;
                Index::open_or_create(directory.clone(), schema).map_err(ix)?
            }
        };
        let writer = index
            .writer_with_num_threads(1, 50_000_000)
            .map_err(|e| match e {
                tantivy::TantivyError::LockFailure(..) => Error::Unavailable(format!(
                    "the search index in {} is in use by another process (a running server?)",
                    dir.display()
                )),
                e => ix(e),
            })?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(ix)?;
        Ok(Search {
            index,
            directory,
            reader,
            writer: Arc::new(Mutex::new(writer)),
            fields,
            changes: None,
        })
    }

    /// Starts the indexer task (on the current tokio runtime); changes sent with
    /// [`Search::changed`] are applied from then on.
    pub fn start_indexer(&mut self, db: Db) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<Change>>();
        self.changes = Some(tx);
        let me = self.clone();
        tokio::spawn(async move {
            let mut committed: Option<Instant> = None;
            while let Some(mut batch) = rx.recv().await {
                // Gather what else arrives meanwhile, to commit once for a burst.
                let wait = committed.map_or(GATHER, |t| {
                    COMMIT_EVERY.saturating_sub(t.elapsed()).max(GATHER)
                });
                tokio::time::sleep(wait).await;
                while let Ok(more) = rx.try_recv() {
                    batch.extend(more);
                }
                let s = me.clone();
                if let Err(e) = db.read(move |c| s.apply(c, &batch)).await {
                    tracing::error!(error = %e, "search index update failed; `catalog-server reindex` rebuilds it");
                }
                committed = Some(Instant::now());
            }
        });
    }

    /// Tells the indexer what a committed change touched.
    pub fn changed(&self, changes: Vec<Change>) {
        if let Some(tx) = &self.changes {
            let _ = tx.send(changes);
        }
    }

    fn apply(&self, conn: &mut DbConn, changes: &[Change]) -> Result<()> {
        let mut ids: Vec<i64> = Vec::new();
        let mut writer = self
            .writer
            .lock()
            .map_err(|_| Error::Internal("search writer poisoned".into()))?;
        for c in changes {
            match c {
                Change::Files(list) => ids.extend(list),
                Change::Lfns(lfns) => {
                    ids.extend(crate::files::ids_by_paths(conn, lfns)?.into_values())
                }
                Change::Below(path) => {
                    let (lo, hi) = crate::namespace::subtree_bounds(path);
                    let hi = hi.unwrap_or_else(|| char::MAX.to_string());
                    let below = files::path.gt(lo).and(files::path.lt(hi));
                    ids.extend(
                        files::table
                            .select(files::id)
                            .filter(files::path.eq(path).or(below))
                            .load::<i64>(conn)?,
                    );
                }
                Change::Dataset(name) => self.index_dataset(conn, &writer, name)?,
            }
        }
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(BATCH) {
            self.index_files(conn, &writer, chunk)?;
        }
        self.commit(&mut writer)
    }

    /// Commits, shows the commit to searches, and forgets the files it made obsolete.
    /// tantivy's directory keeps the name of every file it ever opened in its cache of
    /// mappings, also once the file is merged away and deleted, and prunes the names only
    /// when asked for its statistics: left alone, the cache grew by a few hundred bytes per
    /// file, some 5 MiB in 6,000 commits of the soak test.
    fn commit(&self, writer: &mut IndexWriter) -> Result<()> {
        writer.commit().map_err(ix)?;
        self.reader.reload().map_err(ix)?;
        self.directory.get_cache_info();
        Ok(())
    }

    /// (Re)writes the documents of `ids`; ids of files gone are only deleted.
    fn index_files(&self, conn: &mut DbConn, writer: &IndexWriter, ids: &[i64]) -> Result<()> {
        let f = self.fields;
        for id in ids {
            writer.delete_term(Term::from_field_text(f.key, &format!("f:{id}")));
        }
        let rows: Vec<FileRow> = crate::files::by_ids(conn, ids)?;
        let metas = metadata::effective(conn, &rows)?;
        for (row, m) in rows.iter().zip(metas) {
            let mut text = String::new();
            for e in m
                .entries
                .iter()
                .filter(|e| e.field_type == FieldType::String)
            {
                text.push_str(&e.field);
                text.push(' ');
                text.push_str(e.value.as_str().unwrap_or_default());
                text.push('\n');
            }
            writer
                .add_document(doc!(
                    f.key => format!("f:{}", row.id),
                    f.kind => "file",
                    f.id => row.id as u64,
                    f.path => row.path.clone(),
                    f.name => row.name.clone(),
                    f.meta => text,
                ))
                .map_err(ix)?;
        }
        Ok(())
    }

    fn index_dataset(&self, conn: &mut DbConn, writer: &IndexWriter, name: &str) -> Result<()> {
        let f = self.fields;
        writer.delete_term(Term::from_field_text(f.key, &format!("d:{name}")));
        let row: Option<(Option<String>, String)> = datasets::table
            .filter(datasets::name.eq(name))
            .select((datasets::query, datasets::metadata))
            .first(conn)
            .optional()?;
        if let Some((query, meta)) = row {
            let meta_text: String =
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&meta)
                    .unwrap_or_default()
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{k} {}\n",
                            v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                        )
                    })
                    .collect();
            writer
                .add_document(doc!(
                    f.key => format!("d:{name}"),
                    f.kind => "dataset",
                    f.path => name.to_owned(),
                    f.name => name.replace(['-', '_', '.'], " "),
                    f.meta => format!("{}\n{meta_text}", query.unwrap_or_default()),
                ))
                .map_err(ix)?;
        }
        Ok(())
    }

    /// Rebuilds the whole index from the database.
    pub fn rebuild(&self, conn: &mut DbConn, progress: &dyn Fn(usize, usize)) -> Result<usize> {
        let mut writer = self
            .writer
            .lock()
            .map_err(|_| Error::Internal("search writer poisoned".into()))?;
        writer.delete_all_documents().map_err(ix)?;
        let total: i64 = files::table.count().get_result(conn)?;
        let mut last = 0i64;
        let mut done = 0usize;
        loop {
            let ids: Vec<i64> = files::table
                .select(files::id)
                .filter(files::id.gt(last))
                .order(files::id)
                .limit(BATCH as i64)
                .load(conn)?;
            let Some(&end) = ids.last() else { break };
            self.index_files(conn, &writer, &ids)?;
            done += ids.len();
            last = end;
            progress(done, total as usize);
        }
        let names: Vec<String> = datasets::table.select(datasets::name).load(conn)?;
        for n in &names {
            self.index_dataset(conn, &writer, n)?;
        }
        self.commit(&mut writer)?;
        Ok(done)
    }

    /// Whether the index holds as many file documents as the database holds files (a cheap
    /// check at start-up that catches a missing or stale index).
    pub fn looks_complete(&self, conn: &mut DbConn) -> Result<bool> {
        let files_in_db: i64 = files::table.count().get_result(conn)?;
        let searcher = self.reader.searcher();
        let term = Term::from_field_text(self.fields.kind, "file");
        let in_index = searcher.doc_freq(&term).map_err(ix)?;
        Ok(in_index == files_in_db as u64)
    }

    /// Ranked hits for `req.text`, optionally only files that match the query `req.where`.
    pub fn search(
        &self,
        conn: &mut DbConn,
        caller: &crate::auth::Caller,
        req: &SearchRequest,
    ) -> Result<SearchResponse> {
        let limit = req.limit.unwrap_or(20);
        if limit == 0 || limit > MAX_HITS {
            return Err(Error::bad(format!(
                "limit must be between 1 and {MAX_HITS}, got {limit}"
            )));
        }
        let f = self.fields;
        let mut parser = QueryParser::for_index(&self.index, vec![f.path, f.name, f.meta]);
        parser.set_conjunction_by_default();
        parser.set_field_boost(f.name, 2.0);
        let query = parser
            .parse_query(&req.text)
            .map_err(|e| Error::bad(format!("search text {:?}: {e}", req.text)))?;
        let filter = match &req.r#where {
            Some(text) => Some(crate::query::read_request(
                conn,
                &catalog_core::api::FindRequest::text(text),
            )?),
            None => None,
        };
        let want = if filter.is_some() {
            MAX_HITS as usize
        } else {
            limit as usize + 100
        };
        let searcher = self.reader.searcher();
        let top = searcher
            .search(&query, &TopDocs::with_limit(want))
            .map_err(ix)?;
        let mut hits: Vec<(f32, String, Option<i64>)> = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let d: TantivyDocument = searcher.doc(addr).map_err(ix)?;
            let kind = d
                .get_first(f.kind)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned();
            let id = d.get_first(f.id).and_then(|v| v.as_u64()).map(|i| i as i64);
            let path = d
                .get_first(f.path)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned();
            hits.push((score, if kind == "file" { String::new() } else { path }, id));
        }
        // Files as they are now, and only those the filter keeps.
        let ids: Vec<i64> = hits.iter().filter_map(|h| h.2).collect();
        let keep: Option<std::collections::HashSet<i64>> = match &filter {
            Some(q) => Some(filtered(conn, q, &ids)?),
            None => None,
        };
        // Files the caller may not read are not hits.
        let found = crate::files::by_ids(conn, &ids)?;
        let rows: HashMap<i64, FileRow> = crate::auth::Guard::new(caller)
            .readable(conn, found, |r| r)?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let dataset_names: std::collections::HashSet<String> = datasets::table
            .select(datasets::name)
            .load::<String>(conn)?
            .into_iter()
            .collect();
        let mut out = Vec::new();
        for (score, dataset, id) in hits {
            match id {
                Some(id) => {
                    if keep.as_ref().is_some_and(|k| !k.contains(&id)) {
                        continue;
                    }
                    if let Some(r) = rows.get(&id) {
                        out.push(SearchHit {
                            kind: "file".into(),
                            name: r.path.clone(),
                            size: Some(r.size),
                            score,
                        });
                    }
                }
                None if filter.is_none() && dataset_names.contains(&dataset) => {
                    out.push(SearchHit {
                        kind: "dataset".into(),
                        name: dataset,
                        size: None,
                        score,
                    });
                }
                None => {}
            }
            if out.len() == limit as usize {
                break;
            }
        }
        Ok(SearchResponse { hits: out })
    }
}

/// The ids among `ids` of files that match `q`.
fn filtered(
    conn: &mut DbConn,
    q: &catalog_core::query::Query,
    ids: &[i64],
) -> Result<std::collections::HashSet<i64>> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let mut out = std::collections::HashSet::new();
    for chunk in ids.chunks(1_000) {
        let mut c = Compiler::new(conn);
        c.sql.push("SELECT f.id AS id FROM files f WHERE f.id IN (");
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                c.sql.push(", ");
            }
            c.sql.bind(Bind::Int(*id));
        }
        c.sql.push(") AND ");
        c.predicate(&q.filter, "f")?;
        out.extend(c.sql.load::<Id>(c.conn)?.into_iter().map(|r| r.id));
    }
    Ok(out)
}
