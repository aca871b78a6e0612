//! The numeric limits of the wire types: the one place the server's checks (in
//! `cflows-actors`) and the OpenAPI schemas (`minimum`/`maximum`, under the `openapi`
//! feature) both read, so the document says what is really enforced. It must not hold
//! limits that depend on state (a team's capacity): those are checked where the state is.

use std::ops::RangeInclusive;

/// `hold_seconds` of a booking request: how long a hold lasts.
pub const HOLD_SECONDS: RangeInclusive<u32> = 1..=86_400;
/// A team's `bookable_count` (its capacity; also at most its members).
pub const BOOKABLE_COUNT: RangeInclusive<u32> = 0..=10_000;
/// `members_required` of a booking (also at most the team's capacity).
pub const MEMBERS_REQUIRED: RangeInclusive<u32> = 1..=10_000;
/// A job type's `duration_minutes`: five minutes to a day.
pub const DURATION_MINUTES: RangeInclusive<u32> = 5..=1440;
/// `slot_minutes` of an availability query.
pub const SLOT_MINUTES: RangeInclusive<u32> = 5..=1440;
/// A recurrence's `count` of occurrences.
pub const RECURRENCE_COUNT: RangeInclusive<u32> = 1..=5000;
/// A recurrence's `interval`.
pub const RECURRENCE_INTERVAL: RangeInclusive<u32> = 1..=1000;
/// A recurrence's `by_day` values: ISO weekdays, 1 = Monday … 7 = Sunday.
pub const WEEKDAY: RangeInclusive<u8> = 1..=7;

/// Schemas carrying the limits above (`#[schema(schema_with = …)]`).
#[cfg(feature = "openapi")]
pub mod schema {
    use super::*;
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};

    fn integer(range: &RangeInclusive<u32>, nullable: bool) -> ObjectBuilder {
        let kind = if nullable {
            SchemaType::from_iter([Type::Integer, Type::Null])
        } else {
            SchemaType::new(Type::Integer)
        };
        ObjectBuilder::new()
            .schema_type(kind)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Int32,
            )))
            .minimum(Some(*range.start()))
            .maximum(Some(*range.end()))
    }

    /// `hold_seconds` (optional).
    pub fn hold_seconds() -> ObjectBuilder {
        integer(&HOLD_SECONDS, true).description(Some(
            "How long the hold lasts; the team's hold_minutes when absent.",
        ))
    }

    /// `members_required` (optional: 1).
    pub fn members_required() -> ObjectBuilder {
        integer(&MEMBERS_REQUIRED, true).description(Some(
            "Members taken from capacity (at most the team's capacity); 1 when absent.",
        ))
    }

    /// `members_required` of a stored booking.
    pub fn members_required_set() -> ObjectBuilder {
        integer(&MEMBERS_REQUIRED, false)
    }

    /// `bookable_count`.
    pub fn bookable_count() -> ObjectBuilder {
        integer(&BOOKABLE_COUNT, false).description(Some(
            "Capacity: members bookable at once, at most the team's members.",
        ))
    }

    /// `duration_minutes`.
    pub fn duration_minutes() -> ObjectBuilder {
        integer(&DURATION_MINUTES, false)
    }

    /// `slot_minutes` (optional: 30).
    pub fn slot_minutes() -> ObjectBuilder {
        integer(&SLOT_MINUTES, true).description(Some("Slot length; 30 when absent."))
    }

    /// A recurrence's `count` (optional; not with `until`).
    pub fn recurrence_count() -> ObjectBuilder {
        integer(&RECURRENCE_COUNT, true).description(Some("Number of occurrences; not with until."))
    }

    /// A recurrence's `interval`.
    pub fn recurrence_interval() -> ObjectBuilder {
        integer(&RECURRENCE_INTERVAL, false)
            .default(Some(1.into()))
            .description(Some("Every interval days/weeks/months/years."))
    }

    /// A recurrence's `by_day`.
    pub fn by_day() -> ArrayBuilder {
        let day = ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::Integer))
            .minimum(Some(*WEEKDAY.start()))
            .maximum(Some(*WEEKDAY.end()));
        ArrayBuilder::new()
            .items(day)
            .max_items(Some(7))
            .description(Some("ISO weekdays, 1 = Monday … 7 = Sunday."))
    }
}
