//! Pure business rules: no actors, no I/O. Actors call these; tests exercise them directly.

pub mod password;
pub mod permissions;
pub mod validate;
