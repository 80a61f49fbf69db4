//! Our passive MOS-LQ against what a listener would hear, scored by PESQ (issue 14, item 1).
//!
//! Real speech (eight short recordings of a human voice, 13.4 s: [`SPEECH`]) is encoded by GStreamer as PCMU,
//! G.722 and Opus RTP (20 ms packets). Each stream is sent through twelve impairment conditions (random and
//! bursty loss 0–15 %, jitter 0–60 ms), in real time over loopback, to a GStreamer receiver with
//! its own jitter buffer (`rtpjitterbuffer latency=60`, the probe's default emulated buffer) and
//! concealment (spandsp's G.711 Appendix I PLC for PCMU and G.722, Opus's own PLC), which
//! records what it plays. PESQ (ITU-T P.862 narrowband for PCMU, P.862.2 wideband for G.722 and
//! Opus; the `pesq` package from PyPI) scores each recording against the original. The probe
//! replays a capture of exactly the packets the receiver was sent, with their arrival times,
//! and gives its MOS-LQ. Per codec, the two must track each other: Pearson ≥ 0.85 and
//! RMSE ≤ 0.5 over the twelve conditions. The table is printed (docs/quality.md has it).
//!
//! The two scales are not the same scale. PESQ's MOS-LQO depends on the speech material: on
//! this recording it rates G.711 itself, with no network at all, 3.93, where G.107 puts every
//! G.711 call without loss at 4.41 (R 93.2, `Ie` 0 by definition). ITU-T P.834 (P.834.1 for
//! wideband), the ITU's method for deriving E-model impairments from PESQ, meets this by
//! anchoring: PESQ scores go to the R scale (eq. B-4 inverted) and are shifted so that a
//! reference codec with a known impairment lands on it. We do the same, once per band and not
//! per codec under test: narrowband is anchored on G.711 (`Ie` 0), wideband on G.722 at
//! 64 kbit/s (`Ie,WB` 13, G.113 Amd. 1), each through a clean channel (encoded and decoded
//! straight from file). The RMSE is judged on the anchored PESQ; Pearson, which no shift
//! changes much, on both; the table shows both.
//!
//! Needs gst-launch-1.0 (plugins base, good, bad, libav), alsa-utils' sounds and the PESQ virtual
//! environment (`target/pesq-venv`, scripts/setup-test); skips without them, except under
//! CI=true. Bounded: every child is killed on drop and each run has a deadline.

mod common;

use common::{have, Proc, TempDir};
use rtcprobe::engine::emodel;
use rtcprobe::synth::frame::{udp_frame, Encap};
use rtcprobe::synth::pcap::{PcapWriter, TsResolution};
use rtcprobe::synth::rng::Rng;
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Natural speech: the ALSA channel-test recordings (package alsa-utils, "Front Center", …),
/// 48 kHz mono, one after the other with a quarter second of silence: 13.4 s, within P.862's
/// 8–20 s. (espeak-ng's formant voice was tried first: PESQ rates it far below natural speech
/// even unimpaired, 2.99 for G.722 against 4.23 here, which says more about the voice than the
/// network.)
const SPEECH: [&str; 8] = [
    "Front_Center",
    "Front_Left",
    "Front_Right",
    "Rear_Center",
    "Rear_Left",
    "Rear_Right",
    "Side_Left",
    "Side_Right",
];
const SOUNDS: &str = "/usr/share/sounds/alsa";

/// The `data` chunk of a RIFF WAVE file.
fn wav_data(b: &[u8]) -> &[u8] {
    let mut at = 12;
    while let Some(h) = b.get(at..at + 8) {
        let n = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
        if &h[..4] == b"data" {
            return &b[at + 8..(at + 8 + n).min(b.len())];
        }
        at += 8 + n + (n & 1);
    }
    panic!("no data chunk")
}

/// Mono 16-bit PCM at `rate` as a WAVE file.
fn wav(pcm: &[u8], rate: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(44 + pcm.len());
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + pcm.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(pcm.len() as u32).to_le_bytes());
    out.extend_from_slice(pcm);
    out
}

fn speech() -> Vec<u8> {
    let mut pcm = Vec::new();
    for name in SPEECH {
        let b = std::fs::read(format!("{SOUNDS}/{name}.wav")).expect("ALSA speech sample");
        pcm.extend_from_slice(wav_data(&b));
        pcm.resize(pcm.len() + 48_000 / 4 * 2, 0);
    }
    wav(&pcm, 48_000)
}

/// One impairment: loss rate, mean loss-run length (1 = random), and the spread of the extra
/// one-way delay (uniform in 0..jitter_ms, so packets reorder once it passes the 20 ms ptime).
struct Cond {
    name: &'static str,
    loss: f64,
    burst: f64,
    jitter_ms: f64,
}

const CONDITIONS: [Cond; 12] = [
    cond("clean", 0.0, 1.0, 0.0),
    cond("random 1%", 0.01, 1.0, 0.0),
    cond("random 3%", 0.03, 1.0, 0.0),
    cond("random 5%", 0.05, 1.0, 0.0),
    cond("random 10%", 0.10, 1.0, 0.0),
    cond("random 15%", 0.15, 1.0, 0.0),
    cond("bursty 5%", 0.05, 4.0, 0.0),
    cond("bursty 10%", 0.10, 4.0, 0.0),
    cond("bursty 15%", 0.15, 4.0, 0.0),
    cond("jitter 30 ms", 0.0, 1.0, 30.0),
    cond("jitter 60 ms", 0.0, 1.0, 60.0),
    cond("random 3% + jitter 60 ms", 0.03, 1.0, 60.0),
];

const fn cond(name: &'static str, loss: f64, burst: f64, jitter_ms: f64) -> Cond {
    Cond {
        name,
        loss,
        burst,
        jitter_ms,
    }
}

struct Codec {
    name: &'static str,
    /// Encoder and payloader after `audioconvert`.
    enc: &'static str,
    /// The receiver: RTP caps, depayloader, decoder and concealment.
    caps: &'static str,
    dec: &'static str,
    /// PESQ mode and its sample rate.
    mode: &'static str,
    rate: u32,
    /// The probe's `[payload_types]`, for a dynamic payload type.
    config: &'static str,
}

const CODECS: [Codec; 3] = [
    Codec {
        name: "PCMU",
        enc: "audioresample ! audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay min-ptime=20000000 \
              max-ptime=20000000",
        caps: "application/x-rtp,media=audio,clock-rate=8000,encoding-name=PCMU,payload=0",
        dec: "rtppcmudepay ! mulawdec ! spanplc",
        mode: "nb",
        rate: 8000,
        config: "",
    },
    Codec {
        name: "G722",
        enc: "audioresample ! audio/x-raw,rate=16000,channels=1 ! avenc_g722 ! rtpg722pay min-ptime=20000000 \
              max-ptime=20000000",
        caps: "application/x-rtp,media=audio,clock-rate=8000,encoding-name=G722,payload=9",
        dec: "rtpg722depay ! avdec_g722 ! spanplc",
        mode: "wb",
        rate: 16000,
        config: "",
    },
    Codec {
        name: "opus",
        enc: "audioresample ! audio/x-raw,rate=48000,channels=1 ! opusenc bitrate=24000 frame-size=20 \
              ! rtpopuspay pt=96",
        caps: "application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=96",
        dec: "rtpopusdepay ! opusdec plc=true",
        mode: "wb",
        rate: 16000,
        config: "[payload_types]\n\"96\" = { clock_rate = 48000, codec = \"opus\" }\n",
    },
];

/// Realisations of each condition (seeds), averaged.
const REPEATS: usize = 3;
/// Receivers running at once: each decodes in real time with a 60 ms jitter buffer, so a
/// starved CPU would add late loss of its own (seen with 36 at once on 2 cores).
const BATCH: usize = 12;

const SRC: &str = "10.20.0.1:40000";
const DST: &str = "10.20.0.2:50000";

fn venv_python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pesq-venv/bin/python")
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn gst(dir: &Path, pipeline: &str) -> Result<(), String> {
    run(Command::new("gst-launch-1.0")
        .arg("-q")
        .args(pipeline.split_whitespace())
        .current_dir(dir))
}

/// The RTP packets `multifilesink` wrote, one file each, in order; their sequence numbers must
/// run without a gap (the impairment is ours alone).
fn read_packets(dir: &Path) -> Vec<Vec<u8>> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("encoded packets")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    let packets: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(n).expect("packet"))
        .collect();
    for w in packets.windows(2) {
        let seq = |p: &[u8]| u16::from_be_bytes([p[2], p[3]]);
        assert_eq!(
            seq(&w[1]),
            seq(&w[0]).wrapping_add(1),
            "encoder output has a gap"
        );
    }
    packets
}

/// Which packets arrive, and when (ns after the first send), under `c`: a two-state (Gilbert)
/// loss model with the condition's rate and mean run length, and a uniform extra delay.
fn schedule(c: &Cond, packets: usize, seed: u64) -> Plan {
    let mut rng = Rng::new(seed);
    let q = 1.0 / c.burst;
    let p = if c.loss > 0.0 {
        c.loss * q / (1.0 - c.loss)
    } else {
        0.0
    };
    let mut bad = false;
    let mut out = Vec::new();
    for i in 0..packets {
        bad = if bad { !rng.chance(q) } else { rng.chance(p) };
        if bad {
            continue;
        }
        let extra = (rng.f64() * c.jitter_ms * 1e6) as i64;
        out.push((i as i64 * 20_000_000 + extra, i));
    }
    out.sort();
    out
}

/// When each packet arrives (ns after the first send) and which it is.
type Plan = Vec<(i64, usize)>;
/// A condition's index, the receiver's recording and its plan.
type Run = (usize, PathBuf, Plan);

/// A GStreamer receiver recording to `wav` on `port`; it stops (EOS) on SIGINT.
fn receiver(codec: &Codec, port: u16, wav: &Path, log: &Path) -> Proc {
    let pipeline = format!(
        "udpsrc address=127.0.0.1 port={port} caps={} ! rtpjitterbuffer latency=60 \
         do-lost=true ! {} ! audioconvert ! audioresample ! \
         audio/x-raw,format=S16LE,rate={},channels=1 ! wavenc ! filesink location={}",
        codec.caps,
        codec.dec,
        codec.rate,
        wav.display()
    );
    let err = std::fs::File::create(log).expect("log");
    Proc(
        Command::new("gst-launch-1.0")
            .arg("-e")
            .args(pipeline.split_whitespace())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("gst-launch-1.0"),
    )
}

/// Receive `jobs` (condition, realisation) at once, each its own receiver, port and sending
/// thread, in real time; returns each one's recording and what was sent when.
fn run_batch(codec: &Codec, packets: &[Vec<u8>], jobs: &[(usize, usize)], d: &Path) -> Vec<Run> {
    let mut runs = Vec::new();
    for &(i, rep) in jobs {
        let tag = format!("{}-{i}-{rep}", codec.name);
        let port = common::free_port();
        let wav = d.join(format!("{tag}.wav"));
        let rx = receiver(codec, port, &wav, &d.join(format!("{tag}.log")));
        let plan = schedule(
            &CONDITIONS[i],
            packets.len(),
            0x5e50 + (i * REPEATS + rep) as u64,
        );
        runs.push((i, port, wav, rx, plan));
    }
    // The receivers are up once their sockets are: give them a moment.
    std::thread::sleep(Duration::from_millis(1500));
    std::thread::scope(|s| {
        for (_, port, _, _, plan) in &runs {
            s.spawn(move || {
                let sock = UdpSocket::bind("127.0.0.1:0").expect("socket");
                let start = Instant::now();
                for &(at, i) in plan {
                    let due = Duration::from_nanos(at as u64);
                    if let Some(wait) = due.checked_sub(start.elapsed()) {
                        std::thread::sleep(wait);
                    }
                    let _ = sock.send_to(&packets[i], ("127.0.0.1", *port));
                }
            });
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    runs.into_iter()
        .map(|(i, _, wav, mut rx, plan)| {
            // SIGINT: gst-launch -e sends EOS, wavenc completes the file.
            // SAFETY: signalling our own child, which is not yet reaped.
            unsafe { libc::kill(rx.0.id() as i32, libc::SIGINT) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while rx.0.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            rx.kill();
            (i, wav, plan)
        })
        .collect()
}

/// G.107 eq. B-4 inverted: the (narrowband-scale) R whose MOS is `m`, by bisection over
/// 6.5..=100, where the cubic rises; MOS-LQO above 4.5 (PESQ reaches 4.55) is R 100.
fn r_of_mos(m: f64) -> f64 {
    let (mut lo, mut hi) = (6.5, 100.0);
    if m >= emodel::mos(hi) {
        return hi;
    }
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if emodel::mos(mid) < m {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// PESQ scores of `(reference, degraded, mode)` triples, by tests/pesq/score.py.
fn pesq_scores(pairs: &[(PathBuf, PathBuf, &str)]) -> Vec<String> {
    let mut input = String::new();
    for (r, d, mode) in pairs {
        input += &format!("{} {} {mode}\n", r.display(), d.display());
    }
    let mut py = Command::new(venv_python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pesq/score.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("score.py");
    py.stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = py.wait_with_output().expect("score.py output");
    let scores: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(scores.len(), pairs.len(), "score.py: {scores:?}");
    scores
}

/// P.834's anchor for a band: the R shift that puts PESQ of the reference codec through a clean
/// channel (`pesq_ref`) on the E-model's value for it (`model_mos`).
fn anchor(pesq_ref: f64, model_mos: f64) -> f64 {
    r_of_mos(model_mos) - r_of_mos(pesq_ref)
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

fn rmse(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    (x.iter().zip(y).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / n).sqrt()
}

#[test]
fn passive_mos_tracks_pesq() {
    if !have("/usr/bin/gst-launch-1.0", "gstreamer1.0-tools")
        || !have(&format!("{SOUNDS}/Front_Center.wav"), "alsa-utils")
        || !have(&venv_python().to_string_lossy(), "pesq (target/pesq-venv)")
    {
        return;
    }
    let dir = TempDir::new("pesq");
    let d = &dir.0;
    std::fs::write(d.join("speech.wav"), speech()).unwrap();
    for rate in [8000, 16000] {
        gst(
            d,
            &format!(
                "filesrc location=speech.wav ! wavparse ! audioconvert ! audioresample ! \
                 audio/x-raw,format=S16LE,rate={rate},channels=1 ! wavenc ! \
                 filesink location=ref-{rate}.wav"
            ),
        )
        .expect("reference");
    }
    // P.834's anchors: the reference codec of each band through a clean channel.
    gst(
        d,
        "filesrc location=ref-8000.wav ! wavparse ! mulawenc ! mulawdec ! wavenc ! \
         filesink location=anchor-nb.wav",
    )
    .expect("G.711 anchor");
    gst(
        d,
        "filesrc location=ref-16000.wav ! wavparse ! avenc_g722 ! avdec_g722 ! audioconvert ! \
         audio/x-raw,format=S16LE,rate=16000,channels=1 ! wavenc ! filesink location=anchor-wb.wav",
    )
    .expect("G.722 anchor");
    let refs = pesq_scores(&[
        (d.join("ref-8000.wav"), d.join("anchor-nb.wav"), "nb"),
        (d.join("ref-16000.wav"), d.join("anchor-wb.wav"), "wb"),
    ]);
    let refs: Vec<f64> = refs.iter().map(|p| p.parse().expect(p)).collect();
    let g711 = emodel::mos(emodel::R_DEFAULT_NB);
    let g722 = emodel::mos_of(
        emodel::Scale::Wideband,
        emodel::R_DEFAULT_WB - emodel::codecs::G722.ie,
    );
    let (shift_nb, shift_wb) = (anchor(refs[0], g711), anchor(refs[1], g722));
    eprintln!(
        "anchors: G.711 PESQ {:.3} (E-model {g711:.3}, R shift {shift_nb:.2}); \
         G.722 PESQ {:.3} (E-model {g722:.3}, R shift {shift_wb:.2})",
        refs[0], refs[1]
    );
    let src: SocketAddr = SRC.parse().unwrap();
    let dst: SocketAddr = DST.parse().unwrap();
    let mut table = String::from(
        "| codec | condition | Ppl % | BurstR | PESQ MOS-LQO | PESQ anchored (P.834) | \
         rtcprobe MOS-LQ |\n|---|---|---|---|---|---|---|\n",
    );
    let mut failures = Vec::new();
    for codec in &CODECS {
        let rtp = d.join(codec.name);
        std::fs::create_dir_all(&rtp).unwrap();
        gst(
            d,
            &format!(
                "filesrc location=speech.wav ! wavparse ! audioconvert ! {} ! multifilesink \
                 location={}/p-%05d.rtp",
                codec.enc,
                rtp.display()
            ),
        )
        .expect("encode");
        let packets = read_packets(&rtp);
        assert!(
            packets.len() > 500,
            "{}: {} packets",
            codec.name,
            packets.len()
        );
        let jobs: Vec<(usize, usize)> = (0..CONDITIONS.len())
            .flat_map(|i| (0..REPEATS).map(move |rep| (i, rep)))
            .collect();
        let mut runs = Vec::new();
        for batch in jobs.chunks(BATCH) {
            runs.extend(run_batch(codec, &packets, batch, d));
        }
        let mut scores = Vec::new();
        for (i, wav, plan) in runs {
            // The probe's view: the same packets, at their arrival times.
            let cap = wav.with_extension("pcap");
            let mut w = PcapWriter::new(
                std::fs::File::create(&cap).unwrap(),
                Encap::Ethernet.linktype(),
                65535,
                TsResolution::Nano,
            )
            .unwrap();
            let t0 = 1_800_000_000_000_000_000i64;
            for &(at, p) in &plan {
                let frame = udp_frame(Encap::Ethernet.into(), src, dst, &packets[p]);
                w.write_frame(t0 + at, &frame).unwrap();
            }
            w.into_inner().unwrap().flush().unwrap();
            let cfg = d.join(format!("{}.toml", codec.name));
            std::fs::write(&cfg, codec.config).unwrap();
            let report = common::replay_report(&cfg, &[], &cap);
            let q = &report["streams"][0]["quality"];
            let mos = q["mos_lq"].as_f64();
            let inputs = (q["ppl"].as_f64(), q["burst_r"].as_f64());
            scores.push((i, wav, mos, inputs));
        }
        let pairs: Vec<(PathBuf, PathBuf, &str)> = scores
            .iter()
            .map(|(_, wav, _, _)| {
                let r = d.join(format!("ref-{}.wav", codec.rate));
                (r, wav.clone(), codec.mode)
            })
            .collect();
        let pesq = pesq_scores(&pairs);
        let shift = if codec.mode == "nb" {
            shift_nb
        } else {
            shift_wb
        };
        // Per condition, the mean over its realisations (where the losses fall, in speech or
        // in a pause, moves PESQ by several tenths on one 13 s sample).
        let (mut xs, mut xa, mut ys) = (Vec::new(), Vec::new(), Vec::new());
        for (i, c) in CONDITIONS.iter().enumerate() {
            let (mut p_sum, mut m_sum, mut ppl, mut burst) = (0.0, 0.0, 0.0, 0.0);
            for ((_, _, mos, (l, b)), p) in scores.iter().zip(&pesq).filter(|(s, _)| s.0 == i) {
                let p: f64 = p
                    .parse()
                    .unwrap_or_else(|_| panic!("{} {}: PESQ said {p}", codec.name, c.name));
                let mos = mos.unwrap_or_else(|| panic!("{} {}: no MOS-LQ", codec.name, c.name));
                p_sum += p;
                m_sum += mos;
                ppl += l.unwrap_or(0.0);
                burst += b.unwrap_or(1.0);
            }
            let n = REPEATS as f64;
            let (p, mos) = (p_sum / n, m_sum / n);
            let anchored = emodel::mos(r_of_mos(p) + shift);
            table += &format!(
                "| {} | {} | {:.2} | {:.2} | {p:.2} | {anchored:.2} | {mos:.2} |\n",
                codec.name,
                c.name,
                ppl / n,
                burst / n
            );
            xs.push(p);
            xa.push(anchored);
            ys.push(mos);
        }
        let (r, e) = (pearson(&xs, &ys), rmse(&xs, &ys));
        let (ra, ea) = (pearson(&xa, &ys), rmse(&xa, &ys));
        let fit = format!(
            "{}: Pearson {r:.3} raw, {ra:.3} anchored; RMSE {e:.3} raw, {ea:.3} anchored",
            codec.name
        );
        table += &format!("| {} | **{fit}** | | | | | |\n", codec.name);
        if !(r >= 0.85 && ra >= 0.85 && ea <= 0.5) {
            failures.push(fit);
        }
    }
    eprintln!("{table}");
    assert!(failures.is_empty(), "against PESQ: {failures:?}\n{table}");
}
