//! Pure business rules: no actors, no I/O. Actors call these; tests exercise them directly.

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
