//! Helpers shared by the integration tests that drive the `rtcprobe` binary.
#![allow(dead_code)] // each test crate uses a different subset

use std::path::PathBuf;
use std::process::Command;

/// The binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
}

/// A scratch directory, unique to the test process and tag, removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("rtcprobe-test-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
