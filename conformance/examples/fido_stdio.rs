//! fido-authenticator behind the same stdin/stdout bridge as `keyward virtual serve FILE
//! --stdio`: raw 64-byte CTAPHID reports in, response reports out, until stdin closes.
//!
//! It lets the python-fido2 suite's expectations be cross-checked against an authenticator
//! nobody here wrote (docs/conformance.md): `CONFORMANCE_SERVE_CMD=target/debug/examples/fido_stdio`.
//! Power cycles are not modelled (state lives in memory), so scenarios that replug fail here.

use keyward_conformance::ctaphid_device::PACKET;
use keyward_conformance::fido::FidoKey;
use std::io::{Read, Write};

fn main() {
    let mut key = FidoKey::start();
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut packet = [0u8; PACKET];
    while stdin.read_exact(&mut packet).is_ok() {
        for out in key.exchange(&packet).expect("key running") {
            stdout
                .write_all(&out)
                .and_then(|()| stdout.flush())
                .expect("stdout open");
        }
    }
}
