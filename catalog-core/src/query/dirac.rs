//! The DIRAC `find` shorthand: `find /path key=value key2>3 key3=v1,v2`, the AND of its
//! terms under the path, `v1,v2` meaning `in`.

use super::ast::{Cmp, Expr, Literal, Query};

/// One `KEY OP VALUE` term, the value still text: the caller types it by the field's
/// declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiracTerm {
    pub field: String,
    pub cmp: Cmp,
    /// One value, or several for `key=v1,v2` (`in`) and `key!=v1,v2` (`not in`).
    pub values: Vec<String>,
}

impl DiracTerm {
    /// Splits `key>=3` etc. at its operator.
    pub fn parse(term: &str) -> Result<DiracTerm, String> {
        let ops = [
            ("!=", Cmp::Ne),
            (">=", Cmp::Ge),
            ("<=", Cmp::Le),
            ("=", Cmp::Eq),
            (">", Cmp::Gt),
            ("<", Cmp::Lt),
        ];
        let at = term.find(['=', '!', '<', '>']).ok_or_else(|| {
            format!(
                "{term:?} is not a KEY=VALUE term (operators: = != < <= > >=; v1,v2 for a list)"
            )
        })?;
        let (field, rest) = term.split_at(at);
        let (op, cmp) = ops
            .iter()
            .find(|(op, _)| rest.starts_with(op))
            .ok_or_else(|| format!("{term:?}: unknown operator"))?;
        let value = &rest[op.len()..];
        if field.is_empty() || value.is_empty() {
            return Err(format!("{term:?}: expected KEY{op}VALUE"));
        }
        let values: Vec<String> = if matches!(cmp, Cmp::Eq | Cmp::Ne) {
            value.split(',').map(str::to_owned).collect()
        } else {
            vec![value.to_owned()]
        };
        Ok(DiracTerm {
            field: field.to_owned(),
            cmp: *cmp,
            values,
        })
    }
}

/// The query for `find DIR TERMS...`, each term's values already typed.
pub fn from_dirac_terms(dir: &str, terms: Vec<(DiracTerm, Vec<Literal>)>) -> Query {
    let mut args = vec![Expr::Under {
        path: dir.to_owned(),
    }];
    for (term, mut values) in terms {
        args.push(if values.len() == 1 {
            Expr::Compare {
                field: term.field,
                cmp: term.cmp,
                value: values.remove(0),
            }
        } else {
            Expr::In {
                field: term.field,
                values,
                negated: term.cmp == Cmp::Ne,
            }
        });
    }
    Query {
        filter: if args.len() == 1 {
            args.remove(0)
        } else {
            Expr::And { args }
        },
        order: Vec::new(),
        limit: None,
    }
}
