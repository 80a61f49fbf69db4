//! Build facts for `rtcprobe --version`: the git revision, the profile, the target, the enabled
//! cargo features and the compiler, as the compile-time variables `RTCPROBE_GIT_REVISION` and
//! `RTCPROBE_BUILD_INFO`.
//!
//! The revision comes from `git rev-parse` when the source is a git checkout, else from the
//! variable `RTCPROBE_GIT_REV` (for builds from a source tarball that know it), else it is
//! "unknown": a build must never fail for want of git. Cargo reruns this script only when the
//! checked-out commit moves (HEAD or the branch ref changes), not on every source edit.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RTCPROBE_GIT_REV");
    let rev = std::env::var("RTCPROBE_GIT_REV")
        .ok()
        .filter(|r| !r.trim().is_empty())
        .or_else(git_revision)
        .unwrap_or_else(|| "unknown".into());
    let profile = std::env::var("PROFILE").unwrap_or_else(|_| "unknown".into());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(k, _)| k.strip_prefix("CARGO_FEATURE_").map(str::to_owned))
        .map(|f| f.to_ascii_lowercase().replace('_', "-"))
        .collect();
    features.sort();
    let features = if features.is_empty() {
        "none".to_owned()
    } else {
        features.join(",")
    };
    let rustc = rustc_version().unwrap_or_else(|| "rustc unknown".into());
    // One line each: a build script directive ends at the newline.
    println!("cargo:rustc-env=RTCPROBE_GIT_REVISION={rev}");
    println!(
        "cargo:rustc-env=RTCPROBE_BUILD_INFO={profile} profile, features: {features}, \
         target {target}, {rustc}"
    );
}

/// The checked-out commit, and the files whose change means it moved.
fn git_revision() -> Option<String> {
    // A tarball unpacked inside some other checkout must not take that checkout's revision.
    let top = git(&["rev-parse", "--show-toplevel"])?;
    let manifest = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    if Path::new(&top).canonicalize().ok()? != Path::new(&manifest).canonicalize().ok()? {
        return None;
    }
    let rev = git(&["rev-parse", "--short=12", "HEAD"])?;
    // In a worktree HEAD lives in the worktree's git dir, branch refs in the common one.
    let dir = git(&["rev-parse", "--git-dir"])?;
    let common = git(&["rev-parse", "--git-common-dir"]).unwrap_or_else(|| dir.clone());
    let mut watch = vec![
        Path::new(&dir).join("HEAD"),
        Path::new(&common).join("packed-refs"),
    ];
    if let Some(branch) = git(&["rev-parse", "--symbolic-full-name", "HEAD"]) {
        if branch.starts_with("refs/") {
            watch.push(Path::new(&common).join(branch));
        }
    }
    // A path that does not exist would make cargo rerun the script on every build.
    for p in watch.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    Some(rev)
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!s.is_empty()).then_some(s)
}

fn rustc_version() -> Option<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc).arg("--version").output().ok()?;
    let s = String::from_utf8(out.stdout).ok()?;
    // "rustc 1.95.0 (59807616e 2026-04-14)": the name and the version are enough.
    Some(s.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
}
