//! The DFC kit's deterministic workload (`../shared/bench/dfc/README.md`, "Workload"),
//! ported bit for bit so both catalogues hold the same files and answer the same queries.

use catalog_core::api::{ManifestLine, NewFile, NewReplica};
use chrono::{Days, NaiveDate};
use serde_json::{json, Map, Value};

/// The two storage elements every file has a replica on.
pub const SES: [&str; 2] = ["BENCH-SE-A", "BENCH-SE-B"];

/// SplitMix64's finaliser of `x` + the golden gamma, as the kit computes it.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One file's four typed fields.
pub struct Meta {
    pub int: u64,
    pub string: u64,
    /// Hundredths: the float is `hundredths / 100.0`.
    pub hundredths: u64,
    /// Days after 2024-01-01.
    pub days: u64,
}

pub struct Query {
    pub name: &'static str,
    pub conditions: usize,
    pub text: &'static str,
    pub matches: fn(&Meta) -> bool,
}

/// The kit's five metadata queries, in the catalogue's query language, and a sixth of our
/// own: two conditions matching 0.12 % of the files (1,200 at 1M), the size of the 1,287-hit
/// query the "<= 50 ms at 1M" target names (the kit's q2 matches 5 %).
pub const QUERIES: [Query; 6] = [
    Query {
        name: "q1_int_gt",
        conditions: 1,
        text: "benchInt > 500",
        matches: |m| m.int > 500,
    },
    Query {
        name: "q1_str_eq",
        conditions: 1,
        text: "benchStr = \"tag3\"",
        matches: |m| m.string == 3,
    },
    Query {
        name: "q2_int_str",
        conditions: 2,
        text: "benchInt > 500 and benchStr = \"tag3\"",
        matches: |m| m.int > 500 && m.string == 3,
    },
    Query {
        name: "q2_narrow",
        conditions: 2,
        text: "benchInt > 987 and benchStr = \"tag3\"",
        matches: |m| m.int > 987 && m.string == 3,
    },
    Query {
        name: "q3_int_str_float",
        conditions: 3,
        text: "benchInt > 500 and benchStr = \"tag3\" and benchFloat < 50.0",
        matches: |m| m.int > 500 && m.string == 3 && m.hundredths < 5000,
    },
    Query {
        name: "q3_int_str_date",
        conditions: 3,
        text: "benchInt > 500 and benchStr = \"tag3\" and benchDate >= 2024-07-01T00:00:00Z",
        // 2024-07-01 is day 182 of the leap year 2024.
        matches: |m| m.int > 500 && m.string == 3 && m.days >= 182,
    },
];

pub struct Workload {
    pub n: usize,
    pub d: usize,
    pub chain_len: usize,
    pub gen_size: usize,
}

impl Workload {
    pub fn new(n: usize, dirs: usize, chain_len: usize) -> Workload {
        Workload {
            n,
            d: dirs.clamp(1, n),
            chain_len,
            gen_size: if chain_len > 1 { n / chain_len } else { 0 },
        }
    }

    pub fn dir_path(&self, d: usize) -> String {
        format!("/bench/data/grp{:03}/dir{d:05}", d / 100)
    }

    pub fn lfn(&self, i: usize) -> String {
        format!("{}/file_{i:08}.dat", self.dir_path(i * self.d / self.n))
    }

    pub fn meta(i: usize) -> Meta {
        let h = splitmix64(i as u64);
        Meta {
            int: h % 1000,
            string: (h >> 10) % 10,
            hundredths: (h >> 14) % 10000,
            days: (h >> 28) % 366,
        }
    }

    fn metadata(i: usize) -> Map<String, Value> {
        let m = Self::meta(i);
        let date = NaiveDate::from_ymd_opt(2024, 1, 1).expect("valid date") + Days::new(m.days);
        let mut out = Map::new();
        out.insert("benchInt".into(), json!(m.int));
        out.insert("benchStr".into(), json!(format!("tag{}", m.string)));
        out.insert("benchFloat".into(), json!(m.hundredths as f64 / 100.0));
        out.insert(
            "benchDate".into(),
            json!(format!("{}T00:00:00Z", date.format("%Y-%m-%d"))),
        );
        out
    }

    fn attributes(i: usize) -> (i64, String, String) {
        let h = splitmix64(i as u64);
        (
            1_000_000 + (h % 1_000_000_000) as i64,
            format!("{:08X}-0000-4000-8000-{:012X}", i, h & 0xFFFF_FFFF_FFFF),
            format!("{:08x}", h >> 32),
        )
    }

    /// File `i` with its two replicas, checksum, GUID and four typed fields.
    pub fn new_file(&self, i: usize) -> NewFile {
        let (size, guid, adler32) = Self::attributes(i);
        let lfn = self.lfn(i);
        NewFile {
            replicas: SES
                .iter()
                .map(|se| NewReplica {
                    se: (*se).to_owned(),
                    pfn: lfn.trim_start_matches('/').to_owned(),
                })
                .collect(),
            lfn,
            size,
            adler32,
            md5: None,
            sha256: None,
            guid: Some(guid),
            metadata: Self::metadata(i).into_iter().collect(),
            parents: Vec::new(),
        }
    }

    /// File `i` of the manifest step: under /bench/manifest, one replica, four fields.
    pub fn manifest_line(&self, i: usize) -> ManifestLine {
        let (size, _, adler32) = Self::attributes(i);
        let lfn = format!("/bench/manifest/dir{:05}/file_{i:08}.dat", i / 1000);
        ManifestLine {
            pfn: lfn.trim_start_matches('/').to_owned(),
            lfn,
            size,
            adler32,
            se: SES[0].to_owned(),
            md5: None,
            sha256: None,
            guid: None,
            metadata: Self::metadata(i).into_iter().collect(),
            parents: Vec::new(),
        }
    }

    pub fn expected_hits(&self, matches: fn(&Meta) -> bool) -> usize {
        (0..self.n).filter(|&i| matches(&Self::meta(i))).count()
    }

    pub fn ancestor_of(&self, i: usize) -> Option<usize> {
        let g = self.gen_size;
        (g > 0 && i >= g && i < self.chain_len * g).then(|| i - g)
    }

    pub fn generation(&self, k: usize) -> std::ops::Range<usize> {
        k * self.gen_size..(k + 1) * self.gen_size
    }

    /// `count` indices spread evenly over [lo, hi), shifted by `rep`.
    pub fn sample(&self, count: usize, rep: usize, lo: usize, hi: usize) -> Vec<usize> {
        let span = hi - lo;
        let count = count.min(span);
        let stride = (span / count).max(1);
        (0..count).map(|k| lo + (k * stride + rep) % span).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_kit() {
        // python3 -c 'from dfc_bench import splitmix64; print(splitmix64(0), splitmix64(1))'
        assert_eq!(splitmix64(0), 16294208416658607535);
        assert_eq!(splitmix64(1), 10451216379200822465);
    }

    #[test]
    fn layout_matches_the_kit() {
        let wl = Workload::new(10_000, 100, 4);
        assert_eq!(wl.lfn(0), "/bench/data/grp000/dir00000/file_00000000.dat");
        assert_eq!(
            wl.lfn(9_999),
            "/bench/data/grp000/dir00099/file_00009999.dat"
        );
        assert_eq!(wl.ancestor_of(2_500), Some(0));
        assert_eq!(wl.ancestor_of(2_499), None);
        assert_eq!(wl.sample(3, 1, 0, 9), vec![1, 4, 7]);
    }
}
