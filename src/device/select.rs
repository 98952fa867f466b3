use super::{hid, virtual_key, Authenticator, DeviceDescriptor, DeviceError};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::mpsc;
use std::time::Duration;

/// The `--device` value (env `KEYWARD_DEVICE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSpec {
    /// Every FIDO key on USB HID.
    Auto,
    /// One HID key by its platform path.
    Hid(String),
    /// One virtual key file.
    Virtual(PathBuf),
    /// Every virtual key file in a folder, as if each were plugged in.
    VirtualDir(PathBuf),
}

impl FromStr for DeviceSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || {
            format!(
                "invalid device `{s}`: use auto, hid:PATH, virtual:FILE or virtual-dir:DIR \
                 (see `keyward devices`)"
            )
        };
        if s == "auto" {
            return Ok(DeviceSpec::Auto);
        }
        let (kind, rest) = s.split_once(':').ok_or_else(invalid)?;
        if rest.is_empty() {
            return Err(invalid());
        }
        match kind {
            "hid" => Ok(DeviceSpec::Hid(rest.to_string())),
            "virtual" => Ok(DeviceSpec::Virtual(PathBuf::from(rest))),
            "virtual-dir" => Ok(DeviceSpec::VirtualDir(PathBuf::from(rest))),
            _ => Err(invalid()),
        }
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Auto => write!(f, "auto"),
            DeviceSpec::Hid(p) => write!(f, "hid:{p}"),
            DeviceSpec::Virtual(p) => write!(f, "virtual:{}", p.display()),
            DeviceSpec::VirtualDir(p) => write!(f, "virtual-dir:{}", p.display()),
        }
    }
}

/// The keys present for a spec. `Auto` with no key present is `Ok(vec![])`; callers turn that
/// into [`DeviceError::NoKey`] with [`hid::diagnose_no_key`].
pub fn discover(spec: &DeviceSpec) -> Result<Vec<DeviceDescriptor>, DeviceError> {
    match spec {
        DeviceSpec::Auto => hid::discover(),
        DeviceSpec::Hid(path) => {
            let found = hid::discover()?;
            match found.into_iter().find(|d| d.spec == format!("hid:{path}")) {
                Some(d) => Ok(vec![d]),
                None => Err(DeviceError::NotFound {
                    spec: spec.to_string(),
                    reason: "no FIDO key at that path; `keyward devices` lists the keys present"
                        .into(),
                }),
            }
        }
        DeviceSpec::Virtual(path) => Ok(vec![virtual_key::descriptor(path)?]),
        DeviceSpec::VirtualDir(dir) => virtual_key::discover_dir(dir),
    }
}

/// Why this process could not use a key that discovery listed (e.g. missing udev rules), if
/// that can be told without talking to the key.
pub fn access_problem(desc: &DeviceDescriptor) -> Option<String> {
    match desc.backend {
        super::Backend::Hid => desc
            .spec
            .strip_prefix("hid:")
            .and_then(|p| hid::access_problem(std::path::Path::new(p))),
        super::Backend::Virtual => None,
    }
}

/// Open one present key.
pub fn open(desc: &DeviceDescriptor) -> Result<Box<dyn Authenticator>, DeviceError> {
    match desc.backend {
        super::Backend::Hid => hid::open(desc),
        super::Backend::Virtual => {
            let path = desc.spec.strip_prefix("virtual:").unwrap_or(&desc.spec);
            virtual_key::open(std::path::Path::new(path))
        }
    }
}

/// Ask every key to blink and wait for the person to touch one (CTAP selection). Returns the
/// index of the key touched first.
///
/// Each key waits on its own detached thread, so the answer comes as soon as one key is touched
/// rather than when the slowest one times out; the others give up on their own.
pub fn select_by_touch(keys: &[DeviceDescriptor], timeout: Duration) -> Result<usize, DeviceError> {
    let (tx, rx) = mpsc::channel();
    let mut opened = Vec::new();
    for (i, desc) in keys.iter().enumerate() {
        opened.push((i, open(desc)?));
    }
    for (i, mut key) in opened {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let _ = tx.send((i, key.selection(timeout)));
        });
    }
    drop(tx);
    let mut last_err = None;
    for (i, result) in rx.iter() {
        match result {
            Ok(()) => return Ok(i),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or(DeviceError::Timeout))
}
