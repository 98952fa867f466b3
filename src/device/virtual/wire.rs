//! The virtual key on the wire: CTAPHID packets in, packets out, exactly as a USB key would
//! answer them. [`VirtualTransport`] puts it behind the library's [`Transport`] seam;
//! [`serve_stdio`] behind raw 64-byte reports on standard input and output, for independent
//! hosts (python-fido2) to drive.

use super::ctap::VirtualAuthenticator;
use super::u2f;
use crate::device::ctaphid::{
    self, frame, Assembled, Assembler, BROADCAST_CID, CAP_CBOR, CAP_WINK, CMD_CANCEL, CMD_CBOR,
    CMD_ERROR, CMD_INIT, CMD_KEEPALIVE, CMD_MSG, CMD_PING, CMD_WINK, KEEPALIVE_UPNEEDED,
};
use crate::device::transport::{Transport, PACKET};
use crate::device::DeviceError;
use std::collections::{HashSet, VecDeque};
use std::io::{Read, Write};
use std::time::Instant;

/// A powered virtual key answering CTAPHID.
pub struct VirtualServer {
    auth: VirtualAuthenticator,
    assembler: Assembler,
    channels: HashSet<[u8; 4]>,
    next_cid: u32,
}

impl VirtualServer {
    pub fn new(auth: VirtualAuthenticator) -> VirtualServer {
        VirtualServer {
            auth,
            assembler: Assembler::default(),
            channels: HashSet::new(),
            next_cid: 1,
        }
    }

    pub fn plugged_in(&self) -> bool {
        self.auth.state.plugged_in
    }

    fn capabilities(&self) -> u8 {
        if self.auth.profile().is_fido2() {
            CAP_WINK | CAP_CBOR
        } else {
            CAP_WINK
        }
    }

    /// One report from the host; the reports the key sends back (none while a request is
    /// still arriving). `Err` once the key has been unplugged.
    pub fn handle(&mut self, packet: &[u8; PACKET]) -> Result<Vec<[u8; PACKET]>, DeviceError> {
        if !self.auth.state.plugged_in {
            return Err(DeviceError::Disconnected);
        }
        match self.assembler.push(packet) {
            Assembled::Pending => Ok(Vec::new()),
            Assembled::Error { cid, code } => Ok(reply(cid, CMD_ERROR, &[code])),
            Assembled::Message { cid, cmd, payload } => self.message(cid, cmd, &payload),
        }
    }

    fn message(
        &mut self,
        cid: [u8; 4],
        cmd: u8,
        payload: &[u8],
    ) -> Result<Vec<[u8; PACKET]>, DeviceError> {
        if cmd == CMD_INIT {
            return Ok(self.init(cid, payload));
        }
        if cid == BROADCAST_CID || !self.channels.contains(&cid) {
            return Ok(reply(cid, CMD_ERROR, &[ctaphid::ERR_INVALID_CHANNEL]));
        }
        match cmd {
            CMD_PING => Ok(reply(cid, CMD_PING, payload)),
            CMD_WINK => Ok(reply(cid, CMD_WINK, &[])),
            // Requests are answered at once, so there is never one to cancel.
            CMD_CANCEL => Ok(Vec::new()),
            CMD_CBOR if self.auth.profile().is_fido2() => {
                let answer = match self.knobs_before_command()? {
                    Some(code) => vec![code],
                    None => self.auth.cbor(payload),
                };
                Ok(self.with_keepalive(cid, CMD_CBOR, &answer))
            }
            CMD_MSG => {
                let answer = match self.knobs_before_command()? {
                    Some(_) => u2f::status_only(u2f::SW_OTHER),
                    None => u2f::handle(&mut self.auth, payload),
                };
                Ok(reply(cid, CMD_MSG, &answer))
            }
            _ => Ok(reply(cid, CMD_ERROR, &[ctaphid::ERR_INVALID_CMD])),
        }
    }

    /// CTAPHID_INIT (§11.2.9.1.3): a new channel on the broadcast channel, a resync on one's own.
    fn init(&mut self, cid: [u8; 4], nonce: &[u8]) -> Vec<[u8; PACKET]> {
        if nonce.len() != 8 {
            return reply(cid, CMD_ERROR, &[ctaphid::ERR_INVALID_LEN]);
        }
        let new_cid = if cid == BROADCAST_CID {
            let c = self.next_cid.to_be_bytes();
            self.next_cid = self.next_cid.wrapping_add(1).max(1);
            self.channels.insert(c);
            c
        } else {
            cid
        };
        let mut data = nonce.to_vec();
        data.extend_from_slice(&new_cid);
        // CTAPHID protocol 2, device version 1.0.0, capabilities.
        data.extend_from_slice(&[2, 1, 0, 0, self.capabilities()]);
        reply(cid, CMD_INIT, &data)
    }

    /// "Disappear after N commands" and "answer the next command with this status".
    fn knobs_before_command(&mut self) -> Result<Option<u8>, DeviceError> {
        let knobs = &mut self.auth.state.knobs;
        if let Some(n) = knobs.unplug_after_commands {
            if n == 0 {
                self.auth.state.plugged_in = false;
                self.auth.state.knobs.unplug_after_commands = None;
                self.auth.save()?;
                return Err(DeviceError::Disconnected);
            }
            knobs.unplug_after_commands = Some(n - 1);
            self.auth.save()?;
        }
        let code = self.auth.state.knobs.fail_next_with.take();
        if code.is_some() {
            self.auth.save()?;
        }
        Ok(code)
    }

    /// A key that waits for a touch says so (KEEPALIVE UPNEEDED) before it answers.
    fn with_keepalive(&mut self, cid: [u8; 4], cmd: u8, answer: &[u8]) -> Vec<[u8; PACKET]> {
        let mut out = Vec::new();
        if std::mem::take(&mut self.auth.waited_for_touch) {
            out.extend(reply(cid, CMD_KEEPALIVE, &[KEEPALIVE_UPNEEDED]));
        }
        out.extend(reply(cid, cmd, answer));
        out
    }
}

fn reply(cid: [u8; 4], cmd: u8, payload: &[u8]) -> Vec<[u8; PACKET]> {
    frame(cid, cmd, payload).unwrap_or_else(|_| {
        frame(cid, CMD_ERROR, &[ctaphid::ERR_INVALID_LEN]).expect("one byte always frames")
    })
}

/// The virtual key as an in-process [`Transport`]: each report written is answered at once.
pub struct VirtualTransport {
    server: VirtualServer,
    outbox: VecDeque<[u8; PACKET]>,
}

impl VirtualTransport {
    pub fn new(server: VirtualServer) -> VirtualTransport {
        VirtualTransport {
            server,
            outbox: VecDeque::new(),
        }
    }
}

impl Transport for VirtualTransport {
    fn write_packet(&mut self, packet: &[u8; PACKET]) -> Result<(), DeviceError> {
        let answers = self.server.handle(packet)?;
        self.outbox.extend(answers);
        Ok(())
    }

    fn read_packet(&mut self, deadline: Instant) -> Result<Option<[u8; PACKET]>, DeviceError> {
        if let Some(p) = self.outbox.pop_front() {
            return Ok(Some(p));
        }
        if !self.server.plugged_in() {
            return Err(DeviceError::Disconnected);
        }
        // Nothing more is coming: a real key would stay silent until the deadline.
        std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
        Ok(None)
    }
}

/// `keyward virtual serve FILE --stdio`: raw 64-byte reports on stdin, answers on stdout,
/// until stdin closes.
pub fn serve_stdio(mut server: VirtualServer) -> Result<(), DeviceError> {
    let io_err = |e: std::io::Error| DeviceError::Transport {
        message: format!("the stdio bridge failed: {e}"),
    };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut input = stdin.lock();
    let mut output = stdout.lock();
    let mut packet = [0u8; PACKET];
    loop {
        match input.read_exact(&mut packet) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(io_err(e)),
        }
        match server.handle(&packet) {
            Ok(answers) => {
                for a in answers {
                    output.write_all(&a).map_err(io_err)?;
                }
                output.flush().map_err(io_err)?;
            }
            // An unplugged key answers nothing, as on USB.
            Err(DeviceError::Disconnected) => {}
            Err(e) => return Err(e),
        }
    }
}
