//! Logical file names (LFNs): absolute, normalised slash-separated paths.

/// Longest LFN accepted, in bytes.
pub const MAX_LFN_BYTES: usize = 4096;
/// Longest single path component accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LfnError {
    #[error("invalid path {0:?}: must be absolute (start with '/')")]
    NotAbsolute(String),
    #[error("invalid path {0:?}: empty name (a '//' or a trailing '/')")]
    EmptyName(String),
    #[error("invalid path {0:?}: '.' and '..' are not allowed")]
    DotName(String),
    #[error("invalid path {0:?}: contains a NUL or control character")]
    ControlChar(String),
    #[error("invalid path {0:?}: longer than {MAX_LFN_BYTES} bytes or a name longer than {MAX_NAME_BYTES}")]
    TooLong(String),
}

/// Checks that `path` is an absolute, normalised LFN (the root `/` included).
pub fn validate(path: &str) -> Result<(), LfnError> {
    if !path.starts_with('/') {
        return Err(LfnError::NotAbsolute(path.to_owned()));
    }
    if path.len() > MAX_LFN_BYTES {
        return Err(LfnError::TooLong(path.to_owned()));
    }
    if path.chars().any(char::is_control) {
        return Err(LfnError::ControlChar(path.to_owned()));
    }
    if path == "/" {
        return Ok(());
    }
    for name in path[1..].split('/') {
        if name.is_empty() {
            return Err(LfnError::EmptyName(path.to_owned()));
        }
        if name == "." || name == ".." {
            return Err(LfnError::DotName(path.to_owned()));
        }
        if name.len() > MAX_NAME_BYTES {
            return Err(LfnError::TooLong(path.to_owned()));
        }
    }
    Ok(())
}

/// Checks that `path` is a valid LFN other than the root, which names no file.
pub fn validate_file(path: &str) -> Result<(), LfnError> {
    validate(path)?;
    if path == "/" {
        return Err(LfnError::EmptyName(path.to_owned()));
    }
    Ok(())
}

/// Splits a valid non-root LFN into its parent directory and its name.
pub fn split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("/", path),
    }
}

/// Joins a directory LFN and a relative path.
pub fn join(dir: &str, rel: &str) -> String {
    let rel = rel.trim_start_matches('/');
    if dir.ends_with('/') {
        format!("{dir}{rel}")
    } else {
        format!("{dir}/{rel}")
    }
}

/// The directories above a valid LFN, root first, not including the path itself.
pub fn ancestors(path: &str) -> Vec<String> {
    let mut out = vec!["/".to_owned()];
    if path == "/" {
        return Vec::new();
    }
    for (i, c) in path.char_indices().skip(1) {
        if c == '/' {
            out.push(path[..i].to_owned());
        }
    }
    out
}

/// The path a file or directory at `path` gets when the tree at `from` moves to `to`.
pub fn rebase(path: &str, from: &str, to: &str) -> String {
    format!("{to}{}", &path[from.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_accepts_normalised_absolute_paths() {
        for ok in ["/", "/a", "/a/b.txt", "/a b/ü/x"] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn validate_refuses_each_kind_of_bad_path() {
        assert!(matches!(validate("a/b"), Err(LfnError::NotAbsolute(_))));
        assert!(matches!(validate(""), Err(LfnError::NotAbsolute(_))));
        assert!(matches!(validate("/a//b"), Err(LfnError::EmptyName(_))));
        assert!(matches!(validate("/a/"), Err(LfnError::EmptyName(_))));
        assert!(matches!(validate("/a/../b"), Err(LfnError::DotName(_))));
        assert!(matches!(validate("/a/./b"), Err(LfnError::DotName(_))));
        assert!(matches!(validate("/a\0b"), Err(LfnError::ControlChar(_))));
        assert!(matches!(
            validate(&format!("/{}", "x".repeat(300))),
            Err(LfnError::TooLong(_))
        ));
        assert!(matches!(validate_file("/"), Err(LfnError::EmptyName(_))));
    }

    #[test]
    fn split_and_ancestors() {
        assert_eq!(split("/a"), ("/", "a"));
        assert_eq!(split("/a/b/c"), ("/a/b", "c"));
        assert_eq!(ancestors("/a/b/c"), vec!["/", "/a", "/a/b"]);
        assert_eq!(ancestors("/a"), vec!["/"]);
        assert!(ancestors("/").is_empty());
        assert_eq!(join("/", "x/y"), "/x/y");
        assert_eq!(join("/d", "x"), "/d/x");
        assert_eq!(rebase("/a/b/c", "/a/b", "/z"), "/z/c");
    }
}
