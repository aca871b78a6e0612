//! The error every actor call can answer with, and the store's. The web crate maps them
//! to HTTP statuses and protocol error codes in one place. Depends on the domain only:
//! the domain's own errors become a `CoreError` here.

use crate::domain::{self, attachments};
use cflows_protocol::{CapacityRefusal, ErrorCode};

fn no_capacity_message(r: &CapacityRefusal) -> String {
    let mut msg = match &r.conflict {
        Some(c) => format!(
            "not enough capacity: {} of {} members are already booked from {}",
            r.booked,
            r.capacity,
            domain::capacity::describe(c)
        ),
        None => "that time is outside the team's working hours".to_string(),
    };
    if r.waitlisted.is_some() {
        msg.push_str("; you are on the waitlist for it");
    }
    msg
}

/// Why a request to the core was not carried out. Nothing was changed in any case.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The input breaks a rule; the message says which, for people.
    #[error("{0}")]
    InvalidInput(String),
    /// No such entity, or it belongs to another organization (deliberately the same).
    #[error("not found")]
    NotFound,
    /// The change clashes with existing state.
    #[error("{0}")]
    Conflict(String),
    /// A booking does not fit the team's capacity or working hours.
    #[error("{}", no_capacity_message(.0))]
    NoCapacity(Box<CapacityRefusal>),
    /// The caller's role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// The store failed; the change was not made.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The owning actor did not answer (crashed, stopping, or timed out).
    #[error("the service is unavailable, try again")]
    Unavailable,
    /// Something outside the store failed (the attachment disk); the cause is logged.
    #[error("{0}")]
    Internal(String),
}

impl CoreError {
    /// Shorthand for an input error.
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidInput(msg.into())
    }

    /// The protocol code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_) => ErrorCode::InvalidInput,
            Self::NotFound => ErrorCode::NotFound,
            Self::Conflict(_) | Self::Store(StoreError::Duplicate(_)) => ErrorCode::Conflict,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NoCapacity(_) => ErrorCode::NoCapacity,
            Self::Store(_) | Self::Internal(_) => ErrorCode::Internal,
            Self::Unavailable => ErrorCode::Unavailable,
        }
    }
}

impl From<domain::Invalid> for CoreError {
    fn from(e: domain::Invalid) -> Self {
        Self::InvalidInput(e.0)
    }
}

impl From<attachments::Refused> for CoreError {
    fn from(e: attachments::Refused) -> Self {
        match e {
            attachments::Refused::TooMany(_) => Self::InvalidInput(e.to_string()),
            attachments::Refused::NotYours(_) => Self::Forbidden(e.to_string()),
        }
    }
}

/// What can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The engine refused or failed the operation.
    #[error("database error: {0}")]
    Db(String),
    /// A unique index rejected the write (duplicate email, slug, team name).
    #[error("duplicate value: {0}")]
    Duplicate(String),
    /// Two transactions touched the same data at once and this one lost; nothing was
    /// written (another writer may have changed what this one read).
    #[error("write conflict: {0}")]
    TxConflict(String),
    /// A row did not have the shape the code expects: a bug or a foreign write.
    #[error("unexpected row shape: {0}")]
    Decode(String),
    /// An applied migration file differs from the one compiled in.
    #[error(
        "migration {name} was applied with checksum {applied} but the binary has {current}; applied migrations must never be edited, add a new file instead"
    )]
    MigrationChanged {
        name: String,
        applied: String,
        current: String,
    },
    /// The database has migrations this binary does not know (it is older than the data).
    #[error("the database has migration {0} which this binary does not know; run a newer cflows")]
    UnknownMigration(String),
}

/// Result alias for core calls.
pub type CoreResult<T> = Result<T, CoreError>;
