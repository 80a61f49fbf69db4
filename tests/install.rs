//! What the package is built from: `--version` (build.rs), the unadvertised `generate-assets`
//! (man pages and completions from the real clap definitions) and `validate` without `--config`.
//! The package itself is built, installed and removed by scripts/check-package.

use std::path::Path;
use std::process::Command;

mod common;
use common::{bin, Scratch};

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn version_names_the_git_revision_and_the_build() {
    let v = stdout(bin().arg("--version"));
    let mut lines = v.lines();
    let first = lines.next().unwrap();
    let rev = first
        .strip_prefix(&format!("rtcprobe {} (git ", env!("CARGO_PKG_VERSION")))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("first line: {first}"));
    let manifest = env!("CARGO_MANIFEST_DIR");
    // The revision this checkout is at (build.rs reruns when HEAD moves).
    let git = Command::new("git")
        .args(["-C", manifest, "rev-parse", "--short=12", "HEAD"])
        .output();
    match git {
        Ok(o) if o.status.success() => {
            assert_eq!(rev, String::from_utf8_lossy(&o.stdout).trim())
        }
        _ => assert_eq!(rev, "unknown"),
    }
    let build = lines.next().unwrap();
    assert!(build.starts_with("build: "), "{build}");
    assert!(build.contains(" profile, features: "), "{build}");
    assert!(build.contains("rustc "), "{build}");
    // -V stays the short form.
    assert_eq!(
        stdout(bin().arg("-V")).trim(),
        format!("rtcprobe {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn generate_assets_writes_every_page_and_completion() {
    let dir = Scratch::new("assets");
    let out = dir.path("assets");
    let listed = stdout(bin().arg("generate-assets").arg(&out));
    for f in [
        "man/rtcprobe.1",
        "man/rtcprobe-run.1",
        "man/rtcprobe-replay.1",
        "man/rtcprobe-validate.1",
        "completions/rtcprobe.bash",
        "completions/_rtcprobe",
        "completions/rtcprobe.fish",
    ] {
        let p = out.join(f);
        assert!(listed.contains(&p.display().to_string()), "{listed}");
        assert!(std::fs::metadata(&p).unwrap().len() > 0, "{f} empty");
    }
    // The pages carry the real options, and the hidden subcommand is not advertised.
    let replay = std::fs::read_to_string(out.join("man/rtcprobe-replay.1")).unwrap();
    for opt in ["\\-\\-format", "\\-\\-realtime", "\\-\\-records"] {
        assert!(replay.contains(opt), "{opt} missing");
    }
    let top = std::fs::read_to_string(out.join("man/rtcprobe.1")).unwrap();
    assert!(top.contains("/etc/rtcprobe/rtcprobe.toml"));
    assert!(!top.contains("generate"), "{top}");
    assert!(!Path::new(&out.join("man/rtcprobe-generate-assets.1")).exists());
    for f in ["rtcprobe.bash", "_rtcprobe", "rtcprobe.fish"] {
        let text = std::fs::read_to_string(out.join("completions").join(f)).unwrap();
        assert!(text.contains("linger") && text.contains("validate"), "{f}");
        assert!(!text.contains("generate"), "{f} offers generate-assets");
    }
    // Without a directory it says how to call it, as a command-line error.
    let bare = bin().arg("generate-assets").output().unwrap();
    assert_eq!(bare.status.code(), Some(2));
}

#[test]
fn validate_without_config_uses_the_default_file_or_the_defaults() {
    let default = Path::new(rtcprobe::config::DEFAULT_PATH);
    let out = bin().arg("validate").output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    if default.exists() {
        // An installed package: the answer is about that file, whatever it holds.
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains(rtcprobe::config::DEFAULT_PATH)
                || err.contains(rtcprobe::config::DEFAULT_PATH),
            "{text}{err}"
        );
    } else {
        assert!(out.status.success());
        assert!(text.contains("built-in defaults apply"), "{text}");
    }
}
