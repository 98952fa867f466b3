//! Why no key is visible, when the environment can tell.

use std::path::Path;

/// On Linux: hidraw nodes that exist but cannot be opened mean the udev rules that give the
/// logged-in user access to security keys are missing. On Windows: only an administrator
/// process may talk to FIDO keys directly (Windows keeps them for its own WebAuthn API).
pub fn diagnose_no_key() -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        diagnose_hidraw(Path::new("/dev"))
    }
    #[cfg(windows)]
    {
        windows_hint()
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    {
        None
    }
}

/// The Linux check, over any folder holding `hidraw*` nodes.
pub fn diagnose_hidraw(dev_dir: &Path) -> Option<String> {
    diagnose_hidraw_with(dev_dir, |path| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map(drop)
    })
}

/// As [`diagnose_hidraw`], with the way a node is opened given by the caller (tests run as any
/// user, root included, so they stage the refusal instead of relying on file modes).
pub fn diagnose_hidraw_with(
    dev_dir: &Path,
    open: impl Fn(&Path) -> std::io::Result<()>,
) -> Option<String> {
    let entries = std::fs::read_dir(dev_dir).ok()?;
    let mut unreadable = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("hidraw") {
            continue;
        }
        let path = entry.path();
        if let Err(e) = open(&path) {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                unreadable.push(path.display().to_string());
            }
        }
    }
    if unreadable.is_empty() {
        return None;
    }
    unreadable.sort();
    Some(format!(
        "{} HID device(s) exist but this user may not open them ({}); a security key among them \
         stays invisible. This usually means missing udev rules: see docs/linux-udev.md",
        unreadable.len(),
        unreadable.join(", ")
    ))
}

/// Why this process cannot open a key that discovery listed, if it cannot. On Linux, hidapi
/// lists keys from sysfs without opening them, so a key can be listed yet unusable.
pub fn access_problem(path: &Path) -> Option<String> {
    access_problem_with(path, |p| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(p)
            .map(drop)
    })
}

/// As [`access_problem`], with the way the node is opened given by the caller (for tests).
pub fn access_problem_with(
    path: &Path,
    open: impl Fn(&Path) -> std::io::Result<()>,
) -> Option<String> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    match open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Some(format!(
            "this user may not open {}: the udev rules for security keys are probably missing \
             (see docs/linux-udev.md)",
            path.display()
        )),
        _ => None,
    }
}

#[cfg(windows)]
fn windows_hint() -> Option<String> {
    Some(
        "on Windows, a program that is not running as administrator cannot reach FIDO keys \
         directly (Windows reserves them for its own sign-in dialogs); run keyward from an \
         administrator terminal"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    fn denied(path: &Path) -> std::io::Result<()> {
        if path.ends_with("hidraw3") {
            Err(Error::from(ErrorKind::PermissionDenied))
        } else {
            Ok(())
        }
    }

    #[test]
    fn unopenable_hidraw_nodes_point_to_the_udev_page() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["hidraw0", "hidraw3"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let d = diagnose_hidraw_with(dir.path(), denied).expect("a diagnosis");
        assert!(d.contains("docs/linux-udev.md"), "{d}");
        assert!(d.contains("hidraw3") && !d.contains("hidraw0"), "{d}");
    }

    #[test]
    fn a_listed_key_this_user_cannot_open_is_explained() {
        let p = Path::new("/dev/hidraw3");
        let why = access_problem_with(p, denied).expect("a problem");
        assert!(
            why.contains("/dev/hidraw3") && why.contains("docs/linux-udev.md"),
            "{why}"
        );
        assert_eq!(access_problem_with(Path::new("/dev/hidraw0"), denied), None);
    }

    #[test]
    fn openable_or_absent_nodes_give_no_diagnosis() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(diagnose_hidraw_with(dir.path(), denied), None);
        std::fs::write(dir.path().join("hidraw0"), b"").unwrap();
        // Refusals of other files are not about security keys.
        std::fs::write(dir.path().join("hidraw3.bak"), b"").unwrap();
        let only_hidraw0_ok = |p: &Path| {
            if p.ends_with("hidraw0") {
                Ok(())
            } else {
                Err(Error::from(ErrorKind::NotFound))
            }
        };
        assert_eq!(diagnose_hidraw_with(dir.path(), only_hidraw0_ok), None);
        assert_eq!(diagnose_hidraw(&dir.path().join("missing")), None);
        assert_eq!(diagnose_hidraw(dir.path()), None);
    }
}
