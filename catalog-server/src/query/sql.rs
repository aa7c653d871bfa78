//! SQL text assembled from fixed fragments, with every value bound as a parameter: the
//! query compiler's only way to speak to the database.

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::sql_types::{BigInt, Double, Text, Timestamp};
use diesel::sqlite::Sqlite;
use diesel::{QueryableByName, RunQueryDsl};

use crate::db::DbConn;
use crate::error::Result;

#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Int(i64),
    Float(f64),
    Text(String),
    Time(NaiveDateTime),
}

/// SQL under construction. Fragments are written by the compiler from constants and
/// generated identifiers; values go through [`Sql::bind`] only.
#[derive(Debug, Clone)]
pub struct Sql {
    pg: bool,
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    pub fn new(conn: &DbConn) -> Sql {
        Sql {
            pg: matches!(conn, DbConn::Pg(_)),
            text: String::new(),
            binds: Vec::new(),
        }
    }

    pub fn is_pg(&self) -> bool {
        self.pg
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn push(&mut self, fragment: &str) -> &mut Self {
        self.text.push_str(fragment);
        self
    }

    /// Appends a placeholder for `value`: `$n` on PostgreSQL, `?` on SQLite.
    pub fn bind(&mut self, value: Bind) -> &mut Self {
        self.binds.push(value);
        if self.pg {
            self.text.push('$');
            self.text.push_str(&self.binds.len().to_string());
        } else {
            self.text.push('?');
        }
        self
    }

    /// Runs a statement that returns no rows; the number of rows it changed.
    pub fn execute(&self, conn: &mut DbConn) -> Result<usize> {
        Ok(match conn {
            DbConn::Pg(c) => self.boxed_pg().execute(c)?,
            DbConn::Sqlite(c) => self.boxed_sqlite().execute(c)?,
        })
    }

    /// Runs the statement and reads its rows.
    pub fn load<T>(&self, conn: &mut DbConn) -> Result<Vec<T>>
    where
        T: QueryableByName<Pg> + QueryableByName<Sqlite> + 'static,
    {
        Ok(match conn {
            DbConn::Pg(c) => self.boxed_pg().load::<T>(c)?,
            DbConn::Sqlite(c) => self.boxed_sqlite().load::<T>(c)?,
        })
    }
}

/// The statement as diesel runs it on one backend, each value bound with its SQL type.
macro_rules! boxed {
    ($name:ident, $db:ty) => {
        impl Sql {
            fn $name(
                &self,
            ) -> diesel::query_builder::BoxedSqlQuery<'static, $db, diesel::query_builder::SqlQuery>
            {
                let mut q = diesel::sql_query(self.text.clone()).into_boxed::<$db>();
                for b in &self.binds {
                    q = match b {
                        Bind::Int(v) => q.bind::<BigInt, _>(*v),
                        Bind::Float(v) => q.bind::<Double, _>(*v),
                        Bind::Text(v) => q.bind::<Text, _>(v.clone()),
                        Bind::Time(v) => q.bind::<Timestamp, _>(*v),
                    };
                }
                q
            }
        }
    };
}
boxed!(boxed_pg, Pg);
boxed!(boxed_sqlite, Sqlite);
