//! The provisioning policy: a TOML file saying how every key of a run is prepared.
//!
//! ```toml
//! min_pin_length = 6            # the key refuses shorter PINs from now on (4..=63)
//! min_pin_length_rp_ids = []    # websites allowed to read that minimum
//! first_pin = "random"          # or "set-at-enrollment": the key is left without a PIN
//! random_pin_length = 8         # digits in a random first PIN
//! force_pin_change = true       # the person must replace the first PIN before first use
//! always_uv = false             # the key asks for its PIN on every use
//! self_test = false             # run the self-test on each key before recording it
//! erase_non_fresh_keys = false  # reset keys that already have a PIN or credentials
//! ```
//!
//! Every field is optional; a missing one takes the default shown by [`Policy::default`].

use super::ProvisionError;
use crate::pin::MAX_PIN_BYTES;
use crate::playbook::line_col;
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// CTAP 2.1 never allows a minimum below 4 code points.
pub const CTAP_MIN_PIN_LENGTH: u32 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FirstPin {
    /// keyward chooses random digits and delivers them once.
    Random,
    /// The key is left without a PIN; the person chooses one at enrollment.
    SetAtEnrollment,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub min_pin_length: u32,
    pub min_pin_length_rp_ids: Vec<String>,
    pub first_pin: FirstPin,
    pub random_pin_length: u32,
    pub force_pin_change: bool,
    pub always_uv: bool,
    pub self_test: bool,
    pub erase_non_fresh_keys: bool,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            min_pin_length: 6,
            min_pin_length_rp_ids: Vec::new(),
            first_pin: FirstPin::Random,
            random_pin_length: 8,
            force_pin_change: true,
            always_uv: false,
            self_test: false,
            erase_non_fresh_keys: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    min_pin_length: Option<Spanned<u32>>,
    min_pin_length_rp_ids: Option<Vec<Spanned<String>>>,
    first_pin: Option<Spanned<FirstPin>>,
    random_pin_length: Option<Spanned<u32>>,
    force_pin_change: Option<Spanned<bool>>,
    always_uv: Option<bool>,
    self_test: Option<bool>,
    erase_non_fresh_keys: Option<bool>,
}

impl Policy {
    pub fn load(path: &Path) -> Result<Policy, ProvisionError> {
        let bytes = std::fs::read(path).map_err(|e| ProvisionError::Read {
            what: "policy",
            path: path.to_path_buf(),
            source: e,
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            let valid = String::from_utf8_lossy(&bytes[..e.valid_up_to()]);
            let (line, column) = line_col(&valid, valid.len());
            ProvisionError::Policy {
                path: path.to_path_buf(),
                line: line as u64,
                column: Some(column),
                message: "this is not valid UTF-8 text; save the policy as UTF-8".into(),
            }
        })?;
        Policy::parse(path, text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Policy, ProvisionError> {
        let at = |span: Range<usize>, message: String| {
            let (line, column) = line_col(text, span.start);
            ProvisionError::Policy {
                path: PathBuf::from(path),
                line: line as u64,
                column: Some(column),
                message,
            }
        };
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let field = field_at(text, span.start);
            at(span, explain_toml(e.message(), field.as_deref()))
        })?;

        let d = Policy::default();
        let min = raw.min_pin_length.as_ref();
        let min_pin_length = min.map(|s| *s.get_ref()).unwrap_or(d.min_pin_length);
        if !(CTAP_MIN_PIN_LENGTH..=MAX_PIN_BYTES as u32).contains(&min_pin_length) {
            return Err(at(
                min.map(|s| s.span()).unwrap_or(0..0),
                format!(
                    "min_pin_length is {min_pin_length}; security keys accept a minimum from \
                     {CTAP_MIN_PIN_LENGTH} to {MAX_PIN_BYTES}"
                ),
            ));
        }
        let first_pin = raw
            .first_pin
            .as_ref()
            .map(|s| *s.get_ref())
            .unwrap_or(d.first_pin);
        let len_field = raw.random_pin_length.as_ref();
        let random_pin_length = len_field
            .map(|s| *s.get_ref())
            .unwrap_or(d.random_pin_length);
        if let Some(f) = len_field.filter(|_| first_pin == FirstPin::SetAtEnrollment) {
            return Err(at(
                f.span(),
                "random_pin_length is set but first_pin is \"set-at-enrollment\", so no random \
                 PIN is made; remove one of the two"
                    .into(),
            ));
        }
        if first_pin == FirstPin::Random {
            if random_pin_length > MAX_PIN_BYTES as u32 {
                return Err(at(
                    len_field.map(|s| s.span()).unwrap_or(0..0),
                    format!("random_pin_length is {random_pin_length}; a PIN has at most {MAX_PIN_BYTES} digits"),
                ));
            }
            if random_pin_length < min_pin_length {
                let span = len_field.or(min).map(|s| s.span()).unwrap_or(0..0);
                return Err(at(
                    span,
                    format!(
                        "random_pin_length ({random_pin_length}) is shorter than min_pin_length \
                         ({min_pin_length}); the keys would refuse every PIN we make"
                    ),
                ));
            }
        }
        let force = raw.force_pin_change.as_ref();
        let force_pin_change = match (force, first_pin) {
            (Some(f), FirstPin::SetAtEnrollment) if *f.get_ref() => {
                return Err(at(
                    f.span(),
                    "force_pin_change = true needs a first PIN to change, but first_pin is \
                     \"set-at-enrollment\"; set force_pin_change = false"
                        .into(),
                ))
            }
            (Some(f), _) => *f.get_ref(),
            (None, FirstPin::SetAtEnrollment) => false,
            (None, FirstPin::Random) => d.force_pin_change,
        };
        let mut rp_ids = Vec::new();
        for rp in raw.min_pin_length_rp_ids.unwrap_or_default() {
            let value = rp.get_ref().trim();
            if value.is_empty() || value.contains(['/', ':', ' ']) {
                return Err(at(
                    rp.span(),
                    format!(
                        "`{}` is not a relying-party ID; give a domain such as \"login.example.com\"",
                        rp.get_ref()
                    ),
                ));
            }
            rp_ids.push(value.to_string());
        }
        Ok(Policy {
            min_pin_length,
            min_pin_length_rp_ids: rp_ids,
            first_pin,
            random_pin_length,
            force_pin_change,
            always_uv: raw.always_uv.unwrap_or(d.always_uv),
            self_test: raw.self_test.unwrap_or(d.self_test),
            erase_non_fresh_keys: raw.erase_non_fresh_keys.unwrap_or(d.erase_non_fresh_keys),
        })
    }
}

/// toml's messages are written for programmers and may quote the value: the value goes, and
/// what the setting takes is added.
fn explain_toml(message: &str, field: Option<&str>) -> String {
    let m = crate::redact::without_values(&message.trim().replace('\n', " "));
    if m.starts_with("unknown field") {
        return format!("{m}; check the spelling (see docs/provisioning.md for every setting)");
    }
    match field.and_then(allowed) {
        Some(allowed) => format!("{m}; {} takes {allowed}", field.unwrap_or_default()),
        None => m,
    }
}

/// What each setting takes, as the policy file writes it.
fn allowed(field: &str) -> Option<String> {
    Some(match field {
        "min_pin_length" => format!(
            "a whole number from {CTAP_MIN_PIN_LENGTH} to {MAX_PIN_BYTES}, e.g. `min_pin_length = 6`"
        ),
        "min_pin_length_rp_ids" => {
            "a list of domains in quotes, e.g. `min_pin_length_rp_ids = [\"login.example.com\"]`"
                .into()
        }
        "first_pin" => "`\"random\"` or `\"set-at-enrollment\"` (in quotes)".into(),
        "random_pin_length" => {
            format!("a whole number of digits up to {MAX_PIN_BYTES}, e.g. `random_pin_length = 8`")
        }
        "force_pin_change" | "always_uv" | "self_test" | "erase_non_fresh_keys" => {
            "`true` or `false` (no quotes)".into()
        }
        _ => return None,
    })
}

/// The top-level setting whose key or value covers byte `offset` of a policy file (also in a
/// file that is not valid TOML, as far as it can be read).
fn field_at(text: &str, offset: usize) -> Option<String> {
    let (doc, _) = toml::de::DeTable::parse_recoverable(text);
    doc.get_ref()
        .iter()
        .find(|(k, v)| {
            let covers = |r: Range<usize>| r.start <= offset && offset < r.end.max(r.start + 1);
            covers(k.span()) || covers(v.span())
        })
        .map(|(k, _)| k.get_ref().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy, ProvisionError> {
        Policy::parse(Path::new("trip.toml"), text)
    }
    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn empty_file_is_the_default_policy() {
        assert_eq!(parse("").unwrap(), Policy::default());
    }

    #[test]
    fn full_policy_parses() {
        let p = parse(
            "min_pin_length = 8\nmin_pin_length_rp_ids = [\"login.example.com\"]\n\
             first_pin = \"random\"\nrandom_pin_length = 10\nforce_pin_change = false\n\
             always_uv = true\nself_test = true\nerase_non_fresh_keys = true\n",
        )
        .unwrap();
        assert_eq!(p.min_pin_length, 8);
        assert_eq!(p.random_pin_length, 10);
        assert!(p.always_uv && p.self_test && p.erase_non_fresh_keys && !p.force_pin_change);
    }

    #[test]
    fn enrollment_mode_defaults_to_no_forced_change() {
        let p = parse("first_pin = \"set-at-enrollment\"\n").unwrap();
        assert_eq!(p.first_pin, FirstPin::SetAtEnrollment);
        assert!(!p.force_pin_change);
    }

    #[test]
    fn errors_name_line_and_column() {
        assert_eq!(
            error("always_uv = true\nmin_pin_length = 3\n"),
            "policy trip.toml, line 2, column 18: min_pin_length is 3; security keys accept a minimum from 4 to 63"
        );
        assert!(error("min_pin_length = 8\nrandom_pin_length = 6\n")
            .starts_with("policy trip.toml, line 2, column 21: random_pin_length (6) is shorter than min_pin_length (8)"));
        assert!(
            error("\nforce_pin_change = true\nfirst_pin = \"set-at-enrollment\"\n").starts_with(
                "policy trip.toml, line 2, column 20: force_pin_change = true needs a first PIN"
            )
        );
    }

    #[test]
    fn toml_mistakes_are_located() {
        let e = error("min_pin_length = 6\nalways_uv = yes\n");
        assert!(e.starts_with("policy trip.toml, line 2, column 13:"), "{e}");
        assert!(e.contains("always_uv takes `true` or `false`"), "{e}");
        let e = error("min_pin_length = 6\nalways_UV = true\n");
        assert!(
            e.starts_with("policy trip.toml, line 2, column 1: unknown field `always_UV`"),
            "{e}"
        );
        let e = error("first_pin = \"chosen\"\n");
        assert!(
            e.contains("line 1, column 13: unknown variant (value not shown), expected `random` or `set-at-enrollment`"),
            "{e}"
        );
        let e = error("min_pin_length = \"six\"\n");
        assert!(e.contains("line 1, column 18"), "{e}");
        assert!(
            e.contains("min_pin_length takes a whole number from 4 to 63"),
            "{e}"
        );
    }

    /// Issue 11, item 4: a wrong type names what the setting takes, never the value.
    #[test]
    fn a_value_of_the_wrong_type_names_what_is_allowed() {
        let e = error("always_uv = true\nfirst_pin = 735901\n");
        assert!(
            e.starts_with("policy trip.toml, line 2, column 13: ")
                && e.contains("first_pin takes `\"random\"` or `\"set-at-enrollment\"`"),
            "{e}"
        );
        assert!(!e.contains("735901"), "{e}");
        let e = error("self_test = \"735901\"\n");
        assert!(e.contains("self_test takes `true` or `false`"), "{e}");
        assert!(!e.contains("735901"), "{e}");
    }

    #[test]
    fn bad_rp_id_is_refused() {
        assert!(
            error("min_pin_length_rp_ids = [\"ok.example\", \"https://x\"]\n")
                .contains("line 1, column 40: `https://x` is not a relying-party ID")
        );
    }
}
