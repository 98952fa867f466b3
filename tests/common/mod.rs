//! Shared helpers for integration tests: run the real `keyward` binary in a temporary folder
//! with a clean environment, and make virtual keys.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A temporary workplace: its own folder, ledger, config and data folders.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

/// What one run of the binary produced.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n--- stdout\n{}\n--- stderr\n{}",
                self.stdout, self.stderr
            )
        })
    }
    /// Panics with both streams when the exit code is not `code`.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
    pub fn ok(self) -> Run {
        self.expect_code(0)
    }
    /// Both streams, for "this secret never appears" assertions.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn ledger(&self) -> PathBuf {
        self.path("ledger.sqlite")
    }

    /// A `keyward` command with an environment that cannot leak in from the developer's
    /// machine: no KEYWARD_* variables, home, config and data folders inside the sandbox.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_keyward"));
        for (k, _) in std::env::vars() {
            if k.starts_with("KEYWARD_") {
                c.env_remove(k);
            }
        }
        let home = self.path("home");
        std::fs::create_dir_all(&home).unwrap();
        c.env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("KEYWARD_LEDGER", self.ledger())
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path());
        c
    }

    /// Run with the given arguments and standard input (closed when `stdin` is None).
    pub fn run_with(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
        let mut c = self.cmd();
        c.args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn keyward");
        if let Some(input) = stdin {
            let mut si = child.stdin.take().unwrap();
            // A command may stop before it reads its input (e.g. a refused PIN attempt): a
            // broken pipe here is its business, judged by its exit code.
            let _ = si.write_all(input.as_bytes());
        }
        let out: Output = child.wait_with_output().expect("wait keyward");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None, &[])
    }

    /// Run with `--pin-stdin` and these PINs, one per line.
    pub fn run_pins(&self, args: &[&str], pins: &[&str]) -> Run {
        let mut a: Vec<&str> = args.to_vec();
        a.push("--pin-stdin");
        let input = pins.iter().map(|p| format!("{p}\n")).collect::<String>();
        self.run_with(&a, Some(&input), &[])
    }

    /// Create a virtual key file with a profile ("ctap21", "ctap20", "u2f") and return the
    /// `--device` value for it.
    pub fn virtual_key(&self, name: &str, profile: &str) -> String {
        let file = self.path(name);
        self.run(&[
            "virtual",
            "create",
            file.to_str().unwrap(),
            "--profile",
            profile,
        ])
        .ok();
        format!("virtual:{}", file.display())
    }
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// What a person reads carries no administrator's words: no UPN, OATH, RP ID, Graph, AAGUID
/// or GUID, and no "a Apple".
pub fn assert_no_admin_jargon(said: &str) {
    for word in ["UPN", "OATH", "RP ID", "Graph", "AAGUID", "Entra ID"] {
        assert!(!said.contains(word), "`{word}` in:\n{said}");
    }
    let guid = said
        .split(|c: char| !c.is_ascii_hexdigit() && c != '-')
        .any(|w| {
            let parts: Vec<usize> = w.split('-').map(str::len).collect();
            parts == [8, 4, 4, 4, 12]
        });
    assert!(!guid, "a GUID in:\n{said}");
    assert!(!said.contains("a Apple"), "{said}");
}
