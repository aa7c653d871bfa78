//! Printing results as aligned tables for people or as JSON for programs.

use catalog_core::api::{DirInfo, Entry, FileInfo};
use chrono::NaiveDateTime;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people
    Table,
    /// JSON for programs
    Json,
    /// One LFN a line, for pipes (find, dataset files; other commands print their table)
    Lfn,
}

/// Prints `value` as pretty JSON.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub use catalog_core::text::table;

pub fn mode_string(is_dir: bool, mode: i32) -> String {
    let mut s = String::from(if is_dir { "d" } else { "-" });
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

pub fn time(t: &NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A long-listing row: mode, owner, group, size, modified, name.
pub fn long_row(entry: &Entry, name: String) -> Vec<String> {
    match entry {
        Entry::Dir(DirInfo {
            owner,
            group,
            mode,
            created,
            ..
        }) => {
            vec![
                mode_string(true, *mode),
                owner.clone(),
                group.clone(),
                "-".into(),
                time(created),
                name,
            ]
        }
        Entry::File(FileInfo {
            owner,
            group,
            mode,
            size,
            modified,
            ..
        }) => {
            vec![
                mode_string(false, *mode),
                owner.clone(),
                group.clone(),
                size.to_string(),
                time(modified),
                name,
            ]
        }
    }
}

/// Human-readable byte count.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A progress bar on a terminal; hidden when stderr is not one.
pub fn progress(len: u64, what: &str, in_bytes: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let template = if in_bytes {
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
    } else {
        "{msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}"
    };
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_sizes() {
        assert_eq!(mode_string(true, 0o775), "drwxrwxr-x");
        assert_eq!(mode_string(false, 0o664), "-rw-rw-r--");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
    }
}
