//! Typed ids: an `OrgId` can never be passed where a `TeamId` is expected.
//!
//! Ids are opaque strings on the wire. The server makes them from UUIDv7 (time-ordered,
//! so records sort by creation); clients must not parse them.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
        pub struct $name(String);

        impl $name {
            /// Wraps an id received from outside; it is checked only by lookup.
            pub fn new(raw: impl Into<String>) -> Self {
                Self(raw.into())
            }

            /// The id as it travels on the wire and sits in the store.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(raw: String) -> Self {
                Self(raw)
            }
        }
    };
}

typed_id!(
    /// An organization (tenant): every other entity but users belongs to exactly one.
    OrgId
);
typed_id!(
    /// A person with a login; may be a member of several organizations.
    UserId
);
typed_id!(
    /// A team inside one organization; its bookable member count is its capacity.
    TeamId
);
typed_id!(
    /// A server-side login session (the cookie value).
    SessionId
);
typed_id!(
    /// A calendar (personal, team or shared) and its events.
    CalendarId
);
typed_id!(
    /// An organization-wide workflow definition; its board is `board:{id}`.
    WorkflowId
);
typed_id!(
    /// One work item (a vehicle moving through a workflow).
    ItemId
);
typed_id!(
    /// A project with members and tasks.
    ProjectId
);
typed_id!(
    /// A paired kiosk screen (a read-only principal of its own).
    KioskId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_strings_on_the_wire() {
        let id = OrgId::new("0192abc");
        let bytes = rmp_serde::to_vec_named(&id).unwrap();
        let back: OrgId = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back, id);
        let as_string: String = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(as_string, "0192abc");
    }
}
