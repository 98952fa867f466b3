//! Our own CTAPHID exchange, for what `ctap-hid-fido2` lacks or cannot bound in time:
//! authenticatorReset, selection with a timeout, wink, and makeCredential / getAssertion with
//! the caller's exact clientDataHash.
//!
//! Framing (CTAP 2.1 §11.2.4): 64-byte reports; an initialisation packet is
//! `cid(4) cmd|0x80(1) bcnt(2) data(57)`, a continuation packet `cid(4) seq(1) data(59)`.
//! Every read is bounded by a deadline: a key that stops answering yields an error, never a hang.

use super::super::DeviceError;
use std::time::{Duration, Instant};

pub const PACKET: usize = 64;
const INIT_DATA: usize = PACKET - 7;
const CONT_DATA: usize = PACKET - 5;
const MAX_PAYLOAD: usize = INIT_DATA + 128 * CONT_DATA;

pub const BROADCAST_CID: [u8; 4] = [0xFF; 4];
pub const CMD_MSG: u8 = 0x83;
pub const CMD_INIT: u8 = 0x86;
pub const CMD_WINK: u8 = 0x88;
pub const CMD_CBOR: u8 = 0x90;
pub const CMD_CANCEL: u8 = 0x91;
pub const CMD_KEEPALIVE: u8 = 0xBB;
pub const CMD_ERROR: u8 = 0xBF;

/// CTAP2 command bytes we send ourselves.
pub const CTAP_MAKE_CREDENTIAL: u8 = 0x01;
pub const CTAP_GET_ASSERTION: u8 = 0x02;
pub const CTAP_RESET: u8 = 0x07;
pub const CTAP_SELECTION: u8 = 0x0B;

/// How long a command that needs no touch may take before we call the key unresponsive.
pub const QUICK: Duration = Duration::from_secs(5);
/// How long to wait for a cancelled request's last word.
const DRAIN: Duration = Duration::from_millis(100);

/// One HID report in each direction. The report-ID byte is the transport's business.
pub trait Transport {
    fn send(&mut self, packet: &[u8; PACKET]) -> Result<(), DeviceError>;
    /// One report, or `None` when nothing arrived within `timeout`.
    fn receive(&mut self, timeout: Duration) -> Result<Option<[u8; PACKET]>, DeviceError>;
}

/// The real transport: one opened `hidapi` device.
pub struct HidTransport {
    device: hidapi::HidDevice,
}

impl HidTransport {
    pub fn open(path: &str) -> Result<HidTransport, DeviceError> {
        let api = hidapi::HidApi::new().map_err(|e| DeviceError::Environment {
            message: format!("cannot use USB HID: {e}"),
        })?;
        let c_path = std::ffi::CString::new(path).map_err(|_| DeviceError::NotFound {
            spec: format!("hid:{path}"),
            reason: "the path contains a NUL byte".into(),
        })?;
        let device = api.open_path(&c_path).map_err(|e| open_failure(path, e))?;
        Ok(HidTransport { device })
    }
}

/// Why a listed key cannot be opened, in words a person can act on. On Linux a key is listed
/// from sysfs even when its /dev node is closed to this user: that is the udev case.
pub fn open_failure(path: &str, e: impl std::fmt::Display) -> DeviceError {
    #[cfg(target_os = "linux")]
    if let Err(io) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    {
        if io.kind() == std::io::ErrorKind::PermissionDenied {
            return DeviceError::Environment {
                message: format!(
                    "the security key at {path} is present but this user may not open it \
                     (permission denied): the udev rules for security keys are missing; \
                     see docs/linux-udev.md"
                ),
            };
        }
    }
    DeviceError::NotFound {
        spec: format!("hid:{path}"),
        reason: format!("cannot open it ({e}); is it still plugged in?"),
    }
}

impl Transport for HidTransport {
    fn send(&mut self, packet: &[u8; PACKET]) -> Result<(), DeviceError> {
        // hidapi wants the report ID first; FIDO keys use a single unnumbered report (0).
        let mut report = [0u8; PACKET + 1];
        report[1..].copy_from_slice(packet);
        match self.device.write(&report) {
            Ok(_) => Ok(()),
            Err(_) => Err(DeviceError::Disconnected),
        }
    }

    fn receive(&mut self, timeout: Duration) -> Result<Option<[u8; PACKET]>, DeviceError> {
        let mut buf = [0u8; PACKET];
        let ms = i32::try_from(timeout.as_millis())
            .unwrap_or(i32::MAX)
            .max(1);
        match self.device.read_timeout(&mut buf, ms) {
            Ok(0) => Ok(None),
            Ok(_) => Ok(Some(buf)),
            Err(_) => Err(DeviceError::Disconnected),
        }
    }
}

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
}

/// CTAPHID_INIT capability flags.
pub const CAP_WINK: u8 = 0x01;
pub const CAP_CBOR: u8 = 0x04;

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
        let mut ch = Channel {
            transport,
            cid: BROADCAST_CID,
            capabilities: 0,
        };
        let deadline = Instant::now() + QUICK;
        for p in frame(BROADCAST_CID, CMD_INIT, &nonce)? {
            ch.transport.send(&p)?;
        }
        // Other programs may be talking to the key: skip answers that are not to our nonce.
        loop {
            let r = ch.read_message(deadline)?;
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
        for p in frame(self.cid, cmd, payload)? {
            self.transport.send(&p)?;
        }
        let deadline = Instant::now() + timeout;
        loop {
            let r = match self.read_message(deadline) {
                Err(DeviceError::Timeout) => {
                    self.cancel();
                    self.drain(DRAIN);
                    return Err(DeviceError::Timeout);
                }
                other => other?,
            };
            match r.cmd {
                CMD_KEEPALIVE => continue,
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
            Some((&status, _)) => Err(DeviceError::from_ctap_status(status)),
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
            match self.transport.receive(quiet) {
                Ok(Some(p)) if p[..4] == self.cid && p[4] & 0x80 != 0 && p[4] != CMD_KEEPALIVE => {
                    return
                }
                Ok(_) => continue,
                Err(_) => return,
            }
        }
    }

    /// Best effort: the key may already have given up.
    pub fn cancel(&mut self) {
        if let Ok(packets) = frame(self.cid, CMD_CANCEL, &[]) {
            for p in packets {
                let _ = self.transport.send(&p);
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

    fn receive_until(&mut self, deadline: Instant) -> Result<[u8; PACKET], DeviceError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(DeviceError::Timeout);
            }
            if let Some(p) = self.transport.receive(left)? {
                return Ok(p);
            }
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
        fn send(&mut self, packet: &[u8; PACKET]) -> Result<(), DeviceError> {
            self.sent.push(*packet);
            Ok(())
        }
        fn receive(&mut self, timeout: Duration) -> Result<Option<[u8; PACKET]>, DeviceError> {
            match self.script.pop_front() {
                Some(Some(p)) => Ok(Some(p)),
                Some(None) => {
                    std::thread::sleep(timeout.min(Duration::from_millis(20)));
                    Ok(None)
                }
                // An unplugged key: reads fail.
                None => Err(DeviceError::Disconnected),
            }
        }
    }

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
