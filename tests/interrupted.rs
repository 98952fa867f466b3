//! Issue 11, item 3: interrupted runs leave no stray copies of secrets: temporary files are
//! removed on signals, leftovers of killed runs at the next start, `virtual create` is atomic,
//! and the demo's folder is private and removed on Ctrl-C, SIGTERM and SIGHUP.

mod common;

use common::{path_str, Sandbox};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A process id that does not run (above any pid_max Linux allows by default).
const DEAD_PID: u32 = 4_194_303;

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn send(pid: u32, signal: i32) {
    // SAFETY: kill() on our own child process.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

fn demo_folders(tmp: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .map(|it| {
            it.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("keyward-demo-"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn an_interrupted_demo_leaves_no_folder_and_its_folder_is_private() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let sb = Sandbox::new();
        let tmp = sb.path("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let mut interrupted = false;
        for _attempt in 0..5 {
            let mut child = sb
                .cmd()
                .arg("demo")
                .env("TMPDIR", &tmp)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let started = Instant::now();
            let folder = loop {
                if let Some(f) = demo_folders(&tmp).into_iter().next() {
                    break Some(f);
                }
                if started.elapsed() > Duration::from_secs(20) {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(2));
            };
            let folder = folder.expect("the demo makes its folder in TMPDIR");
            if let Ok(meta) = std::fs::metadata(&folder) {
                assert_eq!(meta.permissions().mode() & 0o777, 0o700, "{folder:?}");
            }
            send(child.id(), signal);
            let status = child.wait().unwrap();
            if status.signal() == Some(signal) {
                interrupted = true;
                assert!(
                    demo_folders(&tmp).is_empty(),
                    "signal {signal} left {:?}",
                    names_in(&tmp)
                );
                break;
            }
            // It finished before the signal arrived: try again.
            assert!(status.success(), "signal {signal}: {status:?}");
        }
        assert!(interrupted, "the demo was never caught running");
    }
}

#[test]
fn leftovers_of_killed_runs_are_removed_at_the_next_start() {
    let sb = Sandbox::new();
    sb.run(&["virtual", "create", path_str(&sb.path("k.key"))])
        .ok();
    drop(keyward::ledger::Ledger::open(&sb.ledger()).unwrap());
    let stale = [
        format!(".ledger.sqlite.new-{DEAD_PID}-17"),
        format!(".ledger.sqlite.new-{DEAD_PID}-17-wal"),
        format!(".ledger.sqlite.{DEAD_PID}-17.tmp"),
        format!(".k.key.{DEAD_PID}.tmp"),
        format!(".k2.key.{DEAD_PID}-5.tmp"),
    ];
    for name in &stale {
        std::fs::write(sb.path(name), b"a secret nobody cleaned up").unwrap();
    }
    // A keyward still running: its files stay.
    let live = format!(".k.key.{}-9.tmp", std::process::id());
    std::fs::write(sb.path(&live), b"in use").unwrap();
    // Writing to the ledger and using the virtual keys in this folder clean up.
    let tmp = sb.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let dead_demo = tmp.join(format!("keyward-demo-{DEAD_PID}-1"));
    std::fs::create_dir_all(dead_demo.join("keys")).unwrap();
    sb.run(&["virtual", "create", path_str(&sb.path("k2.key"))])
        .ok();
    sb.run(&[
        "--device",
        &format!("virtual:{}", sb.path("k.key").display()),
        "key",
        "info",
    ])
    .ok();
    let left = names_in(sb.dir.path());
    let still: Vec<&String> = stale.iter().filter(|s| left.contains(s)).collect();
    // The ledger's leftovers go when the ledger is next opened to write.
    sb.run(&[
        "method",
        "set",
        "sms",
        "removed",
        "--account",
        "nobody@example.com",
    ]);
    let left = names_in(sb.dir.path());
    let still_after: Vec<&String> = stale.iter().filter(|s| left.contains(s)).collect();
    assert!(
        still_after.is_empty(),
        "left after the next start: {still_after:?} (before the ledger was opened: {still:?})"
    );
    assert!(left.contains(&live), "a live process's file was removed");
    sb.cmd()
        .arg("demo")
        .env("TMPDIR", &tmp)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!dead_demo.exists(), "a killed demo's folder stays");
}

/// `virtual create` killed at any moment leaves either a whole key or nothing at the name,
/// and never a temporary copy once the next keyward has run there.
#[test]
fn a_killed_virtual_create_never_leaves_a_half_file_blocking_the_name() {
    let sb = Sandbox::new();
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for i in 0..12 {
        let file = sb.path(&format!("k{i}.key"));
        let mut child = sb
            .cmd()
            .args(["virtual", "create", path_str(&file)])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_micros(seed % 40_000));
        send(child.id(), libc::SIGKILL);
        child.wait().unwrap();
        if file.exists() {
            // Whole: the key answers.
            sb.run(&[
                "--device",
                &format!("virtual:{}", file.display()),
                "key",
                "info",
            ])
            .ok();
        } else {
            // Nothing blocks the name.
            sb.run(&["virtual", "create", path_str(&file)]).ok();
        }
    }
    sb.run(&["virtual", "create", path_str(&sb.path("last.key"))])
        .ok();
    let temps: Vec<String> = names_in(sb.dir.path())
        .into_iter()
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    // Stale copies are removed per key name, when that key is next used or created.
    for i in 0..12 {
        sb.run(&[
            "--device",
            &format!("virtual:{}", sb.path(&format!("k{i}.key")).display()),
            "key",
            "info",
        ])
        .ok();
    }
    let after: Vec<String> = names_in(sb.dir.path())
        .into_iter()
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(after.is_empty(), "{after:?} (before: {temps:?})");
}
