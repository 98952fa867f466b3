//! Colour: warnings, errors, what is still to disable and what was verified stand out on a
//! terminal; `NO_COLOR`, `CLICOLOR=0`, `--color never` and pipes turn it off; `--json` never
//! carries it. Runs the real binary, on pipes and in a pseudo-terminal.

mod common;

use common::{Run, Sandbox};

const ESC: char = '\x1b';

/// The sandbox turns colour off with NO_COLOR; these runs start from a neutral environment.
fn run(sb: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = sb.cmd();
    cmd.env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("TERM", "xterm-256color")
        .args(args)
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run keyward");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn coloured(text: &str, word: &str) -> bool {
    text.lines()
        .any(|l| l.contains(word) && l.contains(&format!("{ESC}[")))
}

#[test]
fn color_always_styles_warnings_todo_and_verified_text() {
    let sb = Sandbox::new();
    let r = run(&sb, &["--color", "always", "demo"], &[]).ok();
    assert!(coloured(&r.stdout, "Still to disable"), "{}", r.stdout);
    assert!(coloured(&r.stderr, "warning"), "{}", r.stderr);
    assert!(coloured(&r.stderr, "Verified"), "{}", r.stderr);
    // The words themselves are intact between the codes.
    assert!(r
        .stderr
        .contains("\x1b[0m: Key A is not ready for Apple Account"));
}

#[test]
fn color_always_wins_over_no_color() {
    let sb = Sandbox::new();
    let r = run(&sb, &["--color=always", "demo"], &[("NO_COLOR", "1")]).ok();
    assert!(coloured(&r.stdout, "Still to disable"), "{}", r.stdout);
}

#[test]
fn pipes_get_no_colour_by_default() {
    let sb = Sandbox::new();
    let r = run(&sb, &["demo"], &[]).ok();
    assert!(r.stdout.contains("Still to disable"), "{}", r.stdout);
    assert!(r.stderr.contains("warning: Key A"), "{}", r.stderr);
    assert!(!r.all_output().contains(ESC), "{}", r.all_output());
}

#[test]
fn json_never_carries_colour() {
    let sb = Sandbox::new();
    let r = run(&sb, &["--color", "always", "--json", "demo"], &[]).ok();
    assert!(!r.stdout.contains(ESC), "{}", r.stdout);
    assert!(!r.json()["remaining"].as_array().unwrap().is_empty());
    // An error as JSON on stdout: plain; the line for the person on stderr: styled.
    let err = run(
        &sb,
        &["--color", "always", "--json", "status", "Nobody"],
        &[],
    );
    assert_ne!(err.code, 0);
    assert!(!err.stdout.contains(ESC), "{}", err.stdout);
    assert_eq!(err.json()["ok"], false);
    assert!(coloured(&err.stderr, "error"), "{}", err.stderr);
}

#[test]
fn errors_are_styled_when_colour_is_on() {
    let sb = Sandbox::new();
    let r = run(&sb, &["--color", "always", "status", "Nobody"], &[]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.starts_with("\x1b["), "{}", r.stderr);
    let plain = run(&sb, &["--color", "never", "status", "Nobody"], &[]);
    assert!(plain.stderr.starts_with("error: "), "{}", plain.stderr);
}

#[test]
fn csv_and_markdown_reports_are_never_styled() {
    let sb = Sandbox::new();
    let keep = sb.path("demo");
    run(&sb, &["demo", "--keep", common::path_str(&keep)], &[]).ok();
    let ledger = keep.join("ledger.sqlite");
    for format in ["csv", "md"] {
        let r = run(
            &sb,
            &[
                "--color",
                "always",
                "--ledger",
                common::path_str(&ledger),
                "report",
                "--format",
                format,
            ],
            &[],
        )
        .ok();
        assert!(r.stdout.contains("Ada Lovelace"), "{}", r.stdout);
        assert!(!r.stdout.contains(ESC), "{format}: {}", r.stdout);
    }
}

#[test]
fn an_unknown_colour_choice_is_a_usage_error() {
    let sb = Sandbox::new();
    let r = run(&sb, &["--color", "purple", "devices"], &[]).expect_code(2);
    assert!(r.stderr.contains("purple"), "{}", r.stderr);
}

/// All the demo prints on a terminal, stdout and stderr together.
#[cfg(unix)]
fn demo_on_a_terminal(args: &[&str], env: &[(&str, &str)]) -> String {
    let sb = Sandbox::new();
    let mut cmd = sb.cmd();
    cmd.env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("TERM", "xterm-256color")
        .args(args)
        .arg("demo");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut p = expectrl::Session::spawn(cmd).expect("spawn in a pty");
    p.set_expect_timeout(Some(std::time::Duration::from_secs(60)));
    let all = p.expect(expectrl::Eof).expect("the demo ends");
    let text = String::from_utf8_lossy(all.as_bytes()).into_owned();
    assert!(text.contains("Still to disable"), "{text}");
    text
}

#[cfg(unix)]
#[test]
fn a_terminal_gets_colour_unless_told_otherwise() {
    let text = demo_on_a_terminal(&[], &[]);
    assert!(coloured(&text, "Still to disable"), "{text}");
    assert!(coloured(&text, "warning"), "{text}");

    for (args, env, why) in [
        (&[][..], &[("NO_COLOR", "1")][..], "NO_COLOR"),
        (&[][..], &[("CLICOLOR", "0")][..], "CLICOLOR=0"),
        (&["--color", "never"][..], &[][..], "--color never"),
    ] {
        let text = demo_on_a_terminal(args, env);
        for word in ["Still to disable", "warning", "Verified"] {
            assert!(!coloured(&text, word), "{why}: {word} coloured:\n{text}");
        }
    }
}
