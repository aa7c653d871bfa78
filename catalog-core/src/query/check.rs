//! Type rules: every field compared must exist (an attribute or a declared metadata field)
//! and every literal must be of its type. The server supplies the declared fields.

use super::ast::{builtin_type, Cmp, Expr, Literal, Query};
use crate::meta::FieldType;

/// A query that reads but does not type: `leaf` counts the conditions and order keys in
/// text order (see [`super::parse_located`]), so that the error can be placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CheckError {
    pub leaf: usize,
    pub message: String,
}

/// Checks `q`, `declared` giving the type of each declared metadata field.
pub fn check(q: &Query, declared: &dyn Fn(&str) -> Option<FieldType>) -> Result<(), CheckError> {
    let mut c = Checker { declared, leaf: 0 };
    c.expr(&q.filter)?;
    for key in &q.order {
        c.field(&key.field)?;
        c.leaf += 1;
    }
    Ok(())
}

/// Every field name a query mentions, once each.
pub fn fields(q: &Query) -> Vec<String> {
    fn walk(e: &Expr, out: &mut Vec<String>) {
        match e {
            Expr::And { args } | Expr::Or { args } => args.iter().for_each(|a| walk(a, out)),
            Expr::Not { arg } => walk(arg, out),
            Expr::Related { query, .. } => walk(query, out),
            Expr::Compare { field, .. }
            | Expr::In { field, .. }
            | Expr::Range { field, .. }
            | Expr::Glob { field, .. }
            | Expr::Has { field }
            | Expr::Missing { field } => out.push(field.clone()),
            Expr::All | Expr::Under { .. } | Expr::Dataset { .. } | Expr::ReplicaAt { .. } => {}
        }
    }
    let mut out = Vec::new();
    walk(&q.filter, &mut out);
    out.extend(q.order.iter().map(|k| k.field.clone()));
    out.sort();
    out.dedup();
    out
}

struct Checker<'a> {
    declared: &'a dyn Fn(&str) -> Option<FieldType>,
    leaf: usize,
}

impl Checker<'_> {
    fn fail<T>(&self, message: String) -> Result<T, CheckError> {
        Err(CheckError {
            leaf: self.leaf,
            message,
        })
    }

    fn field(&self, name: &str) -> Result<FieldType, CheckError> {
        match builtin_type(name).or_else(|| (self.declared)(name)) {
            Some(t) => Ok(t),
            None => self.fail(format!(
                "unknown field '{name}': not an attribute (path, name, size, created, modified, status, guid, adler32, owner) \
                 nor a declared metadata field (see 'catalog meta fields'); has({name}) and missing({name}) accept any name"
            )),
        }
    }

    fn literal(&self, field: &str, ty: FieldType, v: &Literal) -> Result<(), CheckError> {
        if v.as_value_of(ty).is_some() {
            return Ok(());
        }
        let hint = match ty {
            FieldType::String => " (strings go in double quotes)",
            FieldType::Datetime => {
                " (an RFC 3339 datetime such as 2016-01-01T00:00:00Z, or a date 2016-01-01)"
            }
            FieldType::Int => " (a whole number, or a size such as 2GiB)",
            _ => "",
        };
        self.fail(format!(
            "field '{field}' is {ty}, but {v} is {}{hint}",
            v.kind()
        ))
    }

    fn expr(&mut self, e: &Expr) -> Result<(), CheckError> {
        match e {
            Expr::All => return Ok(()),
            // The text form cannot say these; a query given as an AST can.
            Expr::And { args } if args.is_empty() => {
                return self.fail("'and' needs at least one condition".to_owned())
            }
            Expr::Or { args } if args.is_empty() => {
                return self.fail("'or' needs at least one condition".to_owned())
            }
            Expr::And { args } | Expr::Or { args } => {
                return args.iter().try_for_each(|a| self.expr(a))
            }
            Expr::Not { arg } => return self.expr(arg),
            Expr::Related { query, .. } => return self.expr(query),
            Expr::Compare { field, cmp, value } => {
                let ty = self.field(field)?;
                self.literal(field, ty, value)?;
                if ty == FieldType::Bool && !matches!(cmp, Cmp::Eq | Cmp::Ne) {
                    return self.fail(format!("field '{field}' is bool: compare it with = or !="));
                }
            }
            Expr::In { field, values, .. } => {
                let ty = self.field(field)?;
                if values.is_empty() {
                    return self.fail(format!("'{field} in (...)' needs at least one value"));
                }
                values.iter().try_for_each(|v| self.literal(field, ty, v))?;
            }
            Expr::Range { field, low, high } => {
                let ty = self.field(field)?;
                self.literal(field, ty, low)?;
                self.literal(field, ty, high)?;
                if ty == FieldType::Bool {
                    return self.fail(format!(
                        "field '{field}' is bool: a range needs numbers, strings or datetimes"
                    ));
                }
            }
            Expr::Glob { field, .. } => {
                let ty = self.field(field)?;
                if ty != FieldType::String {
                    return self.fail(format!("'~' matches string fields, and '{field}' is {ty}"));
                }
            }
            Expr::Has { .. }
            | Expr::Missing { .. }
            | Expr::Under { .. }
            | Expr::Dataset { .. }
            | Expr::ReplicaAt { .. } => {}
        }
        self.leaf += 1;
        Ok(())
    }
}
