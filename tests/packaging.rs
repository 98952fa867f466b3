//! What the Debian package and the docs promise stays true of the tree: the udev rule in
//! `docs/linux-udev.md` is the packaged file, every asset `cargo deb` is told to ship exists (or
//! is made by `packaging/build-deb`), and `--version` names the version and the built-in parts.

mod common;

use common::Sandbox;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn the_udev_rule_in_the_docs_is_the_packaged_file() {
    let doc = read("docs/linux-udev.md");
    let block = doc
        .split("```udev\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/linux-udev.md shows the rule in a ```udev block");
    assert_eq!(
        block,
        read("packaging/70-keyward-fido.rules"),
        "docs/linux-udev.md and packaging/70-keyward-fido.rules differ: change both"
    );
    assert!(doc.contains("/usr/lib/udev/rules.d/70-keyward-fido.rules"));
}

/// (source, destination) of each asset in `[package.metadata.deb]`.
fn deb_assets() -> Vec<(String, String)> {
    let manifest: toml::Value = toml::from_str(&read("Cargo.toml")).unwrap();
    manifest["package"]["metadata"]["deb"]["assets"]
        .as_array()
        .expect("[package.metadata.deb] assets")
        .iter()
        .map(|a| {
            let a = a.as_array().unwrap();
            (
                a[0].as_str().unwrap().to_string(),
                a[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Files in the tree a `dir/*.ext` (or plain) asset source names.
fn matches(source: &str) -> Vec<std::path::PathBuf> {
    let path = root().join(source);
    match path.file_name().and_then(|n| n.to_str()) {
        Some(name) if name.starts_with('*') => {
            let ext = &name[1..];
            std::fs::read_dir(path.parent().unwrap())
                .map(|d| {
                    d.filter_map(|e| Some(e.ok()?.path()))
                        .filter(|p| p.is_file() && p.to_string_lossy().ends_with(ext))
                        .collect()
                })
                .unwrap_or_default()
        }
        _ => vec![path].into_iter().filter(|p| p.is_file()).collect(),
    }
}

#[test]
fn every_packaged_file_exists_or_is_generated() {
    let assets = deb_assets();
    let build = read("packaging/build-deb");
    for (source, dest) in &assets {
        if let Some(made) = source.strip_prefix("target/") {
            if source == "target/release/keyward" {
                continue;
            }
            // Made by build-deb from the release binary.
            let file = made.strip_prefix("assets/").unwrap_or(made);
            let named = file.rsplit('/').next().unwrap();
            assert!(
                named.starts_with('*') || build.contains(&format!("/{file}")),
                "{source} is packaged but packaging/build-deb does not make it"
            );
            continue;
        }
        assert!(
            !matches(source).is_empty(),
            "{source} (packaged as {dest}) matches no file"
        );
    }
    for dest in [
        "usr/bin/",
        "usr/lib/udev/rules.d/70-keyward-fido.rules",
        "usr/share/bash-completion/completions/keyward",
        "usr/share/zsh/vendor-completions/_keyward",
        "usr/share/fish/vendor_completions.d/keyward.fish",
        "usr/share/man/man1/",
        "usr/share/doc/keyward/README.Debian",
    ] {
        assert!(
            assets.iter().any(|(_, d)| d == dest),
            "nothing is installed as {dest}"
        );
    }
}

#[test]
fn version_names_the_version_and_the_built_in_parts() {
    let sb = Sandbox::new();
    let long = sb.run(&["--version"]).ok().stdout;
    let mut lines = long.lines();
    assert_eq!(
        lines.next(),
        Some(format!("keyward {}", env!("CARGO_PKG_VERSION")).as_str())
    );
    assert_eq!(lines.next(), Some("built in:"), "{long}");
    for part in ["usb-hid", "virtual-keys", "playbooks", "ledger"] {
        assert!(
            long.lines().any(|l| l.trim_start().starts_with(part)),
            "{part} missing:\n{long}"
        );
    }
    for (file, _) in keyward::playbook::BUILTIN {
        let id = file
            .trim_start_matches("providers/")
            .trim_end_matches(".toml");
        assert!(long.contains(id), "playbook {id} missing:\n{long}");
    }
    let short = sb.run(&["-V"]).ok().stdout;
    assert_eq!(
        short.trim(),
        format!("keyward {}", env!("CARGO_PKG_VERSION"))
    );
}
