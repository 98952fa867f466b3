//! Keys arriving one after another, for commands that prepare many keys in a row.
//!
//! With real keys this polls USB: a key is "inserted" when it appears and "removed" when it is
//! gone. A folder of virtual keys (`virtual-dir:DIR`) is a stack of keys waiting on the desk:
//! each file is inserted in turn (in name order) and counts as removed once it was handled.

use super::{discover, virtual_key, DeviceDescriptor, DeviceError, DeviceSpec};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often USB is looked at while waiting; short enough to feel immediate.
const POLL: Duration = Duration::from_millis(250);

pub trait KeyArrivals {
    /// Wait for the next key. `None`: no more keys will come (a virtual folder is used up).
    /// With several real keys plugged in at once it waits until only one is left.
    fn next_key(&mut self) -> Result<Option<DeviceDescriptor>, DeviceError>;

    /// Wait until `key` has been taken out.
    fn wait_removed(&mut self, key: &DeviceDescriptor) -> Result<(), DeviceError>;
}

/// The arrivals for a `--device` value.
pub fn arrivals(spec: &DeviceSpec) -> Box<dyn KeyArrivals> {
    match spec {
        DeviceSpec::Auto | DeviceSpec::Hid(_) => Box::new(Polled { spec: spec.clone() }),
        DeviceSpec::Virtual(_) | DeviceSpec::VirtualDir(_) => Box::new(Stack {
            spec: spec.clone(),
            handled: HashSet::new(),
        }),
    }
}

struct Polled {
    spec: DeviceSpec,
}

impl Polled {
    fn present(&self) -> Result<Vec<DeviceDescriptor>, DeviceError> {
        match discover(&self.spec) {
            // A named key that is not plugged in yet is simply not there yet.
            Err(DeviceError::NotFound { .. }) => Ok(Vec::new()),
            other => other,
        }
    }
}

impl KeyArrivals for Polled {
    fn next_key(&mut self) -> Result<Option<DeviceDescriptor>, DeviceError> {
        loop {
            let mut keys = self.present()?;
            if keys.len() == 1 {
                return Ok(keys.pop());
            }
            std::thread::sleep(POLL);
        }
    }

    fn wait_removed(&mut self, key: &DeviceDescriptor) -> Result<(), DeviceError> {
        while self.present()?.iter().any(|k| k.spec == key.spec) {
            std::thread::sleep(POLL);
        }
        Ok(())
    }
}

struct Stack {
    spec: DeviceSpec,
    handled: HashSet<String>,
}

impl Stack {
    /// The next key file of a folder, reading only the files it needs: reading every key
    /// file for every key would make a run of n keys cost n² file reads.
    fn next_in_dir(&mut self, dir: &Path) -> Result<Option<DeviceDescriptor>, DeviceError> {
        let entries = std::fs::read_dir(dir).map_err(|e| DeviceError::NotFound {
            spec: self.spec.to_string(),
            reason: format!("cannot read the folder: {e}"),
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        paths.sort();
        for path in paths {
            let spec = format!("virtual:{}", path.display());
            if self.handled.contains(&spec) {
                continue;
            }
            match virtual_key::descriptor(&path) {
                Ok(desc) => {
                    self.handled.insert(spec);
                    return Ok(Some(desc));
                }
                // Unplugged: not on the desk now.
                Err(DeviceError::NotFound { .. }) => continue,
                Err(DeviceError::VirtualState { .. }) => {
                    // A file that is no virtual key at all is ignored, as `discover` does; a
                    // damaged key file is an error (and `discover` says which).
                    virtual_key::discover_dir(dir)?;
                    self.handled.insert(spec);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}

impl KeyArrivals for Stack {
    fn next_key(&mut self) -> Result<Option<DeviceDescriptor>, DeviceError> {
        // Listed afresh each time so a file added to the folder mid-run is picked up, like a
        // key put on the desk.
        if let DeviceSpec::VirtualDir(dir) = &self.spec {
            let dir = dir.clone();
            return self.next_in_dir(&dir);
        }
        let mut keys = discover(&self.spec)?;
        keys.sort_by(|a, b| a.spec.cmp(&b.spec));
        let next = keys.into_iter().find(|k| !self.handled.contains(&k.spec));
        if let Some(k) = &next {
            self.handled.insert(k.spec.clone());
        }
        Ok(next)
    }

    fn wait_removed(&mut self, _key: &DeviceDescriptor) -> Result<(), DeviceError> {
        Ok(())
    }
}
