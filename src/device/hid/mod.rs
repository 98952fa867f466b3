//! Real keys over USB HID: discovery with `hidapi`, CTAP commands with `ctap-hid-fido2`, and our
//! own small CTAPHID exchange for what that library lacks or cannot bound in time (reset,
//! selection, wink, makeCredential and getAssertion with an exact clientDataHash).

mod ctap2;
mod ctaphid;
mod diagnose;
mod discovery;
mod key;
mod quiet;
mod status;
mod u2f;

pub use diagnose::{access_problem, diagnose_hidraw, diagnose_no_key};
pub use discovery::{discover, FIDO_USAGE_PAGE};
pub use key::HidKey;
