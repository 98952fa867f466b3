//! CTAPHID framing (CTAP 2.1 §11.2): channels, message fragmentation, keep-alive and cancel,
//! over any [`Transport`]. Both sides use it: the host's [`Channel`] and the virtual key's
//! server share [`frame`] and [`Assembler`], so they cannot disagree about the layout.
//!
//! An initialisation packet is `cid(4) cmd|0x80(1) bcnt(2) data(57)`, a continuation packet
//! `cid(4) seq(1) data(59)`. Every read is bounded by a deadline: a key that stops answering
//! yields an error, never a hang.

use super::transport::{Transport, PACKET};
use super::DeviceError;
use std::time::{Duration, Instant};

const INIT_DATA: usize = PACKET - 7;
const CONT_DATA: usize = PACKET - 5;
/// The largest message CTAPHID can carry: one initialisation and 128 continuation packets.
pub const MAX_PAYLOAD: usize = INIT_DATA + 128 * CONT_DATA;

pub const BROADCAST_CID: [u8; 4] = [0xFF; 4];
/// CTAPHID command bytes (CTAP 2.1 §11.2.9), with the initialisation-packet bit set.
pub const CMD_PING: u8 = 0x81;
pub const CMD_MSG: u8 = 0x83;
pub const CMD_INIT: u8 = 0x86;
pub const CMD_WINK: u8 = 0x88;
pub const CMD_CBOR: u8 = 0x90;
pub const CMD_CANCEL: u8 = 0x91;
pub const CMD_KEEPALIVE: u8 = 0xBB;
pub const CMD_ERROR: u8 = 0xBF;

/// CTAPHID_KEEPALIVE status (§11.2.9.2.1): the key waits for a touch.
pub const KEEPALIVE_PROCESSING: u8 = 0x01;
pub const KEEPALIVE_UPNEEDED: u8 = 0x02;

/// CTAPHID_ERROR codes (§11.2.9.1.6).
pub const ERR_INVALID_CMD: u8 = 0x01;
pub const ERR_INVALID_PAR: u8 = 0x02;
pub const ERR_INVALID_LEN: u8 = 0x03;
pub const ERR_INVALID_SEQ: u8 = 0x04;
pub const ERR_CHANNEL_BUSY: u8 = 0x06;
pub const ERR_INVALID_CHANNEL: u8 = 0x0B;

/// How long a command that needs no touch may take before we call the key unresponsive.
pub const QUICK: Duration = Duration::from_secs(5);
/// How long to wait for a cancelled request's last word.
const DRAIN: Duration = Duration::from_millis(100);

/// How often a wait for the key looks whether the process is being stopped.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// How a request learns that a signal is ending the process, and what it does once it has
/// cancelled itself on the key. Tests give their own; the product uses the one signal path
/// (`temp_file`), whose clean-up waits for the cancel and then ends the process.
#[derive(Clone, Copy)]
pub struct Stopping {
    pub asked: fn() -> bool,
    pub after_cancel: fn(),
}

impl Default for Stopping {
    fn default() -> Stopping {
        Stopping {
            asked: crate::temp_file::ending,
            after_cancel: crate::temp_file::hold_if_ending,
        }
    }
}

/// Called once per request when the key first says it waits for a touch.
pub type OnKeepalive = Box<dyn FnMut() + Send>;

/// Split a message into the packets that carry it.
pub fn frame(cid: [u8; 4], cmd: u8, payload: &[u8]) -> Result<Vec<[u8; PACKET]>, DeviceError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(DeviceError::Transport {
            message: format!(
                "message of {} bytes is too large for CTAPHID",
                payload.len()
            ),
        });
    }
    let mut packets = Vec::new();
    let mut p = [0u8; PACKET];
    p[..4].copy_from_slice(&cid);
    p[4] = cmd;
    p[5..7].copy_from_slice(&(payload.len() as u16).to_be_bytes());
    let first = payload.len().min(INIT_DATA);
    p[7..7 + first].copy_from_slice(&payload[..first]);
    packets.push(p);
    for (seq, chunk) in payload[first..].chunks(CONT_DATA).enumerate() {
        let mut c = [0u8; PACKET];
        c[..4].copy_from_slice(&cid);
        c[4] = seq as u8;
        c[5..5 + chunk.len()].copy_from_slice(chunk);
        packets.push(c);
    }
    Ok(packets)
}

/// A response: its command byte and payload.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub cmd: u8,
    pub payload: Vec<u8>,
}

/// An allocated channel on one key.
pub struct Channel<T: Transport> {
    transport: T,
    cid: [u8; 4],
    capabilities: u8,
    /// Tells the person to touch the key when it sends UPNEEDED.
    on_touch: Option<OnKeepalive>,
    stopping: Stopping,
}

/// CTAPHID_INIT capability flags.
pub const CAP_WINK: u8 = 0x01;
pub const CAP_CBOR: u8 = 0x04;
/// The key does not implement CTAPHID_MSG (no CTAP1/U2F).
pub const CAP_NMSG: u8 = 0x08;

/// Parse a CTAPHID_INIT response for `nonce`: the channel ID the key gave us and its
/// capability flags.
pub fn parse_init_response(payload: &[u8], nonce: &[u8; 8]) -> Option<([u8; 4], u8)> {
    if payload.len() < 17 || &payload[..8] != nonce {
        return None;
    }
    let mut cid = [0u8; 4];
    cid.copy_from_slice(&payload[8..12]);
    Some((cid, payload[16]))
}

impl<T: Transport> Channel<T> {
    /// CTAPHID_INIT on the broadcast channel with a fresh nonce.
    pub fn open(transport: T) -> Result<Channel<T>, DeviceError> {
        let nonce: [u8; 8] = crypto_glue::rand::random();
        Channel::open_with_nonce(transport, nonce)
    }

    pub fn open_with_nonce(transport: T, nonce: [u8; 8]) -> Result<Channel<T>, DeviceError> {
        Channel::open_stopping(transport, nonce, Stopping::default())
    }

    pub fn open_stopping(
        transport: T,
        nonce: [u8; 8],
        stopping: Stopping,
    ) -> Result<Channel<T>, DeviceError> {
        let mut ch = Channel {
            transport,
            cid: BROADCAST_CID,
            capabilities: 0,
            on_touch: None,
            stopping,
        };
        let waiting = crate::temp_file::key_request();
        let deadline = Instant::now() + QUICK;
        for p in frame(BROADCAST_CID, CMD_INIT, &nonce)? {
            ch.transport.write_packet(&p)?;
        }
        // Other programs may be talking to the key: skip answers that are not to our nonce.
        loop {
            let r = match ch.read_message(deadline) {
                Err(DeviceError::Stopped) => return Err(ch.stopped(waiting)),
                other => other?,
            };
            if r.cmd == CMD_INIT {
                if let Some((cid, caps)) = parse_init_response(&r.payload, &nonce) {
                    ch.cid = cid;
                    ch.capabilities = caps;
                    return Ok(ch);
                }
            } else if r.cmd == CMD_ERROR {
                return Err(hid_error(&r.payload));
            }
        }
    }

    #[cfg(test)]
    pub fn cid(&self) -> [u8; 4] {
        self.cid
    }

    /// Who to tell when the key waits for a touch.
    pub fn set_on_touch(&mut self, on_touch: OnKeepalive) {
        self.on_touch = Some(on_touch);
    }

    pub fn capabilities(&self) -> u8 {
        self.capabilities
    }

    /// Send one message and wait for its answer until `timeout`, skipping keep-alives. On
    /// timeout the request is cancelled on the key.
    pub fn transact(
        &mut self,
        cmd: u8,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Response, DeviceError> {
        let waiting = crate::temp_file::key_request();
        for p in frame(self.cid, cmd, payload)? {
            self.transport.write_packet(&p)?;
        }
        let deadline = Instant::now() + timeout;
        let mut told = false;
        loop {
            let r = match self.read_message(deadline) {
                Err(DeviceError::Timeout) => {
                    self.cancel();
                    self.drain(DRAIN);
                    return Err(DeviceError::Timeout);
                }
                Err(DeviceError::Stopped) => return Err(self.stopped(waiting)),
                other => other?,
            };
            match r.cmd {
                CMD_KEEPALIVE => {
                    if r.payload.first() == Some(&KEEPALIVE_UPNEEDED) && !told {
                        told = true;
                        if let Some(tell) = self.on_touch.as_mut() {
                            tell();
                        }
                    }
                    continue;
                }
                CMD_ERROR => return Err(hid_error(&r.payload)),
                c if c == cmd => return Ok(r),
                other => {
                    return Err(DeviceError::Transport {
                        message: format!("the key answered command 0x{cmd:02X} with 0x{other:02X}"),
                    })
                }
            }
        }
    }

    /// A CTAP2 command over CTAPHID_CBOR: returns the CBOR after a success status byte.
    pub fn cbor(
        &mut self,
        command: u8,
        params: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Vec<u8>, DeviceError> {
        let mut msg = vec![command];
        if let Some(p) = params {
            msg.extend_from_slice(p);
        }
        let r = self.transact(CMD_CBOR, &msg, timeout)?;
        match r.payload.split_first() {
            Some((0, rest)) => Ok(rest.to_vec()),
            Some((&status, _)) => Err(super::ctap2::CtapStatus::error_from_byte(status)),
            None => Err(DeviceError::Transport {
                message: "empty CTAP2 response".into(),
            }),
        }
    }

    /// Swallow what the key still sends after a cancel (its KEEPALIVE_CANCEL answer), so a
    /// later command on this channel does not take it for its own answer.
    fn drain(&mut self, quiet: Duration) {
        let until = Instant::now() + quiet * 4;
        while Instant::now() < until {
            match self.transport.read_packet(Instant::now() + quiet) {
                Ok(Some(p)) if p[..4] == self.cid && p[4] & 0x80 != 0 && p[4] != CMD_KEEPALIVE => {
                    return
                }
                Ok(_) => continue,
                Err(_) => return,
            }
        }
    }

    /// After a request cancelled itself because a signal is ending the process: no longer
    /// waiting on the key (the signal's clean-up may go on), hand over to the signal path.
    fn stopped(&self, waiting: crate::temp_file::KeyRequest) -> DeviceError {
        drop(waiting);
        (self.stopping.after_cancel)();
        DeviceError::Stopped
    }

    /// Best effort: the key may already have given up.
    pub fn cancel(&mut self) {
        if let Ok(packets) = frame(self.cid, CMD_CANCEL, &[]) {
            for p in packets {
                let _ = self.transport.write_packet(&p);
            }
        }
    }

    /// Read one complete message on our channel, ignoring other channels' traffic.
    fn read_message(&mut self, deadline: Instant) -> Result<Response, DeviceError> {
        let first = loop {
            let p = self.receive_until(deadline)?;
            if p[..4] == self.cid && p[4] & 0x80 != 0 {
                break p;
            }
        };
        let cmd = first[4];
        let total = u16::from_be_bytes([first[5], first[6]]) as usize;
        if total > MAX_PAYLOAD {
            return Err(DeviceError::Transport {
                message: format!(
                    "the key announced a {total}-byte answer, more than CTAPHID allows"
                ),
            });
        }
        let mut payload = first[7..7 + total.min(INIT_DATA)].to_vec();
        let mut seq = 0u8;
        while payload.len() < total {
            let p = self.receive_until(deadline)?;
            if p[..4] != self.cid {
                continue;
            }
            if p[4] != seq {
                return Err(DeviceError::Transport {
                    message: format!(
                        "continuation packet out of order (expected {seq}, got {})",
                        p[4]
                    ),
                });
            }
            let n = (total - payload.len()).min(CONT_DATA);
            payload.extend_from_slice(&p[5..5 + n]);
            seq = seq.wrapping_add(1);
        }
        Ok(Response { cmd, payload })
    }

    /// The next packet, until `deadline`. A signal ending the process meanwhile cancels the
    /// request on the key (the key stops waiting for a touch, so a late one makes nothing).
    fn receive_until(&mut self, deadline: Instant) -> Result<[u8; PACKET], DeviceError> {
        loop {
            if (self.stopping.asked)() {
                self.cancel();
                self.drain(DRAIN);
                return Err(DeviceError::Stopped);
            }
            if Instant::now() >= deadline {
                return Err(DeviceError::Timeout);
            }
            let slice = deadline.min(Instant::now() + STOP_CHECK);
            if let Some(p) = self.transport.read_packet(slice)? {
                return Ok(p);
            }
        }
    }
}

/// One message put back together on the authenticator side.
#[derive(Debug, PartialEq, Eq)]
pub enum Assembled {
    /// More packets are needed.
    Pending,
    Message {
        cid: [u8; 4],
        cmd: u8,
        payload: Vec<u8>,
    },
    /// Answer this channel with CTAPHID_ERROR `code`.
    Error { cid: [u8; 4], code: u8 },
}

/// Reassembles the requests a host sends, one at a time (a key serves one transaction at a
/// time; another channel starting one meanwhile is told the key is busy).
#[derive(Default)]
pub struct Assembler {
    current: Option<Partial>,
}

struct Partial {
    cid: [u8; 4],
    cmd: u8,
    total: usize,
    payload: Vec<u8>,
    seq: u8,
}

impl Assembler {
    pub fn push(&mut self, p: &[u8; PACKET]) -> Assembled {
        let mut cid = [0u8; 4];
        cid.copy_from_slice(&p[..4]);
        if p[4] & 0x80 != 0 {
            if let Some(cur) = &self.current {
                if cur.cid != cid {
                    return Assembled::Error {
                        cid,
                        code: ERR_CHANNEL_BUSY,
                    };
                }
            }
            let total = u16::from_be_bytes([p[5], p[6]]) as usize;
            if total > MAX_PAYLOAD {
                self.current = None;
                return Assembled::Error {
                    cid,
                    code: ERR_INVALID_LEN,
                };
            }
            let payload = p[7..7 + total.min(INIT_DATA)].to_vec();
            self.current = Some(Partial {
                cid,
                cmd: p[4],
                total,
                payload,
                seq: 0,
            });
        } else {
            let Some(cur) = self.current.as_mut() else {
                // A stray continuation is ignored, as keys do.
                return Assembled::Pending;
            };
            if cur.cid != cid {
                return Assembled::Error {
                    cid,
                    code: ERR_CHANNEL_BUSY,
                };
            }
            if p[4] != cur.seq {
                self.current = None;
                return Assembled::Error {
                    cid,
                    code: ERR_INVALID_SEQ,
                };
            }
            let n = (cur.total - cur.payload.len()).min(CONT_DATA);
            cur.payload.extend_from_slice(&p[5..5 + n]);
            cur.seq = cur.seq.wrapping_add(1);
        }
        match &self.current {
            Some(cur) if cur.payload.len() >= cur.total => {
                let cur = self.current.take().expect("checked just above");
                Assembled::Message {
                    cid: cur.cid,
                    cmd: cur.cmd,
                    payload: cur.payload,
                }
            }
            _ => Assembled::Pending,
        }
    }
}

/// A CTAPHID_ERROR frame's code, in words.
fn hid_error(payload: &[u8]) -> DeviceError {
    let code = payload.first().copied().unwrap_or(0x7F);
    let message = match code {
        0x01 => "the key does not know this command (CTAPHID 0x01)".to_string(),
        0x05 => return DeviceError::Timeout,
        0x06 => "the key is busy with another program; close browsers or other tools using it and try again (CTAPHID 0x06)".to_string(),
        other => format!("the key reported CTAPHID error 0x{other:02X}"),
    };
    DeviceError::Transport { message }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// Answers scripted in advance; records what was sent. `None` in the script is a silent
    /// read (the key said nothing within the timeout).
    #[derive(Default)]
    pub struct FakeTransport {
        pub sent: Vec<[u8; PACKET]>,
        pub script: VecDeque<Option<[u8; PACKET]>>,
    }

    impl Transport for FakeTransport {
        fn write_packet(&mut self, packet: &[u8; PACKET]) -> Result<(), DeviceError> {
            self.sent.push(*packet);
            Ok(())
        }
        fn read_packet(&mut self, deadline: Instant) -> Result<Option<[u8; PACKET]>, DeviceError> {
            match self.script.pop_front() {
                Some(Some(p)) => Ok(Some(p)),
                Some(None) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    std::thread::sleep(left.min(Duration::from_millis(20)));
                    Ok(None)
                }
                // An unplugged key: reads fail.
                None => Err(DeviceError::Disconnected),
            }
        }
    }

    const CTAP_RESET: u8 = 0x07;
    const CTAP_SELECTION: u8 = 0x0B;
    const NONCE: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
    const CID: [u8; 4] = [0xCA, 0xFE, 0x00, 0x01];

    pub fn init_answer(nonce: [u8; 8], cid: [u8; 4]) -> [u8; PACKET] {
        let mut data = nonce.to_vec();
        data.extend_from_slice(&cid);
        data.extend_from_slice(&[2, 5, 2, 7, 0x05]); // protocol 2, version 5.2.7, WINK|CBOR
        frame(BROADCAST_CID, CMD_INIT, &data).unwrap()[0]
    }

    fn opened(script: Vec<Option<[u8; PACKET]>>) -> Channel<FakeTransport> {
        let mut t = FakeTransport::default();
        t.script.push_back(Some(init_answer(NONCE, CID)));
        t.script.extend(script);
        Channel::open_with_nonce(t, NONCE).unwrap()
    }

    #[test]
    fn init_sends_the_nonce_on_the_broadcast_channel_and_takes_the_given_cid() {
        let ch = opened(vec![]);
        let sent = &ch.transport.sent[0];
        assert_eq!(&sent[..4], &BROADCAST_CID);
        assert_eq!(sent[4], CMD_INIT);
        assert_eq!(&sent[5..7], &[0, 8]);
        assert_eq!(&sent[7..15], &NONCE);
        assert_eq!(ch.cid(), CID);
        assert_eq!(ch.capabilities(), CAP_WINK | CAP_CBOR);
    }

    #[test]
    fn init_ignores_answers_to_another_programs_nonce() {
        let mut t = FakeTransport::default();
        t.script.push_back(Some(init_answer([9; 8], [1, 1, 1, 1])));
        t.script.push_back(Some(init_answer(NONCE, CID)));
        let ch = Channel::open_with_nonce(t, NONCE).unwrap();
        assert_eq!(ch.cid(), CID);
    }

    #[test]
    fn init_response_too_short_is_not_accepted() {
        assert_eq!(parse_init_response(&NONCE, &NONCE), None);
        let mut ok = NONCE.to_vec();
        ok.extend_from_slice(&[0xAA, 0xBB, 0xCC, 0xDD, 2, 1, 0, 0, 1]);
        assert_eq!(
            parse_init_response(&ok, &NONCE),
            Some(([0xAA, 0xBB, 0xCC, 0xDD], 1))
        );
    }

    #[test]
    fn long_requests_are_split_into_numbered_continuation_packets() {
        let payload: Vec<u8> = (0..200u16).map(|i| i as u8).collect();
        let packets = frame(CID, CMD_CBOR, &payload).unwrap();
        // 57 + 59 + 59 + 25
        assert_eq!(packets.len(), 4);
        assert_eq!(&packets[0][5..7], &[0, 200]);
        assert_eq!(packets[1][4], 0);
        assert_eq!(packets[3][4], 2);
        assert_eq!(packets[1][5], 57);
        assert_eq!(packets[3][5 + 24], 199);
    }

    #[test]
    fn a_response_spanning_continuation_packets_is_reassembled() {
        let body: Vec<u8> = std::iter::once(0u8)
            .chain((0..150u8).map(|x| x ^ 0x5A))
            .collect();
        let packets = frame(CID, CMD_CBOR, &body).unwrap();
        let mut ch = opened(packets.into_iter().map(Some).collect());
        let got = ch.cbor(CTAP_RESET, None, Duration::from_secs(1)).unwrap();
        assert_eq!(got, body[1..]);
        // the request was 0x07 on our channel
        let req = &ch.transport.sent[1];
        assert_eq!(&req[..4], &CID);
        assert_eq!(
            (req[4], req[5], req[6], req[7]),
            (CMD_CBOR, 0, 1, CTAP_RESET)
        );
    }

    #[test]
    fn keepalives_are_skipped_until_the_answer_comes() {
        let keepalive = frame(CID, CMD_KEEPALIVE, &[2]).unwrap()[0];
        let answer = frame(CID, CMD_CBOR, &[0]).unwrap()[0];
        let mut ch = opened(vec![Some(keepalive), None, Some(keepalive), Some(answer)]);
        assert_eq!(
            ch.cbor(CTAP_RESET, None, Duration::from_secs(1)).unwrap(),
            b""
        );
    }

    #[test]
    fn other_channels_traffic_is_ignored() {
        let foreign = frame([7, 7, 7, 7], CMD_CBOR, &[0x31]).unwrap()[0];
        let answer = frame(CID, CMD_CBOR, &[0]).unwrap()[0];
        let mut ch = opened(vec![Some(foreign), Some(answer)]);
        assert!(ch
            .cbor(CTAP_SELECTION, None, Duration::from_secs(1))
            .is_ok());
    }

    #[test]
    fn ctap_status_errors_map_to_our_errors() {
        let denied = frame(CID, CMD_CBOR, &[0x30]).unwrap()[0];
        let mut ch = opened(vec![Some(denied)]);
        assert!(matches!(
            ch.cbor(CTAP_RESET, None, Duration::from_secs(1)),
            Err(DeviceError::NotAllowed { .. })
        ));
    }

    #[test]
    fn silence_until_the_deadline_is_a_timeout_and_the_request_is_cancelled() {
        let keepalive = frame(CID, CMD_KEEPALIVE, &[2]).unwrap()[0];
        let mut script = vec![Some(keepalive)];
        script.extend(std::iter::repeat_n(None, 1000));
        let mut ch = opened(script);
        let started = Instant::now();
        let r = ch.cbor(CTAP_SELECTION, None, Duration::from_millis(40));
        assert!(matches!(r, Err(DeviceError::Timeout)), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
        let last = ch.transport.sent.last().unwrap();
        assert_eq!((&last[..4], last[4]), (&CID[..], CMD_CANCEL));
    }

    #[test]
    fn the_answer_to_a_cancelled_request_is_not_taken_for_the_next_one() {
        let cancelled = frame(CID, CMD_CBOR, &[0x2D]).unwrap()[0];
        let fresh = frame(CID, CMD_CBOR, &[0x00, 0xA0]).unwrap()[0];
        // Silence past the 30 ms deadline, then the key's answer to the cancel.
        let mut ch = opened(vec![None, None, None, Some(cancelled), Some(fresh)]);
        let r = ch.cbor(CTAP_SELECTION, None, Duration::from_millis(30));
        assert!(matches!(r, Err(DeviceError::Timeout)), "{r:?}");
        assert_eq!(
            ch.cbor(CTAP_GET_INFO_FOR_TEST, None, Duration::from_secs(1))
                .unwrap(),
            [0xA0]
        );
    }

    const CTAP_GET_INFO_FOR_TEST: u8 = 0x04;

    mod stop {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        pub static LOOKS: AtomicUsize = AtomicUsize::new(0);
        pub static HELD: AtomicBool = AtomicBool::new(false);
        /// The signal arrives while the key waits for a touch (after INIT and two keep-alives).
        pub fn asked() -> bool {
            LOOKS.fetch_add(1, Ordering::SeqCst) >= 3
        }
        pub fn after_cancel() {
            HELD.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_signal_while_the_key_waits_for_a_touch_cancels_the_request_on_the_key() {
        use std::sync::atomic::Ordering;
        let keepalive = frame(CID, CMD_KEEPALIVE, &[KEEPALIVE_UPNEEDED]).unwrap()[0];
        let mut t = FakeTransport::default();
        t.script.push_back(Some(init_answer(NONCE, CID)));
        t.script.extend(std::iter::repeat_n(Some(keepalive), 6));
        let stopping = Stopping {
            asked: stop::asked,
            after_cancel: stop::after_cancel,
        };
        let mut ch = Channel::open_stopping(t, NONCE, stopping).unwrap();
        let r = ch.cbor(CTAP_SELECTION, None, Duration::from_secs(30));
        assert!(matches!(r, Err(DeviceError::Stopped)), "{r:?}");
        let last = ch.transport.sent.last().unwrap();
        assert_eq!(
            (&last[..4], last[4]),
            (&CID[..], CMD_CANCEL),
            "the key is told to stop waiting"
        );
        assert!(
            stop::HELD.load(Ordering::SeqCst),
            "the request waits for the signal path to end the process"
        );
    }

    #[test]
    fn a_key_unplugged_mid_command_is_reported_as_disconnected() {
        let mut ch = opened(vec![]);
        assert!(matches!(
            ch.cbor(CTAP_RESET, None, Duration::from_secs(1)),
            Err(DeviceError::Disconnected)
        ));
    }

    #[test]
    fn ctaphid_error_frames_are_reported() {
        let busy = frame(CID, CMD_ERROR, &[0x06]).unwrap()[0];
        let mut ch = opened(vec![Some(busy)]);
        let e = ch
            .cbor(CTAP_RESET, None, Duration::from_secs(1))
            .unwrap_err();
        assert!(e.to_string().contains("busy"), "{e}");
    }

    #[test]
    fn the_key_side_reassembles_what_the_host_side_frames() {
        let payload: Vec<u8> = (0..300u16).map(|i| (i * 7) as u8).collect();
        let mut asm = Assembler::default();
        let packets = frame(CID, CMD_CBOR, &payload).unwrap();
        let (last, first) = packets.split_last().unwrap();
        for p in first {
            assert_eq!(asm.push(p), Assembled::Pending);
        }
        assert_eq!(
            asm.push(last),
            Assembled::Message {
                cid: CID,
                cmd: CMD_CBOR,
                payload
            }
        );
    }

    #[test]
    fn another_channel_interrupting_a_request_is_told_the_key_is_busy() {
        let mut asm = Assembler::default();
        let long = frame(CID, CMD_CBOR, &[1; 100]).unwrap();
        assert_eq!(asm.push(&long[0]), Assembled::Pending);
        let other = frame([9, 9, 9, 9], CMD_PING, &[1]).unwrap();
        assert_eq!(
            asm.push(&other[0]),
            Assembled::Error {
                cid: [9, 9, 9, 9],
                code: ERR_CHANNEL_BUSY
            }
        );
    }

    #[test]
    fn out_of_order_continuation_is_an_error_not_garbage() {
        let body = vec![0u8; 100];
        let mut packets = frame(CID, CMD_CBOR, &body).unwrap();
        packets[1][4] = 3;
        let mut ch = opened(packets.into_iter().map(Some).collect());
        assert!(matches!(
            ch.cbor(CTAP_RESET, None, Duration::from_secs(1)),
            Err(DeviceError::Transport { .. })
        ));
    }
}
