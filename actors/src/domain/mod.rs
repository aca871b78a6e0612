//! Pure business rules: no actors, no I/O. Actors call these; tests exercise them directly.

pub mod capacity;
pub mod password;
pub mod permissions;
pub mod time;
pub mod validate;
