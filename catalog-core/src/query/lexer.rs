//! Splits query text into tokens, each with its line and column.

use chrono::{DateTime, NaiveDate, Utc};

use super::ParseError;
use crate::meta::parse_datetime;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    Datetime(DateTime<Utc>),
    /// `= != < <= > >= ~ ( ) , ..`
    Punct(&'static str),
    End,
}

impl Tok {
    /// How the token is named in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Int(i) => format!("number {i}"),
            Tok::Float(f) => format!("number {f}"),
            Tok::Datetime(d) => format!("datetime {}", crate::meta::format_datetime(d)),
            Tok::Punct(p) => format!("'{p}'"),
            Tok::End => "end of query".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub pos: Pos,
}

const PUNCTS: [&str; 11] = ["!=", "<=", ">=", "..", "=", "<", ">", "~", "(", ")", ","];

/// Size units: decimal (`kB`, `MB`, ...) and binary (`KiB`, `MiB`, ...).
pub(crate) const UNITS: [(&str, u64); 12] = [
    ("B", 1),
    ("kB", 1_000),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("PB", 1_000_000_000_000_000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
    ("PiB", 1 << 50),
];

pub fn tokenize(text: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1u32, 1u32);
    // Advances over `n` characters, keeping line and column.
    let advance = |i: &mut usize, line: &mut u32, col: &mut u32, n: usize| {
        for _ in 0..n {
            if chars[*i] == '\n' {
                *line += 1;
                *col = 1;
            } else {
                *col += 1;
            }
            *i += 1;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let pos = Pos { line, column: col };
        if c.is_whitespace() {
            advance(&mut i, &mut line, &mut col, 1);
            continue;
        }
        let err = |expected: &str, found: String| ParseError::new(pos, expected, found);
        let (tok, len) = if c.is_ascii_alphabetic() || c == '_' {
            let len = chars[i..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                .count();
            (Tok::Ident(chars[i..i + len].iter().collect()), len)
        } else if c == '"' {
            lex_string(&chars[i..]).map_err(|(off, found)| {
                ParseError::new(
                    Pos {
                        line,
                        column: col + off as u32,
                    },
                    "a closing '\"' or a valid escape (\\\" \\\\ \\n \\t \\r \\u{HEX})",
                    found,
                )
            })?
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            lex_number(&chars[i..]).map_err(|found| {
                err(
                    "a number, a size such as 2GiB or an RFC 3339 datetime",
                    found,
                )
            })?
        } else if let Some(p) = PUNCTS
            .iter()
            .find(|p| chars[i..].starts_with(&p.chars().collect::<Vec<_>>()))
        {
            (Tok::Punct(p), p.len())
        } else {
            return Err(err(
                "a field, a value, an operator or a parenthesis",
                format!("'{c}'"),
            ));
        };
        out.push(Token { tok, pos });
        advance(&mut i, &mut line, &mut col, len);
    }
    out.push(Token {
        tok: Tok::End,
        pos: Pos { line, column: col },
    });
    Ok(out)
}

/// A double-quoted string at the start of `s`: the token and how many characters it took,
/// or the offset and description of what is wrong.
fn lex_string(s: &[char]) -> Result<(Tok, usize), (usize, String)> {
    let mut out = String::new();
    let mut i = 1;
    loop {
        match s.get(i) {
            None => return Err((i, "end of query inside a string".to_owned())),
            Some('"') => return Ok((Tok::Str(out), i + 1)),
            Some('\\') => {
                let (ch, used) = match s.get(i + 1) {
                    Some('"') => ('"', 2),
                    Some('\\') => ('\\', 2),
                    Some('n') => ('\n', 2),
                    Some('t') => ('\t', 2),
                    Some('r') => ('\r', 2),
                    Some('u') if s.get(i + 2) == Some(&'{') => {
                        let hex: String = s[i + 3..].iter().take_while(|c| **c != '}').collect();
                        let ch = u32::from_str_radix(&hex, 16)
                            .ok()
                            .filter(|_| {
                                !hex.is_empty()
                                    && hex.len() <= 6
                                    && s.get(i + 3 + hex.len()) == Some(&'}')
                            })
                            .and_then(char::from_u32)
                            .ok_or((i, format!("bad escape \\u{{{hex}")))?;
                        (ch, 4 + hex.len())
                    }
                    Some(c) => return Err((i, format!("unknown escape \\{c}"))),
                    None => return Err((i, "end of query inside a string".to_owned())),
                };
                out.push(ch);
                i += used;
            }
            Some(c) => {
                out.push(*c);
                i += 1;
            }
        }
    }
}

/// A number, a size with a unit, or a datetime at the start of `s`.
fn lex_number(s: &[char]) -> Result<(Tok, usize), String> {
    // A datetime first: the longest run of characters a datetime may hold.
    let run = s
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '+' | '-'))
        .count();
    if s[0] != '-' {
        for len in (10..=run).rev() {
            let text: String = s[..len].iter().collect();
            if let Some(d) = parse_datetime(&text) {
                return Ok((Tok::Datetime(d), len));
            }
            if len == 10 {
                if let Ok(d) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
                    let d = d.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
                    if let Some(d) = d {
                        return Ok((Tok::Datetime(d), len));
                    }
                }
            }
        }
    }
    let mut len = usize::from(s[0] == '-');
    len += s[len..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut is_float = false;
    // A fraction only when a digit follows the dot: `10..20` is a range.
    if s.get(len) == Some(&'.') && s.get(len + 1).is_some_and(|c| c.is_ascii_digit()) {
        is_float = true;
        len += 1 + s[len + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
    }
    if matches!(s.get(len), Some('e' | 'E')) {
        let sign = usize::from(matches!(s.get(len + 1), Some('+' | '-')));
        let digits = s[(len + 1 + sign).min(s.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits > 0 {
            is_float = true;
            len += 1 + sign + digits;
        }
    }
    let text: String = s[..len].iter().collect();
    let unit_len = s[len..]
        .iter()
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    let word: String = s[len..len + unit_len].iter().collect();
    if unit_len > 0 {
        let Some((_, factor)) = UNITS.iter().find(|(u, _)| *u == word) else {
            return Err(format!(
                "'{text}{word}' (size units are B, kB, MB, GB, TB, PB, KiB, MiB, GiB, TiB, PiB)"
            ));
        };
        let value: f64 = text.parse().map_err(|_| format!("'{text}'"))?;
        let bytes = (value * *factor as f64).round();
        if bytes.is_nan() || bytes.abs() >= 9.2e18 {
            return Err(format!("'{text}{word}' (too large)"));
        }
        return Ok((Tok::Int(bytes as i64), len + unit_len));
    }
    if is_float {
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok((Tok::Float(f), len)),
            _ => Err(format!("'{text}' (out of range)")),
        }
    } else {
        text.parse::<i64>()
            .map(|i| (Tok::Int(i), len))
            .map_err(|_| format!("'{text}' (out of range for a 64-bit integer)"))
    }
}
