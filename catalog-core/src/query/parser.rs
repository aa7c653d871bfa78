//! Recursive descent over the tokens: `or` binds loosest, then `and`, then `not`.

use super::ast::{Cmp, Expr, Literal, OrderKey, Query, Relation};
use super::lexer::{tokenize, Pos, Tok, Token};
use super::ParseError;
use crate::meta::validate_field_shape;

/// Deepest nesting of parentheses and sub-queries accepted, so that no input can exhaust
/// the stack.
pub const MAX_NESTING: usize = 64;

/// Longest query text accepted (a list of ten thousand run numbers fits).
pub const MAX_QUERY_BYTES: usize = 256 * 1024;

pub fn parse(text: &str) -> Result<Query, ParseError> {
    parse_located(text).map(|(q, _)| q)
}

/// Parses, and gives the position of each condition and order key in the order
/// [`super::check`] visits them, so that a type error can name its line and column.
pub fn parse_located(text: &str) -> Result<(Query, Vec<Pos>), ParseError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(ParseError::new(
            Pos { line: 1, column: 1 },
            &format!("a query of at most {MAX_QUERY_BYTES} bytes"),
            format!("{} bytes", text.len()),
        ));
    }
    let tokens = tokenize(text)?;
    let mut p = Parser {
        tokens,
        at: 0,
        depth: 0,
        leaves: Vec::new(),
    };
    let filter = if p.at_word("order") || p.at_word("limit") || p.peek() == &Tok::End {
        Expr::All
    } else {
        p.or_expr()?
    };
    let mut order = Vec::new();
    if p.eat_word("order") {
        p.expect_word("by")?;
        loop {
            p.leaves.push(p.pos());
            let field = p.field_name()?;
            let descending = if p.eat_word("desc") {
                true
            } else {
                p.eat_word("asc");
                false
            };
            order.push(OrderKey { field, descending });
            if !p.eat_punct(",") {
                break;
            }
        }
    }
    let limit = if p.eat_word("limit") {
        match p.next() {
            (Tok::Int(n), _) if n >= 0 => Some(n as u64),
            (tok, pos) => {
                return Err(ParseError::new(
                    pos,
                    "a non-negative whole number after 'limit'",
                    tok.describe(),
                ))
            }
        }
    } else {
        None
    };
    if p.peek() != &Tok::End {
        let expected = if order.is_empty() && limit.is_none() {
            "'and', 'or', 'order by', 'limit' or end of query"
        } else {
            "end of query"
        };
        return Err(p.error(expected));
    }
    Ok((
        Query {
            filter,
            order,
            limit,
        },
        p.leaves,
    ))
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
    /// Where each condition and order key starts, in the order they were read.
    leaves: Vec<Pos>,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.tokens[self.at].tok
    }

    fn pos(&self) -> Pos {
        self.tokens[self.at].pos
    }

    fn next(&mut self) -> (Tok, Pos) {
        let t = self.tokens[self.at].clone();
        if t.tok != Tok::End {
            self.at += 1;
        }
        (t.tok, t.pos)
    }

    fn error(&self, expected: &str) -> ParseError {
        ParseError::new(self.pos(), expected, self.peek().describe())
    }

    fn at_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == w)
    }

    fn eat_word(&mut self, w: &str) -> bool {
        let yes = self.at_word(w);
        if yes {
            self.at += 1;
        }
        yes
    }

    fn expect_word(&mut self, w: &str) -> Result<(), ParseError> {
        if self.eat_word(w) {
            Ok(())
        } else {
            Err(self.error(&format!("'{w}'")))
        }
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        let yes = matches!(self.peek(), Tok::Punct(q) if *q == p);
        if yes {
            self.at += 1;
        }
        yes
    }

    fn expect_punct(&mut self, p: &str, what: &str) -> Result<(), ParseError> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.error(&format!("at most {MAX_NESTING} levels of nesting")));
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Expr, ParseError> {
        let mut args = vec![self.and_expr()?];
        while self.eat_word("or") {
            args.push(self.and_expr()?);
        }
        Ok(if args.len() == 1 {
            args.remove(0)
        } else {
            Expr::Or { args }
        })
    }

    fn and_expr(&mut self) -> Result<Expr, ParseError> {
        let mut args = vec![self.unary()?];
        while self.eat_word("and") {
            args.push(self.unary()?);
        }
        Ok(if args.len() == 1 {
            args.remove(0)
        } else {
            Expr::And { args }
        })
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.eat_word("not") {
            self.enter()?;
            let arg = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not { arg: Box::new(arg) });
        }
        self.primary()
    }

    fn string(&mut self, after: &str) -> Result<String, ParseError> {
        match self.next() {
            (Tok::Str(s), _) => Ok(s),
            (tok, pos) => Err(ParseError::new(
                pos,
                &format!("a double-quoted string after {after}"),
                tok.describe(),
            )),
        }
    }

    fn field_name(&mut self) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Ident(name) if !super::ast::RESERVED_WORDS.contains(&name.as_str()) => {
                validate_field_shape(&name)
                    .map_err(|e| ParseError::new(self.pos(), "a field name", e.to_string()))?;
                self.at += 1;
                Ok(name)
            }
            _ => Err(self.error("a field name")),
        }
    }

    fn literal(&mut self) -> Result<Literal, ParseError> {
        let lit = match self.peek() {
            Tok::Int(i) => Literal::Int(*i),
            Tok::Float(f) => Literal::Float(*f),
            Tok::Str(s) => Literal::String(s.clone()),
            Tok::Datetime(d) => Literal::Datetime(*d),
            Tok::Ident(w) if w == "true" => Literal::Bool(true),
            Tok::Ident(w) if w == "false" => Literal::Bool(false),
            _ => {
                return Err(self.error(
                    "a value: a number, a size (2GiB), a \"string\", true, false or an RFC 3339 datetime",
                ))
            }
        };
        self.at += 1;
        Ok(lit)
    }

    fn literal_list(&mut self) -> Result<Vec<Literal>, ParseError> {
        let mut values = vec![self.literal()?];
        while self.eat_punct(",") {
            values.push(self.literal()?);
        }
        self.expect_punct(")", "',' or ')' to close the list")?;
        Ok(values)
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        if self.eat_punct("(") {
            self.enter()?;
            let e = self.or_expr()?;
            self.depth -= 1;
            self.expect_punct(")", "')' to close the parenthesis")?;
            return Ok(e);
        }
        let Tok::Ident(word) = self.peek().clone() else {
            return Err(self.error("a condition: a field name, '(', 'not', 'under', 'has', 'missing', 'dataset', 'replica_at' or 'parent'/'child'/'ancestor'/'descendant'"));
        };
        if !matches!(
            word.as_str(),
            "all" | "parent" | "child" | "ancestor" | "descendant"
        ) {
            self.leaves.push(self.pos());
        }
        match word.as_str() {
            "all" => {
                self.at += 1;
                return Ok(Expr::All);
            }
            "has" | "missing" => {
                self.at += 1;
                self.expect_punct("(", &format!("'(' after '{word}'"))?;
                let field = self.field_name()?;
                self.expect_punct(")", "')'")?;
                return Ok(if word == "has" {
                    Expr::Has { field }
                } else {
                    Expr::Missing { field }
                });
            }
            "under" => {
                self.at += 1;
                let path = self.string("'under'")?;
                return Ok(Expr::Under { path });
            }
            "dataset" | "replica_at" => {
                self.at += 1;
                self.expect_punct("=", &format!("'=' after '{word}'"))?;
                let name = self.string(&format!("'{word} ='"))?;
                return Ok(if word == "dataset" {
                    Expr::Dataset { name }
                } else {
                    Expr::ReplicaAt { se: name }
                });
            }
            "parent" | "child" | "ancestor" | "descendant" => {
                self.at += 1;
                return self.related(&word);
            }
            _ => {}
        }
        let field = self.field_name()?;
        let (tok, pos) = self.next();
        match tok {
            Tok::Punct("~") => {
                let pattern = self.string("'~'")?;
                Ok(Expr::Glob { field, pattern })
            }
            Tok::Punct(p) if Cmp::from_str(p).is_some() => {
                let value = self.literal()?;
                Ok(Expr::Compare {
                    field,
                    cmp: Cmp::from_str(p).expect("checked"),
                    value,
                })
            }
            Tok::Ident(w) if w == "in" => {
                if self.eat_punct("(") {
                    let values = self.literal_list()?;
                    return Ok(Expr::In {
                        field,
                        values,
                        negated: false,
                    });
                }
                let low = self.literal()?;
                self.expect_punct("..", "'..' in a range such as 10..20")?;
                let high = self.literal()?;
                Ok(Expr::Range { field, low, high })
            }
            Tok::Ident(w) if w == "not" => {
                self.expect_word("in")?;
                self.expect_punct("(", "'(' to open the list after 'not in'")?;
                let values = self.literal_list()?;
                Ok(Expr::In {
                    field,
                    values,
                    negated: true,
                })
            }
            tok => Err(ParseError::new(
                pos,
                &format!("an operator after '{field}': = != < <= > >= in, not in or ~"),
                tok.describe(),
            )),
        }
    }

    fn related(&mut self, word: &str) -> Result<Expr, ParseError> {
        let relation = match word {
            "parent" => Relation::Parent,
            "child" => Relation::Child,
            "ancestor" => Relation::Ancestor,
            _ => Relation::Descendant,
        };
        self.expect_punct("(", &format!("'(' after '{word}'"))?;
        self.enter()?;
        let query = self.or_expr()?;
        self.depth -= 1;
        let mut max_depth = None;
        if self.eat_punct(",") {
            if matches!(relation, Relation::Parent | Relation::Child) {
                return Err(self.error(&format!(
                    "')': '{word}' is one generation; use 'ancestor' or 'descendant' with a depth"
                )));
            }
            self.expect_word("depth")?;
            let (op, pos) = self.next();
            let strict = match op {
                Tok::Punct("<=") => false,
                Tok::Punct("<") => true,
                tok => {
                    return Err(ParseError::new(
                        pos,
                        "'<=' or '<' after 'depth'",
                        tok.describe(),
                    ))
                }
            };
            let (n, pos) = self.next();
            let n = match n {
                Tok::Int(n) if n > i64::from(strict) && n <= i64::from(u32::MAX) => n as u32,
                tok => {
                    return Err(ParseError::new(
                        pos,
                        "a depth of at least 1",
                        tok.describe(),
                    ))
                }
            };
            max_depth = Some(if strict { n - 1 } else { n });
        }
        self.expect_punct(")", &format!("',' depth bound or ')' to close '{word}('"))?;
        Ok(Expr::Related {
            relation,
            query: Box::new(query),
            max_depth,
        })
    }
}

impl Cmp {
    fn from_str(p: &str) -> Option<Cmp> {
        Some(match p {
            "=" => Cmp::Eq,
            "!=" => Cmp::Ne,
            "<" => Cmp::Lt,
            "<=" => Cmp::Le,
            ">" => Cmp::Gt,
            ">=" => Cmp::Ge,
            _ => return None,
        })
    }
}
