//! Scenario `sfu_janus`: Debian's `janus` (VideoRoom plugin) on the middlebox, an SFU that
//! rewrites SSRC, sequence numbers and timestamps toward its subscribers, with WebRTC ends.
//!
//! ```text
//!  caller                      middlebox                     callee
//!  janus_peer.py publish ──▶ janus (VideoRoom) ──┬──▶ janus_peer.py subscribe
//!  VP8 + Opus, SRTP          10.77.1.1:8088 HTTP └──▶ janus_peer.py subscribe
//! ```
//!
//! Janus runs from its own configuration in the scratch directory: the HTTP transport alone,
//! bound to 10.77.1.1:8088 (admin API off), the VideoRoom plugin alone with one room (VP8,
//! Opus, one publisher), ICE gathering only on the lab's interfaces (`ice_enforce_list`), no
//! STUN or TURN server, media ports 20000–20099, no event handlers or loggers. Plugins and
//! transports are loaded from directories holding a link to the one library each, so nothing
//! else opens a port. Its log goes to `janus.log` in the scratch directory.
//!
//! The ends are tests/lab/janus_peer.py (GStreamer `webrtcbin` through python3-gst-1.0, see
//! there why Python): the publisher joins the room, each subscriber then joins with the
//! publisher's feed id. Every wait is bounded; on any failure the caller drops the returned
//! processes and the lab's namespaces (topo.rs), which kills them.

use crate::netns::{self, Proc};
use crate::topo::{Lab, Node, MB_IP};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Programs the scenario needs besides the lab's own.
pub const TOOLS: [&str; 2] = ["janus", PYTHON];
/// Debian's interpreter, which python3-gi and python3-gst-1.0 install for (a `python3` found
/// first on PATH may be another one).
const PYTHON: &str = "/usr/bin/python3";
const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/janus_peer.py");
const ROOM: u32 = 1234;
/// Subscribers of the one publisher: a 1→2 fan-out of each stream.
pub const SUBSCRIBERS: usize = 2;
const START_TIMEOUT: Duration = Duration::from_secs(20);
const LIBS: &str = "/usr/lib/x86_64-linux-gnu/janus";

/// Whether janus's two libraries, the Python bindings and the GStreamer elements of the WebRTC
/// ends are installed; when not, print `skipped` (or fail under `CI=true`).
pub fn elements_present() -> bool {
    let mut missing: Vec<String> = Vec::new();
    for lib in [
        "plugins/libjanus_videoroom.so",
        "transports/libjanus_http.so",
    ] {
        if !Path::new(LIBS).join(lib).exists() {
            missing.push(format!("{LIBS}/{lib} (janus)"));
        }
    }
    // One interpreter run checks the bindings and the elements (`gst-inspect-1.0 --exists`
    // answers no for nicesrc, which has no rank).
    let probe = "import gi, sys\n\
                 gi.require_version('Gst', '1.0')\n\
                 gi.require_version('GstWebRTC', '1.0')\n\
                 from gi.repository import Gst, GstWebRTC\n\
                 Gst.init(None)\n\
                 m = [e for e in sys.argv[1:] if not Gst.ElementFactory.find(e)]\n\
                 print(' '.join(m))\n\
                 sys.exit(1 if m else 0)";
    let elements = [
        "webrtcbin",
        "nicesrc",
        "dtlssrtpenc",
        "opusenc",
        "rtpopuspay",
    ];
    match Command::new(PYTHON)
        .args(["-c", probe])
        .args(elements)
        .output()
    {
        Ok(o) if o.status.success() => {}
        Ok(o) if o.status.code() == Some(1) => missing.push(format!(
            "GStreamer elements {}",
            String::from_utf8_lossy(&o.stdout).trim()
        )),
        _ => missing.push("python3-gi, python3-gst-1.0, gir1.2-gst-plugins-bad-1.0".into()),
    }
    if missing.is_empty() {
        return true;
    }
    let what = format!(
        "{} (Debian: janus, gstreamer1.0-plugins-bad, gstreamer1.0-nice, python3-gst-1.0; \
         scripts/setup-test)",
        missing.join(", ")
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "lab: needs {what} but CI=true"
    );
    eprintln!("lab: skipped: needs {what}");
    false
}

/// Write janus's configuration under `dir/janus`; returns the main file.
fn configure(dir: &Path) -> Result<std::path::PathBuf, String> {
    let root = dir.join("janus");
    let sub = |d: &str| root.join(d);
    for d in ["conf", "plugins", "transports", "events", "loggers"] {
        std::fs::create_dir_all(sub(d)).map_err(|e| e.to_string())?;
    }
    for (d, lib) in [
        ("plugins", "libjanus_videoroom.so"),
        ("transports", "libjanus_http.so"),
    ] {
        std::os::unix::fs::symlink(format!("{LIBS}/{d}/{lib}"), sub(d).join(lib))
            .map_err(|e| format!("{d}/{lib}: {e}"))?;
    }
    let folder = |d: &str| sub(d).display().to_string();
    let main = format!(
        "general: {{\n  configs_folder = \"{}\"\n  plugins_folder = \"{}\"\n  \
         transports_folder = \"{}\"\n  events_folder = \"{}\"\n  loggers_folder = \"{}\"\n  \
         interface = \"{MB_IP}\"\n  debug_level = 4\n  debug_timestamps = true\n  \
         session_timeout = 120\n}}\n\
         media: {{\n  rtp_port_range = \"20000-20099\"\n}}\n\
         nat: {{\n  ice_enforce_list = \"v1,v2\"\n  ignore_mdns = true\n}}\n\
         events: {{\n  broadcast = false\n}}\n",
        folder("conf"),
        folder("plugins"),
        folder("transports"),
        folder("events"),
        folder("loggers"),
    );
    let http = format!(
        "general: {{\n  json = \"plain\"\n  base_path = \"/janus\"\n  http = true\n  \
         port = 8088\n  ip = \"{MB_IP}\"\n  https = false\n}}\n\
         admin: {{\n  admin_http = false\n  admin_https = false\n}}\n"
    );
    let room = format!(
        "general: {{\n}}\nroom-{ROOM}: {{\n  description = \"lab\"\n  publishers = 1\n  \
         videocodec = \"vp8\"\n  audiocodec = \"opus\"\n  record = false\n}}\n"
    );
    let conf = sub("conf");
    for (name, text) in [
        ("janus.jcfg", main),
        ("janus.transport.http.jcfg", http),
        ("janus.plugin.videoroom.jcfg", room),
    ] {
        std::fs::write(conf.join(name), text).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(conf.join("janus.jcfg"))
}

/// Start janus, then the publisher, then the subscribers; returns janus and the ends once every
/// end has its answer (media flowing). `seconds` bounds how long an end runs if never stopped.
pub fn start(lab: &Lab, dir: &Path, seconds: Duration) -> Result<(Proc, Vec<Proc>), String> {
    let config = configure(dir)?;
    let log = dir.join("janus.log");
    // Real-time priority, like rtpengine in the relay scenario: its scheduling latency on a
    // loaded machine is forwarding delay the logs do not see.
    let mut cmd = lab.command(Node::Middlebox, "chrt");
    cmd.args(["-f", "10", "janus", "-N", "-o", "-C"])
        .arg(&config)
        .arg("-F")
        .arg(config.parent().unwrap_or(dir))
        .arg("-L")
        .arg(&log);
    let mut janus = netns::spawn(cmd, &dir.join("janus"))?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("HTTP webserver started") {
            break;
        }
        if let Some(st) = janus.try_status() {
            return Err(format!("janus exited ({st}):\n{text}{}", janus.stderr()));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "janus: no HTTP server within {START_TIMEOUT:?}:\n{text}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("http://{MB_IP}:8088/janus");
    let secs = seconds.as_secs().to_string();
    let peer = |node: Node, args: &[&str], log: &str| -> Result<Proc, String> {
        // Real-time priority below janus's, as the rtpbin ends have.
        let mut cmd = lab.command(node, "chrt");
        cmd.args(["-f", "5", PYTHON, PEER]).args(args);
        netns::spawn(cmd, &dir.join(log))
    };
    let room = ROOM.to_string();
    let mut publisher = peer(Node::Caller, &["publish", &url, &room, &secs], "publisher")?;
    publisher.wait_for_stderr("published ", START_TIMEOUT)?;
    let feed = publisher
        .stderr()
        .lines()
        .find_map(|l| l.strip_prefix("janus_peer: published ").map(str::to_owned))
        .ok_or_else(|| format!("publisher: no feed id:\n{}", publisher.stderr()))?;
    let mut ends = vec![publisher];
    for i in 0..SUBSCRIBERS {
        let args = ["subscribe", &url, &room, &feed, &secs];
        let mut s = peer(Node::Callee, &args, &format!("subscriber-{i}"))?;
        s.wait_for_stderr("subscribed", START_TIMEOUT)?;
        ends.push(s);
    }
    Ok((janus, ends))
}
