//! The server's one error type, answered as `application/problem+json`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use catalog_core::api::{ItemError, Problem};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    BadRequest(String),
    /// A bulk request refused whole, with what is wrong with each item.
    #[error("{message}")]
    Invalid {
        message: String,
        items: Vec<ItemError>,
    },
    /// A query that does not read or type, placed in its text when it was text.
    #[error("{message}")]
    Query {
        message: String,
        line: Option<u32>,
        column: Option<u32>,
    },
    /// No credentials, or credentials that do not prove who the caller is.
    #[error("{0}")]
    Unauthorized(String),
    /// An authenticated caller without the right.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("storage: {0}")]
    Storage(String),
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Pool(#[from] r2d2::Error),
}

/// The stable kinds an error body's `type` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    TooLarge,
    Unavailable,
    Storage,
    Internal,
}

impl Code {
    fn status(self) -> StatusCode {
        match self {
            Code::BadRequest => StatusCode::BAD_REQUEST,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Forbidden => StatusCode::FORBIDDEN,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::Conflict => StatusCode::CONFLICT,
            Code::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::Storage => StatusCode::BAD_GATEWAY,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn urn(self) -> &'static str {
        match self {
            Code::BadRequest => "urn:catalog:bad-request",
            Code::Unauthorized => "urn:catalog:unauthorized",
            Code::Forbidden => "urn:catalog:forbidden",
            Code::NotFound => "urn:catalog:not-found",
            Code::Conflict => "urn:catalog:conflict",
            Code::TooLarge => "urn:catalog:too-large",
            Code::Unavailable => "urn:catalog:unavailable",
            Code::Storage => "urn:catalog:storage",
            Code::Internal => "urn:catalog:internal",
        }
    }
}

impl Error {
    pub fn bad(msg: impl Into<String>) -> Self {
        Error::BadRequest(msg.into())
    }

    pub fn not_found(msg: impl Into<String>) -> Self {
        Error::NotFound(msg.into())
    }

    pub fn conflict(msg: impl Into<String>) -> Self {
        Error::Conflict(msg.into())
    }

    pub fn code(&self) -> Code {
        use diesel::result::{DatabaseErrorKind as K, Error as D};
        match self {
            Error::BadRequest(_) | Error::Invalid { .. } | Error::Query { .. } => Code::BadRequest,
            Error::Unauthorized(_) => Code::Unauthorized,
            Error::Forbidden(_) => Code::Forbidden,
            Error::NotFound(_) | Error::Database(D::NotFound) => Code::NotFound,
            Error::Conflict(_) | Error::Database(D::DatabaseError(K::UniqueViolation, _)) => {
                Code::Conflict
            }
            Error::TooLarge(_) => Code::TooLarge,
            Error::Unavailable(_) | Error::Pool(_) => Code::Unavailable,
            Error::Database(D::DatabaseError(K::ClosedConnection | K::UnableToSendCommand, _)) => {
                Code::Unavailable
            }
            Error::Storage(_) => Code::Storage,
            Error::Internal(_) | Error::Database(_) => Code::Internal,
        }
    }

    fn detail(&self) -> String {
        match (self.code(), self) {
            (Code::Unavailable, Error::Pool(_) | Error::Database(_)) => {
                "the database is not reachable; try again shortly".to_owned()
            }
            (Code::Internal, _) => "internal server error".to_owned(),
            (Code::NotFound, Error::Database(_)) => "not found".to_owned(),
            (Code::Conflict, Error::Database(e)) => format!("conflict: {e}"),
            _ => self.to_string(),
        }
    }
}

impl From<catalog_core::LfnError> for Error {
    fn from(e: catalog_core::LfnError) -> Self {
        Error::BadRequest(e.to_string())
    }
}

impl From<catalog_core::MetaError> for Error {
    fn from(e: catalog_core::MetaError) -> Self {
        Error::BadRequest(e.to_string())
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        self.code().status()
    }

    fn error_response(&self) -> HttpResponse {
        let code = self.code();
        if matches!(code, Code::Internal | Code::Unavailable) {
            tracing::error!(error = %self, "request failed");
        }
        let status = code.status();
        let problem = Problem {
            kind: code.urn().to_owned(),
            title: status.canonical_reason().unwrap_or("error").to_lowercase(),
            status: status.as_u16(),
            detail: self.detail(),
            errors: match self {
                Error::Invalid { items, .. } => items.clone(),
                _ => Vec::new(),
            },
            line: match self {
                Error::Query { line, .. } => *line,
                _ => None,
            },
            column: match self {
                Error::Query { column, .. } => *column,
                _ => None,
            },
        };
        HttpResponse::build(status)
            .content_type("application/problem+json")
            .json(problem)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
