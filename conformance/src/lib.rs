//! Independent checks for keyward's CTAP host (issue 10): see `docs/conformance.md`.
//!
//! keyward's host drives fido-authenticator, the CTAP application of Nitrokey 3 and Solo 2
//! keys, in process: [`fido::FidoKey`] runs it on trussed's virtual platform behind CTAPHID
//! reports ([`ctaphid_device`]), and [`host::FidoTransport`] is keyward's `Transport` to it.

pub mod ctaphid_device;
pub mod fido;
pub mod host;
