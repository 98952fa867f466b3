//! Shell completions and manual pages come from the same clap definitions as the parser: every
//! command appears in both, bash loads the script, and each page is well-formed roff.

mod common;

use clap::CommandFactory;
use common::Sandbox;
use keyward::cli::Cli;

/// Every visible command path, e.g. ["key"], ["key", "pin", "set"].
fn command_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_string());
            walk(sub, &path, out);
            out.push(path);
        }
    }
    let mut out = Vec::new();
    walk(&Cli::command(), &[], &mut out);
    out
}

#[test]
fn every_command_is_completed_in_every_shell() {
    let sb = Sandbox::new();
    let paths = command_paths();
    assert!(paths.len() > 20, "{paths:?}");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = sb.run(&["completions", shell]).ok().stdout;
        for path in &paths {
            let name = path.last().unwrap();
            assert!(
                script.contains(name.as_str()),
                "{shell} completion lacks `{}`",
                path.join(" ")
            );
        }
    }
    // Nested commands are completed where they belong, not just named somewhere.
    let bash = sb.run(&["completions", "bash"]).ok().stdout;
    assert!(
        bash.contains("keyward__subcmd__key__subcmd__pin,set)"),
        "nested bash case missing"
    );
    let fish = sb.run(&["completions", "fish"]).ok().stdout;
    assert!(
        fish.contains("__fish_keyward_using_subcommand key"),
        "nested fish completion missing"
    );
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let sb = Sandbox::new();
    let r = sb.run(&["completions", "tcsh"]).expect_code(2);
    assert!(r.stderr.contains("tcsh"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}

#[cfg(unix)]
#[test]
fn bash_loads_the_completion_and_completes_commands() {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_keyward"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("bash")
        .args([
            "--norc",
            "-c",
            // Load it as a user would, then ask the completion function what follows `keyward ke`.
            "source <(keyward completions bash) && complete -p keyward && \
             COMP_WORDS=(keyward ke) COMP_CWORD=1 COMP_LINE='keyward ke' COMP_POINT=10 && \
             _keyward keyward ke keyward && printf '%s\\n' \"${COMPREPLY[@]}\"",
        ])
        .env("PATH", path)
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.is_empty(), "bash complained: {stderr}");
    assert!(
        stdout.lines().next().unwrap_or("").starts_with("complete ") && stdout.contains("keyward"),
        "{stdout}"
    );
    assert!(stdout.lines().any(|l| l == "key"), "{stdout}");
}

#[test]
fn a_manual_page_for_every_command() {
    let sb = Sandbox::new();
    let dir = sb.path("man");
    let r = sb
        .run(&["--json", "man", common::path_str(&dir)])
        .ok()
        .json();
    let pages = r["pages"].as_array().unwrap();
    let paths = command_paths();
    assert_eq!(pages.len(), paths.len() + 1, "{pages:?}");
    let main = std::fs::read_to_string(dir.join("keyward.1")).unwrap();
    assert!(main.contains(".TH keyward 1"), "{main}");
    for path in &paths {
        let file = dir.join(format!("keyward-{}.1", path.join("-")));
        let page =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(page.contains(".TH "), "{}", file.display());
        assert!(page.contains(".SH NAME"), "{}", file.display());
        if path.len() == 1 {
            assert!(
                main.contains(&format!("keyward\\-{}", path[0])),
                "keyward.1 does not list {}",
                path[0]
            );
        }
    }
    assert!(
        !dir.join("keyward-man.1").exists(),
        "the packaging command stays out of the manual"
    );
}
