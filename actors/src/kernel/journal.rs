//! The journal writer: the one implementation of a decision's commit.
//!
//! An entity validates on its hot state, then calls [`Journal::commit`] with the
//! records to write and the events that describe the change. The records and the
//! journal rows go to the store in one transaction; only when it is durable does the
//! entity apply the change and reply. The host publishes the events after the
//! message is handled (DESIGN: validate → write → apply → reply → publish).
//!
//! The journal's unique `(stream, seq)` index is the fence between writers: if another
//! process committed our next `seq` first, the commit fails, the entity answers
//! `Conflict` and the host reloads it from the store before its next message.

use super::Kernel;
use crate::error::{CoreError, CoreResult};
use crate::store::{JournalRow, Store, StoreError, Write};
use cflows_protocol::wire::StreamEvent;
use cflows_protocol::{OrgId, StreamKind, StreamName, UserId};

/// Writes one stream's journal for its single owning entity.
pub struct Journal {
    stream: StreamName,
    /// Last committed position; the next event gets `seq + 1`.
    seq: u64,
    store: Store,
    kernel: Kernel,
    /// Committed events not yet published (the host publishes after the reply).
    pending: Vec<(u64, StreamEvent)>,
    /// Set when another writer won a race on this stream: hot state is stale.
    fenced: bool,
    /// The organization the stream belongs to, written on each journal row (audit log).
    org: Option<OrgId>,
}

impl Journal {
    /// Opens the writer of `stream` at its last committed position.
    ///
    /// An entity's `load` opens its journal **before** it reads its state: a commit by
    /// another node between the two reads is then in the state and after the position
    /// (the feed's row makes it reload, harmlessly), never counted by the position but
    /// missing from the state (which nothing would ever repair).
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn open(kernel: &Kernel, stream: StreamName) -> CoreResult<Self> {
        let seq = kernel.store().last_seq(&stream).await?;
        Ok(Self {
            stream,
            seq,
            store: kernel.store().clone(),
            kernel: kernel.clone(),
            pending: Vec::new(),
            fenced: false,
            org: None,
        })
    }

    /// The writer of an organization's stream: its rows carry `org`.
    #[must_use]
    pub fn in_org(mut self, org: &OrgId) -> Self {
        self.org = Some(org.clone());
        self
    }

    /// The stream it writes.
    pub fn stream(&self) -> &StreamName {
        &self.stream
    }

    /// The last committed position.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The store it writes to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Whether another writer committed on this stream since it was opened.
    pub fn fenced(&self) -> bool {
        self.fenced
    }

    /// Commits `write` and the journal rows of `events` in one transaction. On success
    /// the events are queued for publishing; the caller applies the change and replies.
    ///
    /// # Errors
    /// `Conflict` when another writer took this stream's next position (the entity is
    /// reloaded) or a unique index refused a record; a store error otherwise. Nothing
    /// was written in either case.
    pub async fn commit(
        &mut self,
        write: Write,
        events: Vec<StreamEvent>,
        actor: Option<&UserId>,
    ) -> CoreResult<()> {
        self.commit_with(write, events, actor, Vec::new()).await
    }

    /// [`Journal::commit`], with the first rows of a stream this change creates (a new
    /// organization's `org_created`) in the same transaction. Those are not published:
    /// nobody can be subscribed to a stream that did not exist.
    ///
    /// # Errors
    /// As [`Journal::commit`].
    pub async fn commit_with(
        &mut self,
        write: Write,
        events: Vec<StreamEvent>,
        actor: Option<&UserId>,
        new_stream_rows: Vec<JournalRow>,
    ) -> CoreResult<()> {
        if self.fenced {
            return Err(stale());
        }
        let rows = rows(&self.stream, self.seq, &events, actor, self.org.as_ref());
        let all: Vec<JournalRow> = rows.iter().cloned().chain(new_stream_rows).collect();
        match self.store.commit(write, &all).await {
            Ok(()) => {}
            Err(StoreError::Duplicate(msg)) if msg.contains("event_stream_seq") => {
                self.fenced = true;
                return Err(stale());
            }
            Err(StoreError::TxConflict(_)) => {
                // Another writer touched what we wrote; it may have taken our seq.
                self.fenced = true;
                return Err(stale());
            }
            Err(StoreError::Duplicate(_)) => {
                return Err(CoreError::Conflict("that value is already taken".into()));
            }
            Err(e) => return Err(e.into()),
        }
        for (row, event) in rows.iter().zip(events) {
            self.pending.push((row.seq, event));
        }
        self.seq += rows.len() as u64;
        Ok(())
    }

    /// Hands committed events to the hub, in `seq` order.
    pub(super) fn publish(&mut self) {
        for (seq, event) in self.pending.drain(..) {
            self.kernel.committed(&self.stream, seq, event);
        }
    }
}

fn stale() -> CoreError {
    CoreError::Conflict(
        "this was changed at the same time by someone else; reload and try again".into(),
    )
}

/// Journal rows for `events` of `stream`, numbered on from `last_seq`. Used by
/// [`Journal::commit`], and by whoever creates a new stream's first rows.
pub fn rows(
    stream: &StreamName,
    last_seq: u64,
    events: &[StreamEvent],
    actor: Option<&UserId>,
    org: Option<&OrgId>,
) -> Vec<JournalRow> {
    events
        .iter()
        .enumerate()
        .map(|(i, event)| JournalRow {
            stream: stream.clone(),
            seq: last_seq + 1 + i as u64,
            kind: event.kind(),
            payload: payload(event),
            actor: actor.map(|u| u.to_string()),
            org: org.map(|o| o.to_string()),
        })
        .collect()
}

/// The stored payload: the event as JSON without its `stream_kind` tag (the stream
/// name says which kind it is).
fn payload(event: &StreamEvent) -> String {
    let mut value = serde_json::to_value(event).expect("events serialize");
    if let Some(map) = value.as_object_mut() {
        map.remove("stream_kind");
    }
    value.to_string()
}

/// Reads a stored payload back as an event of a `kind` stream.
///
/// # Errors
/// The payload is not an event of that kind (a message for `cflows check` and logs).
pub fn decode_journal(kind: StreamKind, payload: &str) -> Result<StreamEvent, String> {
    let mut value: serde_json::Value =
        serde_json::from_str(payload).map_err(|e| format!("not JSON: {e}"))?;
    let map = value
        .as_object_mut()
        .ok_or_else(|| "not a JSON object".to_string())?;
    map.insert("stream_kind".into(), kind.as_str().into());
    serde_json::from_value(value).map_err(|e| format!("not a {} event: {e}", kind.as_str()))
}
