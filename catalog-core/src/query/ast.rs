//! The query AST: what the text language parses into, what the JSON form of a query is, and
//! what the server compiles into SQL.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::meta::{FieldType, MetaValue};

/// A whole query: a filter, an order and a limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Query {
    pub filter: Expr,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order: Vec<OrderKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

impl Query {
    /// The query that selects every file.
    pub fn all() -> Query {
        Query {
            filter: Expr::All,
            order: Vec::new(),
            limit: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderKey {
    pub field: String,
    #[serde(default)]
    pub descending: bool,
}

/// A filter: which files a query selects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Expr {
    /// Every file (the empty query).
    All,
    And {
        #[schema(no_recursion)]
        args: Vec<Expr>,
    },
    Or {
        #[schema(no_recursion)]
        args: Vec<Expr>,
    },
    Not {
        #[schema(no_recursion)]
        arg: Box<Expr>,
    },
    /// `field OP value`
    Compare {
        field: String,
        cmp: Cmp,
        value: Literal,
    },
    /// `field in (a, b)`, or `field not in (a, b)` when negated.
    In {
        field: String,
        values: Vec<Literal>,
        #[serde(default)]
        negated: bool,
    },
    /// `field in low..high`, both ends included.
    Range {
        field: String,
        low: Literal,
        high: Literal,
    },
    /// `field ~ "pattern"`: `*` any run of characters (including `/`), `?` one character.
    Glob { field: String, pattern: String },
    /// `has(field)`: the file has a value for the field (its own or its directory's).
    Has { field: String },
    /// `missing(field)`: the opposite of `has(field)`.
    Missing { field: String },
    /// `under "/dir"`: files anywhere below the directory.
    Under { path: String },
    /// `dataset = "NAME"`: files of the dataset.
    Dataset { name: String },
    /// `replica_at = "SE"`: files with a replica on the storage element.
    ReplicaAt { se: String },
    /// `parent(Q)` etc.: files one of whose relatives of that kind matches Q, at most
    /// `max_depth` generations away (ancestor/descendant only; parent/child are depth 1).
    Related {
        relation: Relation,
        #[schema(no_recursion)]
        query: Box<Expr>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_depth: Option<u32>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Cmp {
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl Cmp {
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// Files one of whose parents matches.
    Parent,
    /// Files one of whose children matches.
    Child,
    /// Files one of whose ancestors matches.
    Ancestor,
    /// Files one of whose descendants matches.
    Descendant,
}

impl Relation {
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Parent => "parent",
            Relation::Child => "child",
            Relation::Ancestor => "ancestor",
            Relation::Descendant => "descendant",
        }
    }

    /// True when the related files are found by walking from the matching files towards
    /// their children (the matching files are parents/ancestors of the result).
    pub fn walks_down(self) -> bool {
        matches!(self, Relation::Parent | Relation::Ancestor)
    }
}

/// A typed literal. In JSON: `{"int": 3}`, `{"float": 2.5}`, `{"string": "x"}`,
/// `{"bool": true}`, `{"datetime": "2016-01-01T00:00:00Z"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Literal {
    Int(i64),
    Float(f64),
    String(String),
    Bool(bool),
    Datetime(DateTime<Utc>),
}

impl Literal {
    pub fn kind(&self) -> FieldType {
        match self {
            Literal::Int(_) => FieldType::Int,
            Literal::Float(_) => FieldType::Float,
            Literal::String(_) => FieldType::String,
            Literal::Bool(_) => FieldType::Bool,
            Literal::Datetime(_) => FieldType::Datetime,
        }
    }

    /// The literal as a value of a field of type `ty`: an integer is accepted for a float
    /// field, nothing else crosses types.
    pub fn as_value_of(&self, ty: FieldType) -> Option<MetaValue> {
        Some(match (self, ty) {
            (Literal::Int(v), FieldType::Int) => MetaValue::Int(*v),
            (Literal::Int(v), FieldType::Float) => MetaValue::Float(*v as f64),
            (Literal::Float(v), FieldType::Float) => MetaValue::Float(*v),
            (Literal::String(v), FieldType::String) => MetaValue::String(v.clone()),
            (Literal::Bool(v), FieldType::Bool) => MetaValue::Bool(*v),
            (Literal::Datetime(v), FieldType::Datetime) => MetaValue::Datetime(*v),
            _ => return None,
        })
    }
}

impl From<MetaValue> for Literal {
    fn from(v: MetaValue) -> Literal {
        match v {
            MetaValue::Int(v) => Literal::Int(v),
            MetaValue::Float(v) => Literal::Float(v),
            MetaValue::String(v) => Literal::String(v),
            MetaValue::Bool(v) => Literal::Bool(v),
            MetaValue::Datetime(v) => Literal::Datetime(v),
        }
    }
}

/// The attributes every file has, with their types; a metadata field may not take these
/// names.
pub const BUILTIN_ATTRIBUTES: [(&str, FieldType); 9] = [
    ("path", FieldType::String),
    ("name", FieldType::String),
    ("size", FieldType::Int),
    ("created", FieldType::Datetime),
    ("modified", FieldType::Datetime),
    ("status", FieldType::String),
    ("guid", FieldType::String),
    ("adler32", FieldType::String),
    ("owner", FieldType::String),
];

/// Words of the language that cannot name a metadata field.
pub const RESERVED_WORDS: [&str; 22] = [
    "and",
    "or",
    "not",
    "in",
    "under",
    "dataset",
    "replica_at",
    "has",
    "missing",
    "parent",
    "child",
    "ancestor",
    "descendant",
    "depth",
    "order",
    "by",
    "asc",
    "desc",
    "limit",
    "true",
    "false",
    "all",
];

pub fn builtin_type(name: &str) -> Option<FieldType> {
    BUILTIN_ATTRIBUTES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
}

/// True when `name` may not be used for a metadata field: an attribute or a word of the
/// query language.
pub fn is_reserved(name: &str) -> bool {
    builtin_type(name).is_some() || RESERVED_WORDS.contains(&name)
}
