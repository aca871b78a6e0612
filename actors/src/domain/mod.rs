//! Pure business rules: no actors, no I/O, no store. Actors call these; tests exercise
//! them directly. Nothing here imports the rest of the crate (a test in
//! `actors/src/tests.rs` reads these files to keep it so); the domain's own errors
//! become a `CoreError` at the actor boundary (`From` impls in `error.rs`).

pub mod attachments;
pub mod capacity;
pub mod ics;
pub mod mentions;
pub mod metrics;
pub mod observances;
pub mod password;
pub mod permissions;
pub mod recurrence;
pub mod time;
pub mod upload;
pub mod validate;
pub mod workflow;

/// A value breaks a business rule; the message says which, for the person who gave it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    /// The rule broken, in a sentence for people.
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

/// The result of a domain rule: the value, or why it was refused.
pub type Checked<T> = Result<T, Invalid>;
