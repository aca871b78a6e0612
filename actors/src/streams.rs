//! The stream hub: where owning actors publish each journalled change, and where
//! connections pick them up.
//!
//! A change is encoded once into a `ServerMsg::Event` frame; every subscriber gets a
//! clone of the same `Bytes` (a reference count, not a copy). Each stream keeps its most
//! recent frames so a client that reconnects shortly after a drop resumes from memory;
//! older gaps are filled from the journal in the store.

use bytes::Bytes;
use cflows_protocol::wire::{ServerMsg, StreamEvent, encode_server};
use dashmap::DashMap;
use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use tokio::sync::broadcast;

/// How many recent frames a stream keeps for resume from memory.
pub const RECENT_FRAMES: usize = 256;
/// How many frames a subscriber may fall behind in the hub before it counts as lagging.
pub const CHANNEL_CAPACITY: usize = 1024;

/// One encoded event of one stream.
#[derive(Debug)]
pub struct Frame {
    pub seq: u64,
    /// The encoded `ServerMsg::Event`.
    pub bytes: Bytes,
}

struct Channel {
    tx: broadcast::Sender<Arc<Frame>>,
    recent: RwLock<VecDeque<Arc<Frame>>>,
}

/// Every live stream. Cheap to clone.
#[derive(Clone, Default)]
pub struct StreamHub {
    streams: Arc<DashMap<String, Arc<Channel>>>,
}

impl StreamHub {
    fn channel(&self, stream: &str) -> Arc<Channel> {
        if let Some(c) = self.streams.get(stream) {
            return c.clone();
        }
        self.streams
            .entry(stream.to_string())
            .or_insert_with(|| {
                let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
                Arc::new(Channel {
                    tx,
                    recent: RwLock::new(VecDeque::with_capacity(RECENT_FRAMES)),
                })
            })
            .clone()
    }

    /// Encodes `event` once and hands it to every subscriber of `stream`. Called by the
    /// stream's single owning actor, after the change is durable, in `seq` order.
    pub fn publish(&self, stream: &str, seq: u64, event: StreamEvent) {
        let frame = Arc::new(Frame {
            seq,
            bytes: encode_event(stream, seq, event),
        });
        let channel = self.channel(stream);
        {
            let mut recent = channel.recent.write().expect("recent frames lock");
            if recent.len() == RECENT_FRAMES {
                recent.pop_front();
            }
            recent.push_back(frame.clone());
        }
        // No receivers is fine: nobody is watching this stream right now.
        let _ = channel.tx.send(frame);
    }

    /// A receiver of every frame published from now on.
    pub fn subscribe(&self, stream: &str) -> broadcast::Receiver<Arc<Frame>> {
        self.channel(stream).tx.subscribe()
    }

    /// The frames after `after` up to `upto`, if memory still holds all of them.
    pub fn recent_between(&self, stream: &str, after: u64, upto: u64) -> Option<Vec<Arc<Frame>>> {
        if upto <= after {
            return Some(Vec::new());
        }
        let channel = self.streams.get(stream)?.clone();
        let recent = channel.recent.read().expect("recent frames lock");
        let first = recent.front()?.seq;
        if first > after + 1 {
            return None;
        }
        let frames: Vec<_> = recent
            .iter()
            .filter(|f| f.seq > after && f.seq <= upto)
            .cloned()
            .collect();
        (frames.len() as u64 == upto - after).then_some(frames)
    }

    /// Number of streams with a channel (metrics).
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Whether no stream has a channel.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }
}

/// Encodes one event frame.
pub fn encode_event(stream: &str, seq: u64, event: StreamEvent) -> Bytes {
    Bytes::from(encode_server(&ServerMsg::Event {
        stream: stream.to_string(),
        seq,
        event,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cflows_protocol::InboxEvent;

    fn ev(n: u32) -> StreamEvent {
        StreamEvent::Inbox(InboxEvent::AllRead { unread: n })
    }

    #[tokio::test]
    async fn frames_are_shared_and_recent_ones_replayable() {
        let hub = StreamHub::default();
        let mut a = hub.subscribe("inbox:u");
        let mut b = hub.subscribe("inbox:u");
        for seq in 1..=3 {
            hub.publish("inbox:u", seq, ev(seq as u32));
        }
        let fa = a.recv().await.unwrap();
        let fb = b.recv().await.unwrap();
        assert!(
            Arc::ptr_eq(&fa, &fb),
            "one encoded frame for all subscribers"
        );
        assert_eq!(fa.bytes.as_ptr(), fb.bytes.as_ptr());
        let replay = hub.recent_between("inbox:u", 1, 3).unwrap();
        assert_eq!(replay.iter().map(|f| f.seq).collect::<Vec<_>>(), vec![2, 3]);
        assert!(hub.recent_between("inbox:other", 0, 3).is_none());
    }

    #[test]
    fn memory_forgets_old_frames() {
        let hub = StreamHub::default();
        for seq in 1..=(RECENT_FRAMES as u64 + 10) {
            hub.publish("s", seq, ev(0));
        }
        assert!(
            hub.recent_between("s", 0, 20).is_none(),
            "the oldest frames are gone: use the journal"
        );
        assert_eq!(hub.recent_between("s", 100, 110).unwrap().len(), 10);
    }
}
