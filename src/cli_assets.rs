//! Man pages (`clap_mangen`) and shell completions (`clap_complete`) generated from the command
//! line's own clap definitions, so that they cannot drift from what the binary accepts.
//!
//! `main` hands its `clap::Command` to [`write_all`] when run as `rtcprobe generate-assets DIR`
//! (a hook outside the clap definitions, so nothing advertises it); the package build
//! (scripts/check-package) runs it and installs the files. This
//! module only writes files: it knows nothing of the subcommands, apart from the FILES and SEE
//! ALSO sections it adds to the top page.

use clap_complete::Shell;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What the top man page adds after clap's sections (roff).
const EXTRA_SECTIONS: &str = r#".SH FILES
.TP
\fI/etc/rtcprobe/rtcprobe.toml\fR
The configuration that \fBrun\fR and \fBvalidate\fR use without \fB\-\-config\fR (every key is
optional; without the file the built\-in defaults apply). The package installs it owned
root:rtcprobe, mode 0640, as it may hold credentials of the record stores.
.TP
\fI/var/lib/rtcprobe\fR
State directory of the service: the sinks' disk buffers and, without \fB[[sinks]]\fR,
records.ndjson.
.TP
\fI/usr/share/rtcprobe\fR
The Grafana dashboard, the Prometheus alert rules and the ClickHouse table definition.
.TP
\fI/usr/share/doc/rtcprobe\fR
README, CHANGELOG, the annotated example configuration and the reference documents (metrics,
records, output format).
.SH SEE ALSO
\fBsystemctl\fR(1), \fBjournalctl\fR(1), \fBpcap\-filter\fR(7), \fBsystemd.exec\fR(5)
"#;

/// Write `man/<name>.1` for the command and each visible subcommand and
/// `completions/{<name>.bash,_<name>,<name>.fish}` under `dir`; returns the files written.
pub fn write_all(cmd: clap::Command, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let man = dir.join("man");
    let completions = dir.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    let mut written = Vec::new();
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let name = cmd.get_name().to_owned();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        // clap_mangen names a subcommand's page `<bin>-<sub>.1` from its display name.
        written.push(clap_mangen::Man::new(sub.clone()).generate_to(&man)?);
    }
    let top = man.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    page.extend_from_slice(EXTRA_SECTIONS.as_bytes());
    std::fs::File::create(&top)?.write_all(&page)?;
    written.push(top);
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        written.push(clap_complete::generate_to(
            shell,
            &mut cmd,
            name.clone(),
            &completions,
        )?);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, Command};

    fn demo() -> Command {
        Command::new("demo")
            .version("1.2.3")
            .about("A demo")
            .subcommand(
                Command::new("run")
                    .about("Run it")
                    .arg(Arg::new("config").long("config")),
            )
            .subcommand(Command::new("secret").hide(true))
    }

    #[test]
    fn writes_pages_and_completions_from_the_definitions() {
        let dir = std::env::temp_dir().join(format!("rtcprobe-assets-{}", std::process::id()));
        let files = write_all(demo(), &dir).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "man/demo-run.1",
                "man/demo.1",
                "completions/demo.bash",
                "completions/_demo",
                "completions/demo.fish"
            ]
        );
        let top = std::fs::read_to_string(dir.join("man/demo.1")).unwrap();
        assert!(top.contains(".SH FILES"), "{top}");
        assert!(top.contains("demo\\-run(1)"), "{top}");
        let run = std::fs::read_to_string(dir.join("man/demo-run.1")).unwrap();
        assert!(run.contains("\\-\\-config"), "{run}");
        let bash = std::fs::read_to_string(dir.join("completions/demo.bash")).unwrap();
        assert!(bash.contains("--config"), "{bash}");
        // A hidden subcommand gets no page.
        assert!(!dir.join("man/demo-secret.1").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
