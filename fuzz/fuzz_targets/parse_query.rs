//! Any text: the parser never panics, and whatever parses prints back to the same AST.
#![no_main]

use catalog_core::query;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(q) = query::parse(text) {
            let printed = q.to_string();
            let again = query::parse(&printed).expect("the normalised form parses");
            assert_eq!(again, q, "{printed}");
        }
    }
});
