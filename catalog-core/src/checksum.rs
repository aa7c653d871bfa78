//! Checksums computed while bytes stream past, never by reading a file twice.

/// Running adler32 and byte count of a stream.
#[derive(Default)]
pub struct StreamSum {
    adler: adler2::Adler32,
    size: u64,
}

impl StreamSum {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.adler.write_slice(bytes);
        self.size += bytes.len() as u64;
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The adler32 as 8 lowercase hex digits, the form the catalogue stores.
    pub fn adler32(&self) -> String {
        format!("{:08x}", self.adler.checksum())
    }
}

/// True when `s` is an adler32 as the catalogue stores it: 8 lowercase hex digits.
pub fn is_adler32(s: &str) -> bool {
    s.len() == 8
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
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
    }

    #[test]
    fn adler32_format() {
        assert!(is_adler32("11e60398"));
        assert!(!is_adler32("11E60398"));
        assert!(!is_adler32("11e6039"));
        assert!(!is_adler32("11e6039g"));
    }
}
