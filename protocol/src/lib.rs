//! The shared vocabulary of cflows: typed ids, entity views, stream events and error codes.
//!
//! Everything a client needs to talk to the server lives here and nothing else: no tokio,
//! no axum, no database. The web crate, the actors and the load generator all speak it.

pub mod calendar;
pub mod capacity;
pub mod error;
pub mod ids;
pub mod inbox;
pub mod limits;
pub mod project;
pub mod stream;
pub mod views;
pub mod wire;
pub mod workflow;

#[cfg(test)]
mod doc_examples;

pub use calendar::{
    CalendarEvent, CalendarKind, CalendarMember, CalendarSnapshot, CalendarView, EventView,
    Frequency, Invitee, Occurrence, OccurrenceException, Recurrence, Rsvp,
};
pub use capacity::{
    BookingState, BookingView, CapacityRefusal, ClosedDay, Interval, JobTypeView, SlotAvailability,
    TeamCalendarSnapshot, TeamEvent, WaitlistEntry, WorkingHours, WorkingPeriod, Workload,
    WorkloadPeriod,
};
pub use error::ErrorCode;
pub use ids::{
    CalendarId, ItemId, KioskId, OrgId, ProjectId, SessionId, TeamId, UserId, WorkflowId,
};
pub use inbox::{EntityRef, InboxEvent, InboxSnapshot, NotificationKind, NotificationView};
pub use project::{
    ActivityEntry, AttachmentView, NewTask, ProjectEvent, ProjectInput, ProjectSnapshot,
    ProjectView, TaskChange, TaskLink, TaskStatus, TaskView,
};
pub use stream::{StreamKind, StreamName};
pub use views::{
    ClockFormat, InvitationView, MemberView, OrgEvent, OrgSnapshot, OrgView, PendingInvitation,
    PlatformEvent, ProfileView, Role, TeamView, UserView,
};
pub use workflow::{
    BoardEvent, BoardFilter, BoardSnapshot, CardView, CommentView, Condition, ConditionOp,
    FieldDef, FieldKind, FieldValue, HistoryEntry, ItemBooking, ItemChange, ItemEvent,
    ItemSnapshot, KioskScope, KioskView, MoveRequest, NewItem, Priority, SavedFilter, StepDef,
    TransitionDef, WorkItemView, WorkflowView,
};
