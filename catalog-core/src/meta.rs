//! Typed metadata: the five field types and the values they hold, read from JSON (the API)
//! or from `KEY=VALUE` text (the command line).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Int,
    Float,
    String,
    Datetime,
    Bool,
}

impl FieldType {
    pub const ALL: [FieldType; 5] = [
        Self::Int,
        Self::Float,
        Self::String,
        Self::Datetime,
        Self::Bool,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Int => "int",
            Self::Float => "float",
            Self::String => "string",
            Self::Datetime => "datetime",
            Self::Bool => "bool",
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FieldType {
    type Err = MetaError;
    fn from_str(s: &str) -> Result<Self, MetaError> {
        match s.to_ascii_lowercase().as_str() {
            "int" | "integer" => Ok(Self::Int),
            "float" | "double" => Ok(Self::Float),
            "string" | "str" | "text" => Ok(Self::String),
            "datetime" | "timestamp" | "date" => Ok(Self::Datetime),
            "bool" | "boolean" => Ok(Self::Bool),
            _ => Err(MetaError::UnknownType(s.to_owned())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetaError {
    #[error("unknown field type {0:?}: expected int, float, string, datetime or bool")]
    UnknownType(String),
    #[error("field {field} is {expected}, got {got}")]
    WrongType {
        field: String,
        expected: FieldType,
        got: String,
    },
    #[error("invalid field name {0:?}: use letters, digits and '_', starting with a letter or '_', at most 64 characters")]
    BadName(String),
    #[error(
        "field name {0:?} is reserved: it is a file attribute or a word of the query language"
    )]
    Reserved(String),
    #[error("field {0}: null is not a value (use 'meta rm' to remove a field)")]
    Null(String),
    #[error("field {0}: arrays and objects are not metadata values")]
    Composite(String),
    #[error("expected KEY=VALUE, got {0:?}")]
    NotKeyValue(String),
}

/// One metadata value. Datetimes are UTC with microsecond precision.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    Int(i64),
    Float(f64),
    String(String),
    Datetime(DateTime<Utc>),
    Bool(bool),
}

impl MetaValue {
    pub fn field_type(&self) -> FieldType {
        match self {
            Self::Int(_) => FieldType::Int,
            Self::Float(_) => FieldType::Float,
            Self::String(_) => FieldType::String,
            Self::Datetime(_) => FieldType::Datetime,
            Self::Bool(_) => FieldType::Bool,
        }
    }

    /// The JSON form used on the wire: datetimes as RFC 3339 strings.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Int(v) => Value::from(*v),
            Self::Float(v) => Value::from(*v),
            Self::String(v) => Value::from(v.as_str()),
            Self::Datetime(v) => Value::from(format_datetime(v)),
            Self::Bool(v) => Value::from(*v),
        }
    }

    /// Reads a JSON value as a value of the declared type `ty`; nothing is coerced across
    /// kinds, except an integer given for a float field.
    pub fn from_json_typed(field: &str, ty: FieldType, v: &Value) -> Result<Self, MetaError> {
        let wrong = || MetaError::WrongType {
            field: field.to_owned(),
            expected: ty,
            got: v.to_string(),
        };
        check_scalar(field, v)?;
        match ty {
            FieldType::Int => v.as_i64().map(Self::Int).ok_or_else(wrong),
            FieldType::Float => v
                .as_f64()
                .filter(|_| v.is_number())
                .map(Self::Float)
                .ok_or_else(wrong),
            FieldType::String => v
                .as_str()
                .map(|s| Self::String(s.to_owned()))
                .ok_or_else(wrong),
            FieldType::Bool => v.as_bool().map(Self::Bool).ok_or_else(wrong),
            FieldType::Datetime => v
                .as_str()
                .and_then(parse_datetime)
                .map(Self::Datetime)
                .ok_or_else(wrong),
        }
    }

    /// Reads a JSON value for a field not declared yet: its JSON kind gives the type, and a
    /// string that reads as an RFC 3339 datetime is a datetime.
    pub fn from_json_inferred(field: &str, v: &Value) -> Result<Self, MetaError> {
        check_scalar(field, v)?;
        Ok(match v {
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Self::Int(i),
                None => Self::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => match parse_datetime(s) {
                Some(d) => Self::Datetime(d),
                None => Self::String(s.clone()),
            },
            _ => return Err(MetaError::Composite(field.to_owned())),
        })
    }

    /// Reads command-line text as a value of the declared type `ty`.
    pub fn parse_typed(field: &str, ty: FieldType, text: &str) -> Result<Self, MetaError> {
        let wrong = || MetaError::WrongType {
            field: field.to_owned(),
            expected: ty,
            got: format!("{text:?}"),
        };
        match ty {
            FieldType::Int => text.trim().parse().map(Self::Int).map_err(|_| wrong()),
            FieldType::Float => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Self::Float)
                .ok_or_else(wrong),
            FieldType::String => Ok(Self::String(text.to_owned())),
            FieldType::Bool => parse_bool(text).map(Self::Bool).ok_or_else(wrong),
            FieldType::Datetime => parse_datetime(text.trim())
                .map(Self::Datetime)
                .ok_or_else(wrong),
        }
    }

    /// Reads command-line text for a field not declared yet: int, float, bool, RFC 3339
    /// datetime, else string.
    pub fn parse_inferred(text: &str) -> Self {
        let t = text.trim();
        if let Ok(i) = t.parse::<i64>() {
            return Self::Int(i);
        }
        if let Some(f) = t.parse::<f64>().ok().filter(|f| f.is_finite()) {
            return Self::Float(f);
        }
        if let Some(b) = parse_bool(t) {
            return Self::Bool(b);
        }
        if let Some(d) = parse_datetime(t) {
            return Self::Datetime(d);
        }
        Self::String(text.to_owned())
    }
}

impl fmt::Display for MetaValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(v) => write!(f, "{v}"),
            Self::Float(v) => write!(f, "{v}"),
            Self::String(v) => f.write_str(v),
            Self::Datetime(v) => f.write_str(&format_datetime(v)),
            Self::Bool(v) => write!(f, "{v}"),
        }
    }
}

fn check_scalar(field: &str, v: &Value) -> Result<(), MetaError> {
    match v {
        Value::Null => Err(MetaError::Null(field.to_owned())),
        Value::Array(_) | Value::Object(_) => Err(MetaError::Composite(field.to_owned())),
        Value::Number(n) if n.as_f64().is_some_and(|f| !f.is_finite()) => {
            Err(MetaError::Composite(field.to_owned()))
        }
        _ => Ok(()),
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Parses an RFC 3339 datetime and truncates it to microseconds, the precision stored.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    let d = DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc);
    DateTime::from_timestamp_micros(d.timestamp_micros())
}

pub fn format_datetime(d: &DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Checks a metadata field name: `[A-Za-z_][A-Za-z0-9_]{0,63}`, and not a reserved word.
pub fn validate_field_name(name: &str) -> Result<(), MetaError> {
    validate_field_shape(name)?;
    if crate::query::is_reserved(name) {
        return Err(MetaError::Reserved(name.to_owned()));
    }
    Ok(())
}

/// Checks the characters of a field name: `[A-Za-z_][A-Za-z0-9_]{0,63}`.
pub fn validate_field_shape(name: &str) -> Result<(), MetaError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && name.len() <= 64 && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(MetaError::BadName(name.to_owned()))
    }
}

/// Splits `KEY=VALUE` at the first `=`.
pub fn split_key_value(arg: &str) -> Result<(&str, &str), MetaError> {
    match arg.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k, v)),
        _ => Err(MetaError::NotKeyValue(arg.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_inference_order() {
        assert_eq!(MetaValue::parse_inferred("42"), MetaValue::Int(42));
        assert_eq!(MetaValue::parse_inferred("4.5"), MetaValue::Float(4.5));
        assert_eq!(MetaValue::parse_inferred("true"), MetaValue::Bool(true));
        assert_eq!(
            MetaValue::parse_inferred("B06-W0212"),
            MetaValue::String("B06-W0212".into())
        );
        assert_eq!(
            MetaValue::parse_inferred("2016-01-01T00:00:00Z").field_type(),
            FieldType::Datetime
        );
        assert_eq!(
            MetaValue::parse_inferred("nan"),
            MetaValue::String("nan".into())
        );
    }

    #[test]
    fn typed_text_refuses_wrong_type() {
        let err = MetaValue::parse_typed("start_time", FieldType::Int, "abc").unwrap_err();
        assert_eq!(err.to_string(), r#"field start_time is int, got "abc""#);
        assert_eq!(
            MetaValue::parse_typed("s", FieldType::String, "42").unwrap(),
            MetaValue::String("42".into())
        );
    }

    #[test]
    fn typed_json_is_strict() {
        assert!(MetaValue::from_json_typed("run", FieldType::Int, &json!("42")).is_err());
        assert!(MetaValue::from_json_typed("run", FieldType::Int, &json!(4.5)).is_err());
        assert_eq!(
            MetaValue::from_json_typed("x", FieldType::Float, &json!(4)).unwrap(),
            MetaValue::Float(4.0)
        );
        assert!(MetaValue::from_json_typed("x", FieldType::Int, &json!(null)).is_err());
        assert!(MetaValue::from_json_typed("x", FieldType::String, &json!([1])).is_err());
    }

    #[test]
    fn datetime_round_trips_through_json() {
        let v = MetaValue::parse_inferred("2016-03-01T12:00:00.5+01:00");
        assert_eq!(v.to_json(), json!("2016-03-01T11:00:00.500Z"));
        assert_eq!(MetaValue::from_json_inferred("t", &v.to_json()).unwrap(), v);
    }

    #[test]
    fn field_names() {
        assert!(validate_field_name("start_time").is_ok());
        assert!(validate_field_name("_x9").is_ok());
        assert!(validate_field_name("9x").is_err());
        assert!(validate_field_name("a-b").is_err());
        assert!(validate_field_name("").is_err());
        assert_eq!(
            validate_field_name("size"),
            Err(MetaError::Reserved("size".into()))
        );
        assert!(validate_field_name("order").is_err());
    }
}
