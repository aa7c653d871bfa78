//! The query language: text → [`Query`] (the AST, also the JSON form of a query) → text.
//!
//! ```text
//! run in 10..20 and detector = "B06-W0212" and under "/frames"
//! ancestor(run = 3, depth <= 2) or not has(quality)
//! size > 1MB order by start_time desc limit 10
//! ```
//!
//! The server checks the fields and compiles the AST into SQL; see `catalog-server`'s
//! `query` module.

mod ast;
mod check;
mod dirac;
pub(crate) mod lexer;
mod parser;
mod print;

pub use ast::{
    builtin_type, is_reserved, Cmp, Expr, Literal, OrderKey, Query, Relation, BUILTIN_ATTRIBUTES,
};
pub use check::{check, fields, CheckError};
pub use dirac::{from_dirac_terms, DiracTerm};
pub use lexer::Pos;
pub use parser::{parse, parse_located, MAX_NESTING, MAX_QUERY_BYTES};
pub use print::quoted;

/// A query that does not read, with where and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: expected {expected}, found {found}")]
pub struct ParseError {
    pub line: u32,
    pub column: u32,
    pub expected: String,
    pub found: String,
}

impl ParseError {
    pub fn new(pos: Pos, expected: &str, found: impl Into<String>) -> ParseError {
        ParseError {
            line: pos.line,
            column: pos.column,
            expected: expected.to_owned(),
            found: found.into(),
        }
    }
}

#[cfg(test)]
mod tests;
