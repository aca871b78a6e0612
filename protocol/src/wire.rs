//! The WebSocket messages and their MessagePack codec.
//!
//! One binary frame carries one message: a MessagePack map with a `type` key (structs as
//! maps with field names, rmp-serde `to_vec_named`). Incoming frames are checked against
//! [`Limits`] by walking the MessagePack structure *before* anything is deserialized, so
//! a hostile frame cannot make the server allocate or recurse beyond the limits.

use crate::calendar::{CalendarEvent, CalendarSnapshot};
use crate::capacity::{
    BookingView, CapacityRefusal, SlotAvailability, TeamCalendarSnapshot, TeamEvent,
};
use crate::error::ErrorCode;
use crate::ids::{ItemId, OrgId, ProjectId, TeamId, UserId};
use crate::inbox::{InboxEvent, InboxSnapshot, NotificationView};
use crate::project::{NewTask, ProjectEvent, ProjectSnapshot, TaskChange, TaskView};
use crate::stream::{StreamKind, StreamName};
use crate::views::{OrgEvent, OrgSnapshot, PlatformEvent};
use crate::workflow::{
    BoardEvent, BoardSnapshot, CommentView, ItemEvent, ItemSnapshot, MoveRequest, WorkItemView,
};
use serde::{Deserialize, Serialize};

/// The protocol version this build speaks. `hello` must name it.
pub const PROTOCOL_VERSION: u16 = 2;

/// WebSocket close codes the server uses (besides the standard ones).
pub mod close {
    /// Normal closure (server shutting down, or the client said goodbye).
    pub const NORMAL: u16 = 1000;
    /// The server is stopping (a restart or deploy): reconnect with backoff and resume.
    pub const GOING_AWAY: u16 = 1001;
    /// A frame broke RFC 6455 (reserved bits set, a fragmented control frame, a bad
    /// continuation, an invalid close frame).
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// The client sent a text frame, or a fragmented message; only single binary frames
    /// are spoken.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// A text frame (or close reason) that is not valid UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// A frame was larger than `max_frame_bytes`; the payload was not read.
    pub const TOO_BIG: u16 = 1009;
    /// A fault in the server (it never skips an event silently): reconnect and resume.
    pub const INTERNAL: u16 = 1011;
    /// No frame from the client within the idle timeout.
    pub const IDLE: u16 = 4000;
    /// The session ended (logout, deactivation) or is unknown.
    pub const UNAUTHENTICATED: u16 = 4001;
    /// `hello` named a protocol version the server does not speak, or never came.
    pub const BAD_HELLO: u16 = 4002;
    /// The client read too slowly: its outbound queue passed `max_queue_bytes`.
    /// Reconnect and resume from the last `seq` seen.
    pub const SLOW_CONSUMER: u16 = 4008;
}

/// Decode limits, announced in `welcome`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest frame payload accepted, in bytes (a frame of exactly this size is fine).
    pub max_frame_bytes: u32,
    /// Deepest nesting of arrays and maps.
    pub max_depth: u32,
    /// Most elements in one array, or entries (key-value pairs) in one map.
    pub max_collection: u32,
    /// Most characters (Unicode scalar values — the unit of every text limit of the
    /// operations) in one string: [`MAX_TEXT_CHARS`], the longest text field, so every
    /// field at its own limit fits in any script. A binary value counts one per byte.
    #[serde(default = "default_max_string_chars")]
    pub max_string_chars: u32,
    /// Requests per second per connection (token bucket; bursts up to twice that).
    pub requests_per_second: u32,
    /// Bytes the server may queue for a connection before closing it as a slow consumer.
    pub max_queue_bytes: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 64 * 1024,
            max_depth: 16,
            max_collection: 4096,
            max_string_chars: default_max_string_chars(),
            requests_per_second: 50,
            max_queue_bytes: 4 * 1024 * 1024,
        }
    }
}

/// The longest text field of any message, in characters (a task's description). Every
/// text limit of the operations (PROTOCOL.md §3) is at most this, and counts characters
/// too; a field over its own limit is refused by its validation, naming the field.
pub const MAX_TEXT_CHARS: u32 = 10_000;

fn default_max_string_chars() -> u32 {
    MAX_TEXT_CHARS
}

/// A stream and the last position the client has seen of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamPosition {
    pub stream: StreamName,
    pub seq: u64,
}

/// Client → server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// First message on a connection. `resume` subscribes to each stream and replays
    /// everything after its `seq`.
    Hello {
        version: u16,
        #[serde(default)]
        resume: Vec<StreamPosition>,
    },
    /// Starts receiving a stream: a `snapshot` first when `after` is absent, otherwise
    /// every event after `after` (or a `snapshot` with `reset` when too far behind).
    Subscribe {
        stream: StreamName,
        #[serde(default)]
        after: Option<u64>,
    },
    Unsubscribe {
        stream: StreamName,
    },
    /// An operation; answered by exactly one `reply` with the same `id`.
    Request {
        id: u32,
        op: Op,
    },
    Ping {
        #[serde(default)]
        nonce: u64,
    },
}

/// Operations a `request` can carry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// The newest notifications first; `before` is a notification id for paging.
    ListNotifications {
        #[serde(default)]
        before: Option<String>,
        #[serde(default)]
        limit: Option<u32>,
    },
    MarkRead {
        notification: String,
    },
    MarkAllRead,
    /// A direct message to another member of the active organization.
    SendMessage {
        to: UserId,
        body: String,
    },
    /// Takes capacity on a team: a `held` booking (or `confirmed` when `confirm`).
    /// Refused with `no_capacity` (and `refusal`) when it does not fit.
    HoldBooking {
        team: TeamId,
        #[serde(flatten)]
        booking: NewBooking,
    },
    /// Turns a hold into a confirmed booking.
    ConfirmBooking {
        team: TeamId,
        booking: String,
    },
    /// Releases a held or confirmed booking.
    CancelBooking {
        team: TeamId,
        booking: String,
    },
    /// Moves and/or resizes a booking atomically: the new interval is taken or nothing
    /// changes.
    MoveBooking {
        team: TeamId,
        booking: String,
        start: i64,
        #[serde(default)]
        end: Option<i64>,
    },
    /// Free capacity per slot of a team over `[from, to)` (at most 31 days).
    Availability {
        team: TeamId,
        from: i64,
        to: i64,
        #[serde(default)]
        slot_minutes: Option<u32>,
    },
    /// Moves a work item along a transition of its workflow. Refused with `conflict`
    /// (naming the step it is in now) when it is no longer in `from`.
    MoveItem {
        item: ItemId,
        #[serde(flatten)]
        change: MoveRequest,
    },
    /// Comments on a work item; `@handle` mentions notify those members.
    CommentItem {
        item: ItemId,
        body: String,
    },
    /// Creates a task in a project (its members only).
    CreateTask {
        project: ProjectId,
        #[serde(flatten)]
        task: NewTask,
    },
    /// Changes a task: fields, status, assignee (notified), link.
    UpdateTask {
        project: ProjectId,
        task: String,
        #[serde(flatten)]
        change: TaskChange,
    },
    /// Comments on a task; `@handle` mentions notify those members.
    CommentTask {
        project: ProjectId,
        task: String,
        body: String,
    },
}

/// A booking a client asks a team for (the fields of `hold_booking` beside `team`; the
/// body of `POST /api/v1/teams/{team}/bookings`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewBooking {
    pub job_type: String,
    /// Unix ms, on a whole minute.
    pub start: i64,
    /// Unix ms; the job type's duration after `start` when absent.
    #[serde(default)]
    pub end: Option<i64>,
    /// Members taken from capacity; 1 when absent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::limits::schema::members_required))]
    pub members_required: Option<u32>,
    /// Default: the job type's name. At most 200 characters.
    #[serde(default)]
    pub title: Option<String>,
    /// Confirm at once instead of holding.
    #[serde(default)]
    pub confirm: bool,
    /// How long the hold lasts (1..=86400 s); the team's `hold_minutes` when absent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::limits::schema::hold_seconds))]
    pub hold_seconds: Option<u32>,
    /// Join the slot's waitlist when it is full.
    #[serde(default)]
    pub waitlist: bool,
    /// Team members assigned (at most `members_required`).
    #[serde(default)]
    pub assigned: Vec<UserId>,
    #[serde(default)]
    pub work_item: Option<ItemId>,
    #[serde(default)]
    pub step: Option<String>,
}

/// Server → client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Welcome {
        version: u16,
        user: UserId,
        org: Option<OrgId>,
        /// The server pings (`pong`-able) at this interval; the client should send
        /// something at least this often or be closed as idle after three intervals.
        heartbeat_ms: u32,
        limits: Limits,
    },
    /// The answer to `request` `id`: exactly one of `ok` and `error` is present.
    Reply {
        id: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ok: Option<ReplyBody>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<WireError>,
    },
    /// One change on a stream; `seq` grows by exactly one per event.
    Event {
        stream: StreamName,
        seq: u64,
        event: StreamEvent,
    },
    /// A stream's whole state as of `seq`. `reset` means the client was too far behind
    /// to replay: drop what it had and start from this.
    Snapshot {
        stream: StreamName,
        seq: u64,
        reset: bool,
        state: StreamState,
    },
    /// Subscription confirmed with nothing to send yet (resume already up to date).
    Subscribed {
        stream: StreamName,
        seq: u64,
    },
    /// A message that was not a request could not be handled (bad frame, unknown
    /// stream, not allowed). The connection stays open.
    /// A message that was not a request failed. `stream` is the stream name a failed
    /// `subscribe` or `unsubscribe` named, exactly as sent (also when it breaks the
    /// grammar, which is why it is not a [`StreamName`]).
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stream: Option<String>,
        error: WireError,
    },
    Pong {
        nonce: u64,
    },
}

/// An error code and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
    /// With `no_capacity`: the conflicting interval and suggested free slots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Box<CapacityRefusal>>,
}

impl WireError {
    /// An error without details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            refusal: None,
        }
    }
}

/// Successful reply bodies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReplyBody {
    Done,
    Notifications {
        items: Vec<NotificationView>,
        unread: u32,
    },
    Booking {
        booking: Box<BookingView>,
    },
    Availability {
        slots: Vec<SlotAvailability>,
    },
    Item {
        item: Box<WorkItemView>,
    },
    Comment {
        comment: CommentView,
    },
    Task {
        task: Box<TaskView>,
    },
}

/// An event of any stream, tagged with its stream kind (`stream_kind`) beside the
/// event's own `kind`, so event names may repeat across stream kinds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stream_kind", rename_all = "snake_case")]
pub enum StreamEvent {
    Org(OrgEvent),
    Inbox(InboxEvent),
    Team(TeamEvent),
    Calendar(CalendarEvent),
    Board(BoardEvent),
    Item(ItemEvent),
    Project(ProjectEvent),
    /// Journal only: never sent to clients.
    Platform(PlatformEvent),
}

impl StreamEvent {
    /// The kind of stream this event belongs to.
    pub fn stream_kind(&self) -> StreamKind {
        match self {
            Self::Org(_) => StreamKind::Org,
            Self::Inbox(_) => StreamKind::Inbox,
            Self::Team(_) => StreamKind::Team,
            Self::Calendar(_) => StreamKind::Calendar,
            Self::Board(_) => StreamKind::Board,
            Self::Item(_) => StreamKind::Item,
            Self::Project(_) => StreamKind::Project,
            Self::Platform(_) => StreamKind::Platform,
        }
    }

    /// The event's own kind (the journal's `kind` column).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Org(e) => e.kind(),
            Self::Inbox(e) => e.kind(),
            Self::Team(e) => e.kind(),
            Self::Calendar(e) => e.kind(),
            Self::Board(e) => e.kind(),
            Self::Item(e) => e.kind(),
            Self::Project(e) => e.kind(),
            Self::Platform(e) => e.kind(),
        }
    }
}

impl From<OrgEvent> for StreamEvent {
    fn from(e: OrgEvent) -> Self {
        Self::Org(e)
    }
}

impl From<CalendarEvent> for StreamEvent {
    fn from(e: CalendarEvent) -> Self {
        Self::Calendar(e)
    }
}

impl From<TeamEvent> for StreamEvent {
    fn from(e: TeamEvent) -> Self {
        Self::Team(e)
    }
}

impl From<BoardEvent> for StreamEvent {
    fn from(e: BoardEvent) -> Self {
        Self::Board(e)
    }
}

impl From<ItemEvent> for StreamEvent {
    fn from(e: ItemEvent) -> Self {
        Self::Item(e)
    }
}

impl From<ProjectEvent> for StreamEvent {
    fn from(e: ProjectEvent) -> Self {
        Self::Project(e)
    }
}

impl From<InboxEvent> for StreamEvent {
    fn from(e: InboxEvent) -> Self {
        Self::Inbox(e)
    }
}

/// A snapshot of any stream, tagged with its stream kind (`stream_kind`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stream_kind", rename_all = "snake_case")]
pub enum StreamState {
    Org(OrgSnapshot),
    Inbox(InboxSnapshot),
    Team(TeamCalendarSnapshot),
    Calendar(CalendarSnapshot),
    Board(BoardSnapshot),
    Item(Box<ItemSnapshot>),
    Project(Box<ProjectSnapshot>),
}

/// Why a frame could not be decoded.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("frame of {0} bytes is over the limit")]
    TooLarge(usize),
    #[error("nesting deeper than {0}")]
    TooDeep(u32),
    /// A string over `max_string_chars`; `field` is its path of map keys (`op.body`).
    #[error("{field} is {chars} characters long; a text may have at most {limit}")]
    TextTooLong {
        field: String,
        chars: u64,
        limit: u32,
    },
    /// An array or map over `max_collection`; `field` is its path of map keys.
    #[error("{field} has {entries} entries; at most {limit} are allowed")]
    TooMany {
        field: String,
        entries: u64,
        limit: u32,
    },
    #[error("not valid MessagePack: {0}")]
    Malformed(String),
    #[error("unknown message type: {0}")]
    UnknownType(String),
    #[error("the message does not have the expected fields: {0}")]
    Shape(String),
}

/// Encodes a server message (once; fan-out shares the bytes).
pub fn encode_server(msg: &ServerMsg) -> Vec<u8> {
    rmp_serde::to_vec_named(msg).expect("server messages always encode")
}

/// Encodes a client message.
pub fn encode_client(msg: &ClientMsg) -> Vec<u8> {
    rmp_serde::to_vec_named(msg).expect("client messages always encode")
}

/// Decodes a client frame, enforcing `limits` before deserializing.
///
/// # Errors
/// The frame breaks a limit, is not MessagePack, or is not a known message.
pub fn decode_client(bytes: &[u8], limits: &Limits) -> Result<ClientMsg, DecodeError> {
    if bytes.len() > limits.max_frame_bytes as usize {
        return Err(DecodeError::TooLarge(bytes.len()));
    }
    check_structure(bytes, limits)?;
    rmp_serde::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        if text.contains("unknown variant") {
            DecodeError::UnknownType(text)
        } else {
            DecodeError::Shape(text)
        }
    })
}

/// The `id` of a `request` frame that could not be decoded as a whole (a bad `op`, a
/// field of the wrong type), so the error can answer that request: `None` when the frame
/// is not a map with `type: "request"` and an unsigned 32-bit `id`.
pub fn request_id(bytes: &[u8]) -> Option<u32> {
    #[derive(Deserialize)]
    struct Peek {
        #[serde(rename = "type")]
        kind: String,
        id: u32,
    }
    let peek: Peek = rmp_serde::from_slice(bytes).ok()?;
    (peek.kind == "request").then_some(peek.id)
}

/// The stream name of a `subscribe` or `unsubscribe` frame that could not be decoded as a
/// whole (a name that breaks the grammar, an `after` of the wrong type), as sent, so the
/// error can name it: `None` for any other frame.
pub fn stream_of(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Peek {
        #[serde(rename = "type")]
        kind: String,
        stream: String,
    }
    let peek: Peek = rmp_serde::from_slice(bytes).ok()?;
    matches!(peek.kind.as_str(), "subscribe" | "unsubscribe").then_some(peek.stream)
}

/// Decodes a server frame (clients; no limits beyond the structure check).
///
/// # Errors
/// The frame is not a known server message.
pub fn decode_server(bytes: &[u8]) -> Result<ServerMsg, DecodeError> {
    rmp_serde::from_slice(bytes).map_err(|e| DecodeError::Shape(e.to_string()))
}

/// Walks one MessagePack value and everything in it, checking depth and lengths against
/// the bytes that remain, without building anything. Exactly one value must fill `bytes`.
/// A value over a limit is named by its path of map keys.
fn check_structure(bytes: &[u8], limits: &Limits) -> Result<(), DecodeError> {
    /// One open array or map.
    struct Level<'a> {
        /// Values still to read in it (a map's keys and values both count).
        left: u64,
        map: bool,
        /// The map key last read at this level: the name of the value that follows.
        key: Option<&'a [u8]>,
    }
    let mut cursor = bytes;
    // An explicit stack, so no recursion.
    let mut levels = vec![Level {
        left: 1,
        map: false,
        key: None,
    }];
    let path = |levels: &[Level<'_>]| -> String {
        let keys: Vec<String> = levels
            .iter()
            .filter_map(|l| l.key)
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect();
        if keys.is_empty() {
            "the message".into()
        } else {
            format!("`{}`", keys.join("."))
        }
    };
    while let Some(top) = levels.last_mut() {
        if top.left == 0 {
            levels.pop();
            continue;
        }
        // A map's values come in pairs counted down from an even number: an even count
        // left means a key is next.
        let is_key = top.map && top.left % 2 == 0;
        top.left -= 1;
        let head = skip_one(&mut cursor)?;
        if let Some(text) = head.text {
            // Characters are at most bytes: count only what might be too long.
            if text.len() as u64 > u64::from(limits.max_string_chars) {
                let chars = text.iter().filter(|b| (**b as i8) >= -0x40).count() as u64;
                if chars > u64::from(limits.max_string_chars) {
                    return Err(DecodeError::TextTooLong {
                        field: path(&levels),
                        chars,
                        limit: limits.max_string_chars,
                    });
                }
            }
            if is_key && let Some(top) = levels.last_mut() {
                top.key = Some(text);
            }
        }
        if head.binary > u64::from(limits.max_string_chars) {
            return Err(DecodeError::TextTooLong {
                field: path(&levels),
                chars: head.binary,
                limit: limits.max_string_chars,
            });
        }
        if head.children > 0 {
            let entries = if head.map {
                head.children / 2
            } else {
                head.children
            };
            if entries > u64::from(limits.max_collection) {
                return Err(DecodeError::TooMany {
                    field: path(&levels),
                    entries,
                    limit: limits.max_collection,
                });
            }
            // Every child takes at least one byte: a count larger than what is left is
            // a lie.
            if head.children > cursor.len() as u64 {
                return Err(DecodeError::Malformed(
                    "length beyond the end of the frame".into(),
                ));
            }
            if levels.len() as u32 > limits.max_depth {
                return Err(DecodeError::TooDeep(limits.max_depth));
            }
            levels.push(Level {
                left: head.children,
                map: head.map,
                key: None,
            });
        }
    }
    if !cursor.is_empty() {
        return Err(DecodeError::Malformed(format!(
            "{} bytes after the message",
            cursor.len()
        )));
    }
    Ok(())
}

/// One value's head, as [`skip_one`] read it.
struct Head<'a> {
    /// Values nested in it: array elements, or a map's keys and values.
    children: u64,
    map: bool,
    /// A string's bytes.
    text: Option<&'a [u8]>,
    /// A binary value's length.
    binary: u64,
}

/// Reads one marker and skips its scalar payload (a string's or binary's bytes).
fn skip_one<'a>(cursor: &mut &'a [u8]) -> Result<Head<'a>, DecodeError> {
    use rmp::Marker;
    let marker =
        rmp::decode::read_marker(cursor).map_err(|_| DecodeError::Malformed("truncated".into()))?;
    let (skip, children): (u64, u64) = match marker {
        Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => {
            (0, 0)
        }
        Marker::U8 | Marker::I8 => (1, 0),
        Marker::U16 | Marker::I16 => (2, 0),
        Marker::U32 | Marker::I32 | Marker::F32 => (4, 0),
        Marker::U64 | Marker::I64 | Marker::F64 => (8, 0),
        Marker::FixStr(n) => (u64::from(n), 0),
        Marker::Str8 | Marker::Bin8 => (read_len(cursor, 1)?, 0),
        Marker::Str16 | Marker::Bin16 => (read_len(cursor, 2)?, 0),
        Marker::Str32 | Marker::Bin32 => (read_len(cursor, 4)?, 0),
        Marker::FixArray(n) => (0, u64::from(n)),
        Marker::Array16 => (0, read_len(cursor, 2)?),
        Marker::Array32 => (0, read_len(cursor, 4)?),
        Marker::FixMap(n) => (0, 2 * u64::from(n)),
        Marker::Map16 => (0, 2 * read_len(cursor, 2)?),
        Marker::Map32 => (0, 2 * read_len(cursor, 4)?),
        Marker::FixExt1 => (2, 0),
        Marker::FixExt2 => (3, 0),
        Marker::FixExt4 => (5, 0),
        Marker::FixExt8 => (9, 0),
        Marker::FixExt16 => (17, 0),
        Marker::Ext8 => (read_len(cursor, 1)? + 1, 0),
        Marker::Ext16 => (read_len(cursor, 2)? + 1, 0),
        Marker::Ext32 => (read_len(cursor, 4)? + 1, 0),
        Marker::Reserved => return Err(DecodeError::Malformed("reserved marker 0xc1".into())),
    };
    if skip > cursor.len() as u64 {
        return Err(DecodeError::Malformed(
            "length beyond the end of the frame".into(),
        ));
    }
    let (payload, rest) = cursor.split_at(skip as usize);
    *cursor = rest;
    let is_str = matches!(
        marker,
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32
    );
    let is_bin = matches!(marker, Marker::Bin8 | Marker::Bin16 | Marker::Bin32);
    Ok(Head {
        children,
        map: matches!(marker, Marker::FixMap(_) | Marker::Map16 | Marker::Map32),
        text: is_str.then_some(payload),
        binary: if is_bin { skip } else { 0 },
    })
}

fn read_len(cursor: &mut &[u8], width: usize) -> Result<u64, DecodeError> {
    if cursor.len() < width {
        return Err(DecodeError::Malformed("truncated length".into()));
    }
    let (head, rest) = cursor.split_at(width);
    *cursor = rest;
    Ok(head.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClockFormat;
    use crate::views::OrgView;
    use proptest::prelude::*;

    fn limits() -> Limits {
        Limits::default()
    }

    fn client_messages() -> Vec<ClientMsg> {
        vec![
            ClientMsg::Hello {
                version: 2,
                resume: vec![StreamPosition {
                    stream: StreamName::parse("org:o1").unwrap(),
                    seq: 7,
                }],
            },
            ClientMsg::Subscribe {
                stream: StreamName::parse("inbox:u1").unwrap(),
                after: None,
            },
            ClientMsg::Subscribe {
                stream: StreamName::parse("org:o1").unwrap(),
                after: Some(3),
            },
            ClientMsg::Unsubscribe {
                stream: StreamName::parse("org:o1").unwrap(),
            },
            ClientMsg::Request {
                id: 9,
                op: Op::ListNotifications {
                    before: Some("n1".into()),
                    limit: Some(10),
                },
            },
            ClientMsg::Request {
                id: 10,
                op: Op::MarkRead {
                    notification: "n1".into(),
                },
            },
            ClientMsg::Request {
                id: 11,
                op: Op::MarkAllRead,
            },
            ClientMsg::Request {
                id: 12,
                op: Op::SendMessage {
                    to: UserId::new("u2"),
                    body: "hi".into(),
                },
            },
            ClientMsg::Request {
                id: 13,
                op: Op::HoldBooking {
                    team: TeamId::new("t1"),
                    booking: NewBooking {
                        job_type: "j1".into(),
                        start: 1_764_000_000_000,
                        end: None,
                        members_required: Some(2),
                        title: Some("Test drive".into()),
                        confirm: false,
                        hold_seconds: Some(300),
                        waitlist: true,
                        assigned: vec![UserId::new("u2")],
                        work_item: Some(ItemId::new("i1")),
                        step: None,
                    },
                },
            },
            ClientMsg::Request {
                id: 14,
                op: Op::MoveBooking {
                    team: TeamId::new("t1"),
                    booking: "b1".into(),
                    start: 1_764_000_000_000,
                    end: Some(1_764_003_600_000),
                },
            },
            ClientMsg::Request {
                id: 15,
                op: Op::Availability {
                    team: TeamId::new("t1"),
                    from: 0,
                    to: 86_400_000,
                    slot_minutes: None,
                },
            },
            ClientMsg::Ping { nonce: 5 },
        ]
    }

    fn server_messages() -> Vec<ServerMsg> {
        let org = OrgView {
            id: OrgId::new("o1"),
            name: "Demo".into(),
            slug: "demo".into(),
            timezone: "UTC".into(),
            clock: ClockFormat::H24,
        };
        vec![
            ServerMsg::Welcome {
                version: 2,
                user: UserId::new("u1"),
                org: Some(OrgId::new("o1")),
                heartbeat_ms: 15000,
                limits: limits(),
            },
            ServerMsg::Reply {
                id: 1,
                ok: Some(ReplyBody::Done),
                error: None,
            },
            ServerMsg::Reply {
                id: 2,
                ok: None,
                error: Some(WireError::new(ErrorCode::RateLimited, "slow down")),
            },
            ServerMsg::Event {
                stream: StreamName::parse("org:o1").unwrap(),
                seq: 4,
                event: StreamEvent::Org(OrgEvent::SettingsChanged { org: org.clone() }),
            },
            ServerMsg::Event {
                stream: StreamName::parse("inbox:u1").unwrap(),
                seq: 2,
                event: StreamEvent::Inbox(InboxEvent::AllRead { unread: 0 }),
            },
            ServerMsg::Snapshot {
                stream: StreamName::parse("org:o1").unwrap(),
                seq: 4,
                reset: false,
                state: StreamState::Org(OrgSnapshot {
                    org,
                    members: vec![],
                    teams: vec![],
                    invitations: vec![],
                    job_types: vec![],
                    workflows: vec![],
                    seq: 4,
                }),
            },
            ServerMsg::Snapshot {
                stream: StreamName::parse("inbox:u1").unwrap(),
                seq: 0,
                reset: true,
                state: StreamState::Inbox(InboxSnapshot {
                    unread: 0,
                    recent: vec![],
                    seq: 0,
                }),
            },
            ServerMsg::Subscribed {
                stream: StreamName::parse("org:o1").unwrap(),
                seq: 4,
            },
            ServerMsg::Error {
                stream: None,
                error: WireError::new(ErrorCode::InvalidInput, "bad"),
            },
            ServerMsg::Pong { nonce: 5 },
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for m in client_messages() {
            assert_eq!(decode_client(&encode_client(&m), &limits()).unwrap(), m);
        }
        for m in server_messages() {
            assert_eq!(decode_server(&encode_server(&m)).unwrap(), m);
        }
    }

    #[test]
    fn limits_are_enforced_before_decoding() {
        let l = Limits {
            max_frame_bytes: 100,
            max_depth: 3,
            max_collection: 8,
            ..limits()
        };
        assert_eq!(
            decode_client(&[0x90; 101], &l),
            Err(DecodeError::TooLarge(101))
        );
        // [[[[]]]]: depth 4.
        assert_eq!(
            decode_client(&[0x91, 0x91, 0x91, 0x91, 0x90], &l),
            Err(DecodeError::TooDeep(3))
        );
        // An array32 claiming 4 billion entries in a 5-byte frame allocates nothing.
        assert!(matches!(
            decode_client(&[0xdd, 0xff, 0xff, 0xff, 0xff], &limits()),
            Err(DecodeError::TooMany { .. })
        ));
        assert!(matches!(
            decode_client(&[0xdd, 0, 0, 0, 9], &limits()),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            decode_client(&[0xc1], &l),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            decode_client(b"\x81\xa4type\xa3bad", &limits()),
            Err(DecodeError::UnknownType(_))
        ));
        assert!(matches!(
            decode_client(&[0x80, 0x80], &limits()),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn strings_are_limited_in_characters_and_named_by_their_field() {
        // The longest text field at its limit, in a 4-byte script (40,000 bytes), and in
        // a 2-byte one: both fit the string and frame limits.
        for ch in ['😀', 'Ж'] {
            let m = ClientMsg::Request {
                id: 3,
                op: Op::SendMessage {
                    to: UserId::new("u2"),
                    body: ch.to_string().repeat(MAX_TEXT_CHARS as usize),
                },
            };
            assert_eq!(decode_client(&encode_client(&m), &limits()).unwrap(), m);
        }
        let m = ClientMsg::Request {
            id: 3,
            op: Op::SendMessage {
                to: UserId::new("u2"),
                body: "Ж".repeat(MAX_TEXT_CHARS as usize + 1),
            },
        };
        let e = decode_client(&encode_client(&m), &limits()).unwrap_err();
        assert_eq!(
            e,
            DecodeError::TextTooLong {
                field: "`op.body`".into(),
                chars: u64::from(MAX_TEXT_CHARS) + 1,
                limit: MAX_TEXT_CHARS,
            }
        );
        assert_eq!(
            e.to_string(),
            "`op.body` is 10001 characters long; a text may have at most 10000"
        );
        let resume: Vec<StreamPosition> = (0..=limits().max_collection)
            .map(|seq| StreamPosition {
                stream: StreamName::parse("org:o1").unwrap(),
                seq: u64::from(seq),
            })
            .collect();
        let roomy = Limits {
            max_frame_bytes: 1 << 20,
            ..limits()
        };
        let e = decode_client(
            &encode_client(&ClientMsg::Hello { version: 2, resume }),
            &roomy,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "`resume` has 4097 entries; at most 4096 are allowed"
        );
    }

    #[test]
    fn a_malformed_request_still_has_its_id() {
        #[derive(Serialize)]
        struct Raw {
            #[serde(rename = "type")]
            kind: &'static str,
            id: u32,
            op: Bad,
        }
        #[derive(Serialize)]
        struct Bad {
            op: &'static str,
        }
        let raw = |kind| {
            rmp_serde::to_vec_named(&Raw {
                kind,
                id: 42,
                op: Bad {
                    op: "fly_to_the_moon",
                },
            })
            .unwrap()
        };
        assert!(decode_client(&raw("request"), &limits()).is_err());
        assert_eq!(request_id(&raw("request")), Some(42));
        assert_eq!(request_id(&raw("ping")), None);
        assert_eq!(request_id(&[0xc1]), None);
    }

    #[test]
    fn events_decode_by_stream_kind_first() {
        #[derive(Serialize)]
        struct Raw {
            stream_kind: &'static str,
            kind: &'static str,
            unread: u32,
        }
        let raw = |stream_kind| {
            rmp_serde::to_vec_named(&Raw {
                stream_kind,
                kind: "all_read",
                unread: 0,
            })
            .unwrap()
        };
        let inbox: StreamEvent = rmp_serde::from_slice(&raw("inbox")).unwrap();
        assert_eq!(inbox, StreamEvent::Inbox(InboxEvent::AllRead { unread: 0 }));
        // The same event name under another stream kind is that kind's event or nothing:
        // never silently the other kind's.
        assert!(rmp_serde::from_slice::<StreamEvent>(&raw("org")).is_err());
        assert!(rmp_serde::from_slice::<StreamEvent>(&raw("weather")).is_err());
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_client(&bytes, &limits());
        }

        #[test]
        fn ping_nonces_round_trip(nonce in any::<u64>()) {
            let m = ClientMsg::Ping { nonce };
            prop_assert_eq!(decode_client(&encode_client(&m), &limits()).unwrap(), m);
        }
    }
}
