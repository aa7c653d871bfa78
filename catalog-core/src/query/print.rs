//! The normalised text form of a query: what `find --explain` shows, and what parses back
//! into the same AST.

use std::fmt::{self, Display, Formatter, Write};

use super::ast::{Expr, Literal, Query, Relation};
use crate::meta::format_datetime;

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.filter)?;
        for (i, key) in self.order.iter().enumerate() {
            f.write_str(if i == 0 { " order by " } else { ", " })?;
            f.write_str(&key.field)?;
            if key.descending {
                f.write_str(" desc")?;
            }
        }
        if let Some(n) = self.limit {
            write!(f, " limit {n}")?;
        }
        Ok(())
    }
}

/// Writes `e`, in parentheses when it is an `and` or `or` inside another expression.
fn nested(f: &mut Formatter<'_>, e: &Expr) -> fmt::Result {
    match e {
        Expr::And { .. } | Expr::Or { .. } => write!(f, "({e})"),
        _ => write!(f, "{e}"),
    }
}

fn joined(f: &mut Formatter<'_>, args: &[Expr], word: &str) -> fmt::Result {
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            write!(f, " {word} ")?;
        }
        nested(f, a)?;
    }
    Ok(())
}

fn list(f: &mut Formatter<'_>, values: &[Literal]) -> fmt::Result {
    f.write_char('(')?;
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{v}")?;
    }
    f.write_char(')')
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::All => f.write_str("all"),
            Expr::And { args } => joined(f, args, "and"),
            Expr::Or { args } => joined(f, args, "or"),
            Expr::Not { arg } => {
                f.write_str("not ")?;
                nested(f, arg)
            }
            Expr::Compare { field, cmp, value } => write!(f, "{field} {} {value}", cmp.as_str()),
            Expr::In {
                field,
                values,
                negated,
            } => {
                write!(f, "{field} {}in ", if *negated { "not " } else { "" })?;
                list(f, values)
            }
            Expr::Range { field, low, high } => write!(f, "{field} in {low}..{high}"),
            Expr::Glob { field, pattern } => write!(f, "{field} ~ {}", quoted(pattern)),
            Expr::Has { field } => write!(f, "has({field})"),
            Expr::Missing { field } => write!(f, "missing({field})"),
            Expr::Under { path } => write!(f, "under {}", quoted(path)),
            Expr::Dataset { name } => write!(f, "dataset = {}", quoted(name)),
            Expr::ReplicaAt { se } => write!(f, "replica_at = {}", quoted(se)),
            Expr::Related {
                relation,
                query,
                max_depth,
            } => {
                write!(f, "{}({query}", relation.as_str())?;
                match (relation, max_depth) {
                    (Relation::Ancestor | Relation::Descendant, Some(d)) => {
                        write!(f, ", depth <= {d})")
                    }
                    _ => f.write_char(')'),
                }
            }
        }
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Int(i) => write!(f, "{i}"),
            // Debug keeps a fraction or exponent, so the number reads back as a float.
            Literal::Float(x) => write!(f, "{x:?}"),
            Literal::String(s) => f.write_str(&quoted(s)),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Datetime(d) => f.write_str(&format_datetime(d)),
        }
    }
}

/// `s` in double quotes, with `"` `\` and control characters escaped.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
