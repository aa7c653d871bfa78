//! Checksums computed while bytes stream past, never by reading a file twice: adler32
//! always, md5 and sha256 when asked for.

use md5::Digest as _;

/// The checksums computed besides adler32 (which always is).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Algorithms {
    pub md5: bool,
    pub sha256: bool,
}

impl Algorithms {
    /// Parses a comma-separated list such as `md5,sha256` (`adler32` may be named; it is
    /// always computed).
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut a = Algorithms::default();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name.to_ascii_lowercase().as_str() {
                "adler32" => {}
                "md5" => a.md5 = true,
                "sha256" => a.sha256 = true,
                _ => {
                    return Err(format!(
                        "unknown checksum {name:?}: expected adler32, md5 or sha256"
                    ))
                }
            }
        }
        Ok(a)
    }

    /// From names as the server lists them; names this version does not know are left
    /// out (the server computes and checks those itself).
    pub fn from_names(names: &[String]) -> Self {
        let known: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| matches!(*n, "adler32" | "md5" | "sha256"))
            .collect();
        Self::parse(&known.join(",")).unwrap_or_default()
    }

    /// Those `sums` hold a value of.
    pub fn of(sums: &Sums) -> Self {
        Algorithms {
            md5: sums.md5.is_some(),
            sha256: sums.sha256.is_some(),
        }
    }

    /// Both sets together.
    pub fn union(self, other: Self) -> Self {
        Algorithms {
            md5: self.md5 || other.md5,
            sha256: self.sha256 || other.sha256,
        }
    }

    /// Names, adler32 first: `["adler32", "md5"]`.
    pub fn names(self) -> Vec<String> {
        let mut v = vec!["adler32".to_owned()];
        if self.md5 {
            v.push("md5".to_owned());
        }
        if self.sha256 {
            v.push("sha256".to_owned());
        }
        v
    }
}

/// The size and checksums of some bytes, in the form the catalogue stores them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sums {
    pub size: u64,
    pub adler32: String,
    pub md5: Option<String>,
    pub sha256: Option<String>,
}

impl Sums {
    /// The sums a wire record gives (a catalogue entry, an upload's answer, a file about to
    /// be registered): its size and checksums as the wire types carry them.
    pub fn described(
        size: i64,
        adler32: &str,
        md5: &Option<String>,
        sha256: &Option<String>,
    ) -> Sums {
        Sums {
            size: size.max(0) as u64,
            adler32: adler32.to_owned(),
            md5: md5.clone(),
            sha256: sha256.clone(),
        }
    }

    /// How `self` (what was read) differs from `expected`, naming each difference; `None`
    /// when they agree. A checksum only one side has is not compared.
    pub fn mismatch(&self, expected: &Sums) -> Option<String> {
        let mut diffs = Vec::new();
        if self.size != expected.size {
            diffs.push(format!("size {} (expected {})", self.size, expected.size));
        }
        let pairs = [
            ("adler32", Some(&self.adler32), Some(&expected.adler32)),
            ("md5", self.md5.as_ref(), expected.md5.as_ref()),
            ("sha256", self.sha256.as_ref(), expected.sha256.as_ref()),
        ];
        for (name, got, want) in pairs {
            if let (Some(got), Some(want)) = (got, want) {
                if got != want {
                    diffs.push(format!("{name} {got} (expected {want})"));
                }
            }
        }
        (!diffs.is_empty()).then(|| diffs.join(", "))
    }
}

/// Running size and checksums of a stream.
pub struct StreamSum {
    adler: adler2::Adler32,
    md5: Option<md5::Md5>,
    sha256: Option<sha2::Sha256>,
    size: u64,
}

impl Default for StreamSum {
    fn default() -> Self {
        Self::with(Algorithms::default())
    }
}

impl StreamSum {
    /// adler32 only.
    pub fn new() -> Self {
        Self::default()
    }

    /// adler32 and the checksums `algorithms` asks for.
    pub fn with(algorithms: Algorithms) -> Self {
        StreamSum {
            adler: adler2::Adler32::new(),
            md5: algorithms.md5.then(md5::Md5::new),
            sha256: algorithms.sha256.then(sha2::Sha256::new),
            size: 0,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.adler.write_slice(bytes);
        if let Some(h) = &mut self.md5 {
            h.update(bytes);
        }
        if let Some(h) = &mut self.sha256 {
            h.update(bytes);
        }
        self.size += bytes.len() as u64;
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The adler32 as 8 lowercase hex digits, the form the catalogue stores.
    pub fn adler32(&self) -> String {
        format!("{:08x}", self.adler.checksum())
    }

    /// Everything computed so far.
    pub fn sums(&self) -> Sums {
        Sums {
            size: self.size,
            adler32: self.adler32(),
            md5: self.md5.clone().map(|h| hex(&h.finalize())),
            sha256: self.sha256.clone().map(|h| hex(&h.finalize())),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// True when `s` is an adler32 as the catalogue stores it: 8 lowercase hex digits.
pub fn is_adler32(s: &str) -> bool {
    is_hex(s, 8)
}

/// True when `s` is `len` lowercase hex digits (md5: 32, sha256: 64).
pub fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler32_of_known_input() {
        let mut sum = StreamSum::new();
        sum.update(b"Wiki");
        sum.update(b"pedia");
        assert_eq!(sum.adler32(), "11e60398");
        assert_eq!(sum.size(), 9);
        assert_eq!(StreamSum::new().adler32(), "00000001");
        assert_eq!(sum.sums().md5, None);
    }

    #[test]
    fn md5_and_sha256_of_known_input() {
        let mut sum = StreamSum::with(Algorithms::parse("md5, sha256").unwrap());
        sum.update(b"ab");
        sum.update(b"c");
        let s = sum.sums();
        assert_eq!(s.md5.as_deref(), Some("900150983cd24fb0d6963f7d28e17f72"));
        assert_eq!(
            s.sha256.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(s.adler32, "024d0127");
    }

    #[test]
    fn algorithm_lists() {
        assert_eq!(Algorithms::parse("").unwrap(), Algorithms::default());
        assert_eq!(
            Algorithms::parse("adler32,MD5").unwrap().names(),
            ["adler32", "md5"]
        );
        let e = Algorithms::parse("md5,crc32").unwrap_err();
        assert!(e.contains("crc32"), "{e}");
    }

    #[test]
    fn mismatches_name_what_differs() {
        let a = Sums {
            size: 3,
            adler32: "024d0127".into(),
            md5: Some("900150983cd24fb0d6963f7d28e17f72".into()),
            sha256: None,
        };
        assert_eq!(a.mismatch(&a), None);
        let mut b = a.clone();
        b.md5 = None;
        assert_eq!(
            a.mismatch(&b),
            None,
            "a checksum only one side has is not compared"
        );
        b.md5 = Some("0".repeat(32));
        b.size = 4;
        let m = a.mismatch(&b).unwrap();
        assert!(
            m.contains("size 3 (expected 4)") && m.contains("md5"),
            "{m}"
        );
    }

    #[test]
    fn adler32_format() {
        assert!(is_adler32("11e60398"));
        assert!(!is_adler32("11E60398"));
        assert!(!is_adler32("11e6039"));
        assert!(!is_adler32("11e6039g"));
    }
}
