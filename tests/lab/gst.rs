//! The lab's endpoints and signalling: GStreamer `rtpbin` pipelines and the ng offer/answer
//! that puts rtpengine between them.
//!
//! Each end runs one `gst-launch-1.0` per medium, each a full RTP session: it sends (PCMU at
//! 20 ms packets, or VP8 at 15 frames/s, 160×120) to the peer's RTP port and RTCP to the port
//! above it, and receives on local ports 5000/5001 (audio) or 5002/5003 (video), so rtpbin
//! writes SRs with report blocks about what it receives (RFC 3550 §6.4). The sockets that send
//! are not the ones that receive, so rtpengine is told not to learn addresses from the media
//! (`asymmetric`).

use crate::ng::{self, Ben};
use crate::topo::{Lab, Node, CALLEE_IP, CALLER_IP};
use std::net::UdpSocket;
use std::process::Command;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Audio,
    Video,
}

/// Whether every GStreamer element the pipelines use is installed; when not, print `skipped`
/// (or fail under `CI=true`), like `netns::prerequisites`.
pub fn elements_present() -> bool {
    let elements = [
        "rtpbin",
        "udpsrc",
        "udpsink",
        "audiotestsrc",
        "mulawenc",
        "rtppcmupay",
        "rtppcmudepay",
        "videotestsrc",
        "vp8enc",
        "rtpvp8pay",
        "rtpvp8depay",
        "fakesink",
    ];
    let missing: Vec<&str> = elements
        .into_iter()
        .filter(|e| {
            !Command::new("gst-inspect-1.0")
                .args(["--exists", e])
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let what = format!(
        "GStreamer elements {} (Debian: gstreamer1.0-plugins-base, -good; scripts/setup-test)",
        missing.join(", ")
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "lab: needs {what} but CI=true"
    );
    eprintln!("lab: skipped: needs {what}");
    false
}

/// The pipeline of one medium at `node`, sending to `peer` = (address, audio port, video port).
pub fn command(lab: &Lab, node: Node, media: Media, peer: (&str, u16, u16)) -> Command {
    let (host, pa, pv) = peer;
    let (src, caps, depay, local, port) = match media {
        Media::Audio => (
            "audiotestsrc is-live=true samplesperbuffer=160 ! audio/x-raw,rate=8000,channels=1 \
             ! mulawenc ! rtppcmupay",
            "application/x-rtp,media=audio,clock-rate=8000,encoding-name=PCMU,payload=0",
            "rtppcmudepay",
            5000,
            pa,
        ),
        Media::Video => (
            "videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=15/1 \
             ! vp8enc deadline=1 cpu-used=16 target-bitrate=150000 ! rtpvp8pay",
            "application/x-rtp,media=video,clock-rate=90000,encoding-name=VP8,payload=96",
            "rtpvp8depay",
            5002,
            pv,
        ),
    };
    let pipeline = format!(
        "rtpbin name=rb {src} ! rb.send_rtp_sink_0 \
         rb.send_rtp_src_0 ! udpsink host={host} port={port} sync=false async=false \
         rb.send_rtcp_src_0 ! udpsink host={host} port={} sync=false async=false \
         udpsrc port={local} caps=\"{caps}\" ! rb.recv_rtp_sink_0 \
         udpsrc port={} ! rb.recv_rtcp_sink_0 \
         rb. ! {depay} ! fakesink",
        port + 1,
        local + 1
    );
    // Real-time priority (below the impairment's): an endpoint's latency between its socket
    // and its RTCP clock is in every RTT computed from its reports; on a loaded machine it
    // reached 15 ms at normal priority, well under 1 ms with this.
    let mut cmd = lab.command(node, "chrt");
    cmd.args(["-f", "5", "gst-launch-1.0", "-q"])
        .args(pipeline.split_whitespace());
    cmd
}

/// A medium pair of RTP ports: (audio, video); RTCP is each plus one.
pub type Ports = (u16, u16);

/// Offer (caller) and answer (callee) through rtpengine's ng port in the middlebox. Returns the
/// relay's (audio, video) ports the callee must send to, then those the caller must send to.
pub fn signal(lab: &Lab) -> Result<(Ports, Ports), String> {
    let sock = socket_in(lab.name(Node::Middlebox))?;
    let ng = "127.0.0.1:2223";
    let flags = Ben::List(vec![Ben::s("asymmetric")]);
    let replace = Ben::List(vec![Ben::s("origin"), Ben::s("session-connection")]);
    let offer = ng::command(
        &sock,
        ng,
        "lab1",
        &Ben::dict(&[
            ("command", Ben::s("offer")),
            ("call-id", Ben::s("lab-call")),
            ("from-tag", Ben::s("caller")),
            ("sdp", Ben::s(&ng::sdp(CALLER_IP, 5000, 5002))),
            ("flags", flags.clone()),
            ("replace", replace.clone()),
        ]),
    )?;
    let answer = ng::command(
        &sock,
        ng,
        "lab2",
        &Ben::dict(&[
            ("command", Ben::s("answer")),
            ("call-id", Ben::s("lab-call")),
            ("from-tag", Ben::s("caller")),
            ("to-tag", Ben::s("callee")),
            ("sdp", Ben::s(&ng::sdp(CALLEE_IP, 5000, 5002))),
            ("flags", flags),
            ("replace", replace),
        ]),
    )?;
    let ports = |reply: &Ben| -> Result<Ports, String> {
        let sdp = reply
            .get("sdp")
            .and_then(Ben::text)
            .ok_or("ng reply without sdp")?;
        match ng::sdp_media(&sdp).1.as_slice() {
            [a, v] => Ok((*a, *v)),
            _ => Err(format!("rtpengine's SDP has not two m= lines:\n{sdp}")),
        }
    };
    Ok((ports(&offer)?, ports(&answer)?))
}

/// rtpengine's own view of the lab call (ng `query`, rtpengine_truth.rs), as JSON.
pub fn query(lab: &Lab) -> Result<serde_json::Value, String> {
    let sock = socket_in(lab.name(Node::Middlebox))?;
    let reply = ng::command(
        &sock,
        "127.0.0.1:2223",
        "lab3",
        &Ben::dict(&[
            ("command", Ben::s("query")),
            ("call-id", Ben::s("lab-call")),
        ]),
    )?;
    Ok(reply.to_json())
}

/// A UDP socket bound in the namespace `ns` (its loopback), made by a thread that enters the
/// namespace with setns(2): a socket keeps the namespace it was created in.
fn socket_in(ns: &str) -> Result<UdpSocket, String> {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || -> Result<UdpSocket, String> {
        let f = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
        use std::os::fd::AsRawFd;
        // SAFETY: setns on a valid namespace fd affects only this short-lived thread.
        if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!("setns {path}: {}", std::io::Error::last_os_error()));
        }
        UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())
    })
    .join()
    .map_err(|_| "setns thread panicked".to_owned())?
}
