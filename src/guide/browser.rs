//! Opening a provider's page in the person's browser, only where there is a screen to show it.

use std::process::{Command, Stdio};

/// A graphical session is there: always on macOS and Windows, `$DISPLAY` or
/// `$WAYLAND_DISPLAY` elsewhere. An SSH session without forwarding has neither.
pub fn display_available() -> bool {
    if cfg!(any(target_os = "macos", target_os = "windows")) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// Ask the desktop to open `url`. Only https URLs (playbooks are validated to carry nothing
/// else), so nothing a playbook says can run a local program.
pub fn open(url: &str) -> std::io::Result<()> {
    if !url.starts_with("https://") {
        return Err(std::io::Error::other(format!("not an https URL: {url}")));
    }
    let mut cmd = if cfg!(target_os = "macos") {
        let mut c = Command::new("open");
        c.arg(url);
        c
    } else if cfg!(target_os = "windows") {
        let mut c = Command::new("explorer");
        c.arg(url);
        c
    } else {
        let mut c = Command::new("xdg-open");
        c.arg(url);
        c
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|_| ())
}
