//! `keyward --version`: the version and the parts built into this binary, so a help desk can
//! tell from one command what the keyward in front of them can do.

use std::sync::LazyLock;

/// The parts of this build, as (name, what it does). A part behind a Cargo feature is pushed
/// under `if cfg!(feature = "...")`, so the list describes the binary, not the source tree.
fn parts() -> Vec<(&'static str, String)> {
    let playbooks: Vec<&str> = crate::playbook::BUILTIN
        .iter()
        .map(|(file, _)| {
            let name = file.rsplit('/').next().unwrap_or(file);
            name.strip_suffix(".toml").unwrap_or(name)
        })
        .collect();
    vec![
        (
            "usb-hid",
            "security keys over USB HID (CTAP 2.1, CTAP 2.0, U2F)".into(),
        ),
        (
            "virtual-keys",
            "software keys for the demo, tests and training".into(),
        ),
        ("playbooks", playbooks.join(", ")),
        (
            "ledger",
            "SQLite (built in), with a tamper-evident audit trail".into(),
        ),
    ]
}

/// The text `--version` prints: `keyward X.Y.Z`, then one line per built-in part.
pub fn long() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        let parts = parts();
        let width = parts.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        let mut s = format!("{}\nbuilt in:", env!("CARGO_PKG_VERSION"));
        for (name, what) in parts {
            s.push_str(&format!("\n  {name:<width$}  {what}"));
        }
        s
    });
    &TEXT
}
