//! The authenticator's side of CTAPHID (CTAP 2.1 §11.2): 64-byte reports in, reassembled
//! messages to the application, its answers cut back into reports.
//!
//! fido-authenticator is only the CTAP application; on a Nitrokey or Solo the USB framing is a
//! separate crate tied to the USB stack. This is that layer for an in-process key, written
//! from the specification so our host is checked against the spec's framing, not its own.

use std::collections::VecDeque;

pub const PACKET: usize = 64;
const INIT_DATA: usize = PACKET - 7;
const CONT_DATA: usize = PACKET - 5;
/// The largest message CTAPHID can carry: one init packet and 128 continuation packets.
pub const MAX_MESSAGE: usize = INIT_DATA + 128 * CONT_DATA;
const BROADCAST: u32 = 0xFFFF_FFFF;

pub const CMD_PING: u8 = 0x01;
pub const CMD_MSG: u8 = 0x03;
pub const CMD_INIT: u8 = 0x06;
pub const CMD_WINK: u8 = 0x08;
pub const CMD_CBOR: u8 = 0x10;
pub const CMD_CANCEL: u8 = 0x11;
pub const CMD_ERROR: u8 = 0x3F;

pub const ERR_INVALID_CMD: u8 = 0x01;
pub const ERR_INVALID_LEN: u8 = 0x03;
pub const ERR_INVALID_SEQ: u8 = 0x04;
pub const ERR_CHANNEL_BUSY: u8 = 0x06;
pub const ERR_INVALID_CHANNEL: u8 = 0x0B;
pub const ERR_OTHER: u8 = 0x7F;

/// CAPABILITY_WINK | CAPABILITY_CBOR (MSG is implemented, so no NMSG).
const CAPABILITIES: u8 = 0x01 | 0x04;

/// What the application behind the framing does with one whole message.
pub trait Application {
    /// `cmd` is CTAPHID_CBOR or CTAPHID_MSG. Ok is the response payload; Err a CTAPHID error
    /// code sent back as CTAPHID_ERROR.
    fn call(&mut self, cmd: u8, request: &[u8]) -> Result<Vec<u8>, u8>;
}

struct Assembly {
    cid: u32,
    cmd: u8,
    len: usize,
    data: Vec<u8>,
    next_seq: u8,
}

#[derive(Default)]
pub struct CtapHidDevice {
    allocated: Vec<u32>,
    next_cid: u32,
    assembling: Option<Assembly>,
    outbox: VecDeque<[u8; PACKET]>,
}

impl CtapHidDevice {
    pub fn new() -> Self {
        Self {
            next_cid: 1,
            ..Self::default()
        }
    }

    /// The next report the key sends, if any.
    pub fn pop(&mut self) -> Option<[u8; PACKET]> {
        self.outbox.pop_front()
    }

    /// One report from the host.
    pub fn push(&mut self, packet: &[u8; PACKET], app: &mut dyn Application) {
        let cid = u32::from_be_bytes([packet[0], packet[1], packet[2], packet[3]]);
        if packet[4] & 0x80 != 0 {
            let cmd = packet[4] & 0x7F;
            let len = usize::from(u16::from_be_bytes([packet[5], packet[6]]));
            if let Some(busy) = &self.assembling {
                if busy.cid != cid {
                    return self.error(cid, ERR_CHANNEL_BUSY);
                }
                // The same channel starting over: only INIT (resync) may interrupt a message.
                if cmd != CMD_INIT {
                    self.assembling = None;
                    return self.error(cid, ERR_INVALID_SEQ);
                }
                self.assembling = None;
            }
            if len > MAX_MESSAGE {
                return self.error(cid, ERR_INVALID_LEN);
            }
            let first = len.min(INIT_DATA);
            let assembly = Assembly {
                cid,
                cmd,
                len,
                data: packet[7..7 + first].to_vec(),
                next_seq: 0,
            };
            if first == len {
                self.dispatch(assembly, app);
            } else {
                self.assembling = Some(assembly);
            }
        } else {
            let seq = packet[4];
            let Some(mut assembly) = self.assembling.take() else {
                return; // a stray continuation is ignored, as the spec says
            };
            if assembly.cid != cid {
                self.assembling = Some(assembly);
                return self.error(cid, ERR_CHANNEL_BUSY);
            }
            if seq != assembly.next_seq {
                return self.error(cid, ERR_INVALID_SEQ);
            }
            let take = (assembly.len - assembly.data.len()).min(CONT_DATA);
            assembly.data.extend_from_slice(&packet[5..5 + take]);
            assembly.next_seq += 1;
            if assembly.data.len() == assembly.len {
                self.dispatch(assembly, app);
            } else {
                self.assembling = Some(assembly);
            }
        }
    }

    fn dispatch(&mut self, m: Assembly, app: &mut dyn Application) {
        if m.cmd == CMD_INIT {
            return self.init(m.cid, &m.data);
        }
        if m.cid == BROADCAST || !self.allocated.contains(&m.cid) {
            return self.error(m.cid, ERR_INVALID_CHANNEL);
        }
        match m.cmd {
            CMD_PING => self.send(m.cid, CMD_PING, &m.data),
            CMD_WINK => self.send(m.cid, CMD_WINK, &[]),
            CMD_CANCEL => {} // nothing in flight: every call answers before the next packet
            CMD_CBOR | CMD_MSG => match app.call(m.cmd, &m.data) {
                Ok(response) => self.send(m.cid, m.cmd, &response),
                Err(code) => self.error(m.cid, code),
            },
            _ => self.error(m.cid, ERR_INVALID_CMD),
        }
    }

    fn init(&mut self, cid: u32, nonce: &[u8]) {
        if nonce.len() != 8 {
            return self.error(cid, ERR_INVALID_LEN);
        }
        let new_cid = if cid == BROADCAST {
            let c = self.next_cid;
            self.next_cid += 1;
            self.allocated.push(c);
            c
        } else if self.allocated.contains(&cid) {
            cid // resynchronise an existing channel
        } else {
            return self.error(cid, ERR_INVALID_CHANNEL);
        };
        let mut body = nonce.to_vec();
        body.extend_from_slice(&new_cid.to_be_bytes());
        body.extend_from_slice(&[2, 0, 4, 0, CAPABILITIES]); // protocol 2, device 0.4.0
        self.send(cid, CMD_INIT, &body);
    }

    fn error(&mut self, cid: u32, code: u8) {
        self.send(cid, CMD_ERROR, &[code]);
    }

    fn send(&mut self, cid: u32, cmd: u8, payload: &[u8]) {
        let mut packet = [0u8; PACKET];
        packet[..4].copy_from_slice(&cid.to_be_bytes());
        packet[4] = 0x80 | cmd;
        packet[5..7].copy_from_slice(&(payload.len() as u16).to_be_bytes());
        let first = payload.len().min(INIT_DATA);
        packet[7..7 + first].copy_from_slice(&payload[..first]);
        self.outbox.push_back(packet);
        for (seq, chunk) in payload[first..].chunks(CONT_DATA).enumerate() {
            let mut packet = [0u8; PACKET];
            packet[..4].copy_from_slice(&cid.to_be_bytes());
            packet[4] = seq as u8;
            packet[5..5 + chunk.len()].copy_from_slice(chunk);
            self.outbox.push_back(packet);
        }
    }
}
