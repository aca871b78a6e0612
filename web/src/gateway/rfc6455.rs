//! The RFC 6455 rules the read loop checks itself, because fastwebsockets leaves them to
//! its user once its automatic pongs and closes are off: client frames are masked (§5.1),
//! a continuation frame continues a message (§5.4), a close frame carries a code that may
//! be sent and a UTF-8 reason (§5.5.1, §7.4). It decides; it never answers a frame.

use cflows_protocol::wire::close;
use fastwebsockets::{CloseCode, Frame, OpCode};

/// `Err((close code, reason))` when `frame` must fail the connection.
///
/// # Errors
/// An unmasked frame or a continuation frame (no fragmented message is ever started:
/// the read loop refuses those with 1003) is 1002; a close frame as in [`close_payload`].
pub(super) fn check(frame: &mut Frame<'_>) -> Result<(), (u16, &'static str)> {
    if !masked(frame) {
        return Err((close::PROTOCOL_ERROR, "client frames must be masked"));
    }
    match frame.opcode {
        OpCode::Continuation => Err((
            close::PROTOCOL_ERROR,
            "a continuation frame with no message to continue",
        )),
        OpCode::Close => close_payload(&frame.payload),
        _ => Ok(()),
    }
}

/// A close frame's payload: empty, or a code that may be sent and a UTF-8 reason.
fn close_payload(payload: &[u8]) -> Result<(), (u16, &'static str)> {
    match payload {
        [] => Ok(()),
        [_] => Err((close::PROTOCOL_ERROR, "a close frame of one byte")),
        [hi, lo, reason @ ..] => {
            if std::str::from_utf8(reason).is_err() {
                return Err((close::INVALID_PAYLOAD, "the close reason is not UTF-8"));
            }
            if !CloseCode::from(u16::from_be_bytes([*hi, *lo])).is_allowed() {
                return Err((close::PROTOCOL_ERROR, "a close code that may not be sent"));
            }
            Ok(())
        }
    }
}

/// Whether the client masked `frame` (fastwebsockets keeps the key private; its header
/// shows it).
fn masked(frame: &mut Frame<'_>) -> bool {
    let mut head = [0u8; 16];
    frame.fmt_head(&mut head);
    head[1] & 0x80 != 0
}
