//! The opaque cursor of `find`: the sort key values and id of the last file returned, so
//! that the next page starts strictly after it (keyset paging: stable while files come and
//! go, and as fast on the thousandth page as on the first).

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::sql::{Bind, Sql};
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum KeyValue {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Time(NaiveDateTime),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// Of the normalised query, so that a cursor is not used with another query.
    #[serde(rename = "q")]
    pub query_hash: u64,
    /// Files returned so far, for the query's `limit`.
    #[serde(rename = "n")]
    pub returned: u64,
    #[serde(rename = "i")]
    pub last_id: i64,
    #[serde(rename = "k")]
    pub keys: Vec<KeyValue>,
}

/// FNV-1a: stable across runs and builds, unlike the standard hasher.
pub fn hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Cursor {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        json.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn decode(text: &str, query: &str) -> Result<Cursor> {
        let bad = || {
            Error::bad("malformed cursor: pass back the next_cursor of the previous page unchanged")
        };
        if !text.len().is_multiple_of(2) || !text.is_ascii() {
            return Err(bad());
        }
        let bytes = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| bad())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if cursor.query_hash != hash(query) {
            return Err(Error::bad("this cursor belongs to another query"));
        }
        Ok(cursor)
    }
}

fn bind(v: &KeyValue) -> Option<Bind> {
    Some(match v {
        KeyValue::Null => return None,
        KeyValue::Int(i) => Bind::Int(*i),
        KeyValue::Float(f) => Bind::Float(*f),
        KeyValue::Text(s) => Bind::Text(s.clone()),
        KeyValue::Time(t) => Bind::Time(*t),
    })
}

/// One column of the order: its SQL, direction and the cursor's value for it.
struct Part {
    col: String,
    descending: bool,
    value: Option<Bind>,
}

/// Writes the condition "the row `t` sorts strictly after the cursor", for keys `t.k0..`
/// ordered with `keys` (descending, may be null) and ties broken by `t.id`.
pub fn after(sql: &mut Sql, keys: &[(bool, bool)], cur: &Cursor) -> Result<()> {
    if cur.keys.len() != keys.len() {
        return Err(Error::bad("this cursor belongs to another query"));
    }
    let mut parts = Vec::new();
    for (i, ((descending, nullable), v)) in keys.iter().zip(&cur.keys).enumerate() {
        let col = format!("t.k{i}");
        if *nullable {
            parts.push(Part {
                col: format!("CASE WHEN {col} IS NULL THEN 1 ELSE 0 END"),
                descending: false,
                value: Some(Bind::Int(i64::from(*v == KeyValue::Null))),
            });
        }
        parts.push(Part {
            col,
            descending: *descending,
            value: bind(v),
        });
    }
    parts.push(Part {
        col: "t.id".to_owned(),
        descending: false,
        value: Some(Bind::Int(cur.last_id)),
    });
    sql.push("(");
    let mut first = true;
    for j in 0..parts.len() {
        let Some(v) = &parts[j].value else {
            continue; // nothing sorts strictly after a missing value among missing values
        };
        if !first {
            sql.push(" OR ");
        }
        first = false;
        sql.push("(");
        for p in &parts[..j] {
            match &p.value {
                Some(pv) => sql.push(&p.col).push(" = ").bind(pv.clone()),
                None => sql.push(&p.col).push(" IS NULL"),
            };
            sql.push(" AND ");
        }
        let op = if parts[j].descending { " < " } else { " > " };
        sql.push(&parts[j].col).push(op).bind(v.clone()).push(")");
    }
    sql.push(")");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_query_binding() {
        let c = Cursor {
            query_hash: hash("run = 1"),
            returned: 10,
            last_id: 7,
            keys: vec![
                KeyValue::Float(0.1 + 0.2),
                KeyValue::Null,
                KeyValue::Text("a\"b".into()),
            ],
        };
        assert_eq!(Cursor::decode(&c.encode(), "run = 1").unwrap(), c);
        assert!(Cursor::decode(&c.encode(), "run = 2").is_err());
        assert!(Cursor::decode("zz", "run = 1").is_err());
        assert!(Cursor::decode("abc", "run = 1").is_err());
    }
}
