#!/usr/bin/env python3
"""A WebRTC end of the media lab's `sfu` scenario (docs/lab.md): GStreamer `webrtcbin`
publishing to, or subscribing from, a Janus VideoRoom, signalled over Janus's HTTP API.

    janus_peer.py publish   URL ROOM SECONDS       logs "published <feed id>" once answered
    janus_peer.py subscribe URL ROOM FEED SECONDS  logs "subscribed" once it answered

The publisher sends VP8 (160x120, 15 frames/s, payload type 96) and Opus (payload type 111);
the subscriber receives what Janus forwards (SSRCs and sequence numbers rewritten) and writes
receiver reports. Non-trickle on our side: the SDP is sent once ICE gathering is complete, so
it carries the host candidates (the lab has no STUN server). NACK/RTX stay off, so every
sequence number is sent once (the ground truth counts packets by sequence number).

Python rather than Rust because the GStreamer bindings (python3-gst-1.0) are a Debian package
while gstreamer-rs would add a large dependency tree to the crate for one test. Every HTTP
request has a timeout; any failure exits non-zero with the reason on stderr; SIGTERM ends the
call cleanly (RTCP BYE) and exits 0.
"""

import json
import random
import signal
import sys
import threading
import time
import urllib.request

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstSdp", "1.0")
from gi.repository import Gst, GstSdp, GstWebRTC  # noqa: E402

HTTP_TIMEOUT = 5.0
EVENT_TIMEOUT = 15.0
GATHER_TIMEOUT = 10.0

PUBLISH = (
    "webrtcbin name=w bundle-policy=max-bundle "
    "videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=15/1 "
    "! vp8enc deadline=1 cpu-used=16 target-bitrate=150000 keyframe-max-dist=30 "
    "! rtpvp8pay pt=96 mtu=1200 "
    "! application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000 ! w. "
    "audiotestsrc is-live=true wave=ticks ! audioconvert ! audioresample "
    "! opusenc frame-size=20 ! rtpopuspay pt=111 "
    "! application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000 ! w."
)


def log(*a):
    print("janus_peer:", *a, file=sys.stderr, flush=True)


def fail(msg):
    log("error:", msg)
    sys.exit(1)


class Janus:
    """The Janus HTTP API: one session, one handle on the VideoRoom plugin."""

    def __init__(self, url):
        self.url = url.rstrip("/")
        self.session = self.request(self.url, {"janus": "create"})["data"]["id"]
        self.handle = self.request(
            f"{self.url}/{self.session}",
            {"janus": "attach", "plugin": "janus.plugin.videoroom"},
        )["data"]["id"]

    def request(self, url, body):
        body = dict(body, transaction=f"t{random.getrandbits(48):x}")
        req = urllib.request.Request(
            url, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as r:
            reply = json.load(r)
        if reply.get("janus") == "error":
            fail(f"{body['janus']}: {reply.get('error')}")
        return reply

    def message(self, body, jsep=None):
        msg = {"janus": "message", "body": body}
        if jsep:
            msg["jsep"] = jsep
        return self.request(f"{self.url}/{self.session}/{self.handle}", msg)

    def event(self):
        """The next plugin event (long poll), with its JSEP if any."""
        deadline = time.monotonic() + EVENT_TIMEOUT
        while time.monotonic() < deadline:
            url = f"{self.url}/{self.session}?maxev=1&rid={int(time.time() * 1000)}"
            with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT + 30) as r:
                ev = json.load(r)
            if ev.get("janus") == "event":
                data = ev.get("plugindata", {}).get("data", {})
                if "error" in data:
                    fail(f"videoroom: {data}")
                return data, ev.get("jsep")
        fail("no event from Janus")


# Promises and replies kept alive: a reply's values (the SDP) are freed with the reply.
_PROMISES = []


def wait_promise(emit):
    p = Gst.Promise.new()
    _PROMISES.append(p)
    emit(p)
    if p.wait() != Gst.PromiseResult.REPLIED:
        fail("webrtcbin promise not replied")
    reply = p.get_reply()
    _PROMISES.append(reply)
    if reply is not None and reply.has_field("error"):
        fail(f"webrtcbin: {reply.get_value('error')}")
    return reply


def local_sdp(w):
    """The local description once ICE gathering is complete (its host candidates in it)."""
    deadline = time.monotonic() + GATHER_TIMEOUT
    while w.get_property("ice-gathering-state") != GstWebRTC.WebRTCICEGatheringState.COMPLETE:
        if time.monotonic() > deadline:
            fail("ICE gathering did not complete")
        time.sleep(0.05)
    return w.get_property("local-description").sdp.as_text()


def sdp_of(kind, text):
    ok, msg = GstSdp.SDPMessage.new_from_text(text)
    if ok != GstSdp.SDPResult.OK:
        fail(f"unparseable SDP from Janus:\n{text}")
    return GstWebRTC.WebRTCSessionDescription.new(kind, msg)


def watch(pipe, seconds, stop):
    """Run until `seconds` pass, SIGTERM, or a pipeline error."""
    bus = pipe.get_bus()
    deadline = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < deadline:
        m = bus.timed_pop_filtered(100 * Gst.MSECOND, Gst.MessageType.ERROR)
        if m:
            err, dbg = m.parse_error()
            fail(f"pipeline: {err.message} ({dbg})")


def publish(url, room, seconds, stop):
    j = Janus(url)
    pipe = Gst.parse_launch(PUBLISH)
    w = pipe.get_by_name("w")
    ready = threading.Event()
    w.connect("on-negotiation-needed", lambda _w: ready.set())
    pipe.set_state(Gst.State.PLAYING)
    if not ready.wait(GATHER_TIMEOUT):
        fail("webrtcbin never asked for negotiation")
    offer = wait_promise(lambda p: w.emit("create-offer", None, p)).get_value("offer")
    wait_promise(lambda p: w.emit("set-local-description", offer, p))
    sdp = local_sdp(w)
    j.message(
        {"request": "joinandconfigure", "room": room, "ptype": "publisher",
         "display": "lab", "audio": True, "video": True},
        {"type": "offer", "sdp": sdp},
    )
    while True:
        data, jsep = j.event()
        if jsep:
            break
    answer = sdp_of(GstWebRTC.WebRTCSDPType.ANSWER, jsep["sdp"])
    wait_promise(lambda p: w.emit("set-remote-description", answer, p))
    log(f"published {data.get('id')}")
    watch(pipe, seconds, stop)
    pipe.set_state(Gst.State.NULL)


def subscribe(url, room, feed, seconds, stop):
    j = Janus(url)
    pipe = Gst.Pipeline.new("sub")
    w = Gst.ElementFactory.make("webrtcbin", "w")
    w.set_property("bundle-policy", GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
    pipe.add(w)

    def pad_added(_w, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        sink = Gst.ElementFactory.make("fakesink")
        sink.set_property("sync", False)
        sink.set_property("async", False)
        pipe.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))

    w.connect("pad-added", pad_added)
    pipe.set_state(Gst.State.PLAYING)
    j.message({"request": "join", "room": room, "ptype": "subscriber",
               "streams": [{"feed": feed}]})
    while True:
        data, jsep = j.event()
        if jsep:
            break
    offer = sdp_of(GstWebRTC.WebRTCSDPType.OFFER, jsep["sdp"])
    wait_promise(lambda p: w.emit("set-remote-description", offer, p))
    answer = wait_promise(lambda p: w.emit("create-answer", None, p)).get_value("answer")
    wait_promise(lambda p: w.emit("set-local-description", answer, p))
    sdp = local_sdp(w)
    j.message({"request": "start", "room": room}, {"type": "answer", "sdp": sdp})
    log("subscribed")
    watch(pipe, seconds, stop)
    pipe.set_state(Gst.State.NULL)


def main():
    Gst.init(None)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    a = sys.argv[1:]
    try:
        if len(a) == 4 and a[0] == "publish":
            publish(a[1], int(a[2]), float(a[3]), stop)
        elif len(a) == 5 and a[0] == "subscribe":
            subscribe(a[1], int(a[2]), int(a[3]), float(a[4]), stop)
        else:
            fail(__doc__)
    except (OSError, ValueError, KeyError) as e:
        fail(repr(e))


if __name__ == "__main__":
    main()
