//! Whether a key can meet a playbook's requirements, judged from what the key says about
//! itself. Kept in one function so the full check (`keyward key check`, with the model catalog
//! and FIDO metadata) can replace it without touching the flow.

use crate::device::KeyInfo;
use crate::playbook::Playbook;

/// One reason a key is not ready for a provider, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    pub problem: String,
    pub fix: String,
}

/// Everything in `playbook`'s requirements this key visibly fails. FIDO certification cannot
/// be judged from the key alone, so it is not reported here.
pub fn check(info: &KeyInfo, playbook: &Playbook) -> Vec<Shortfall> {
    let r = &playbook.requirements;
    let mut out = Vec::new();
    let fido2 = info.supports_fido2();
    if !fido2 && !r.u2f.acceptable {
        out.push(Shortfall {
            problem: format!("this key speaks only U2F: {}", r.u2f.reason),
            fix: "use a FIDO2 key".into(),
        });
    }
    if fido2 && !r.fido2.acceptable && !(info.supports_u2f() && r.u2f.acceptable) {
        out.push(Shortfall {
            problem: r.fido2.reason.clone(),
            fix: "use another key".into(),
        });
    }
    if r.user_verification.required {
        match info.pin_is_set() {
            None => out.push(Shortfall {
                problem: format!("this key cannot have a PIN: {}", r.user_verification.reason),
                fix: "use a key with a PIN (FIDO2)".into(),
            }),
            Some(false) => out.push(Shortfall {
                problem: format!("this key has no PIN yet: {}", r.user_verification.reason),
                fix: "set a PIN (keyward offers it during enrollment)".into(),
            }),
            Some(true) => {}
        }
    }
    if r.discoverable.required {
        if !info.supports_discoverable() {
            out.push(Shortfall {
                problem: format!(
                    "this key cannot store discoverable credentials: {}",
                    r.discoverable.reason
                ),
                fix: "use a FIDO2 key with discoverable credentials".into(),
            });
        } else if info.remaining_discoverable_credentials == Some(0) {
            out.push(Shortfall {
                problem: "this key has no free slot for another discoverable credential".into(),
                fix: "delete an unused one with `keyward key credentials delete`".into(),
            });
        }
    }
    out
}
