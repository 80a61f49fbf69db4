//! Write a synthetic capture and its ground truth.
//!
//! ```text
//! cargo run --release --example synth -- --scenario clean-many --streams 1000 --packets 1000000 --out /tmp/x.pcap
//! cargo run --release --example synth -- --scenario impaired --seed 7 --out f.pcapng --truth f.json
//! cargo run --release --example synth -- --scenario impaired-many --streams 10000 --packets 30 --out many.pcap
//! ```
//!
//! Options: `--scenario clean-many|impaired|impaired-many` (impaired-many: `--packets` is per
//! stream), `--streams N`, `--packets N`, `--seed N`,
//! `--out FILE` (`.pcapng` → pcapng, anything else → classic pcap), `--truth FILE` (JSON),
//! `--micro` (classic pcap with microsecond instead of nanosecond timestamps),
//! `--encap ethernet|vlan|qinq|sll|sll2|null|raw` (impaired only: put every stream on one link
//! type, which classic pcap needs). Arguments are parsed by hand to keep the example small.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use rtcprobe::synth::scenarios::{impaired_many, impaired_mix_on, write_clean_many, Format};
use rtcprobe::synth::{Encap, TsResolution, DEFAULT_SNAPLEN};

struct Args {
    scenario: String,
    streams: u32,
    packets: u64,
    seed: u64,
    out: String,
    truth: Option<String>,
    micro: bool,
    encap: Option<Encap>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        scenario: "impaired".into(),
        streams: 1000,
        packets: 1_000_000,
        seed: 1,
        out: String::new(),
        truth: None,
        micro: false,
        encap: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "--scenario" => a.scenario = val()?,
            "--streams" => a.streams = val()?.parse().map_err(|e| format!("--streams: {e}"))?,
            "--packets" => a.packets = val()?.parse().map_err(|e| format!("--packets: {e}"))?,
            "--seed" => a.seed = val()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--out" => a.out = val()?,
            "--truth" => a.truth = Some(val()?),
            "--micro" => a.micro = true,
            "--encap" => {
                a.encap = Some(match val()?.as_str() {
                    "ethernet" => Encap::Ethernet,
                    "vlan" => Encap::Vlan { vid: 100 },
                    "qinq" => Encap::QinQ {
                        outer: 10,
                        inner: 20,
                    },
                    "sll" => Encap::Sll,
                    "sll2" => Encap::Sll2,
                    "null" => Encap::Null,
                    "raw" => Encap::RawIp,
                    other => return Err(format!("unknown --encap {other}")),
                })
            }
            "-h" | "--help" => {
                return Err("see the doc comment at the top of examples/synth.rs".into())
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.out.is_empty() {
        return Err("--out FILE is required".into());
    }
    Ok(a)
}

fn run(a: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let ng = a.out.ends_with(".pcapng");
    let res = if a.micro {
        TsResolution::Micro
    } else {
        TsResolution::Nano
    };
    let create =
        || -> std::io::Result<_> { Ok(BufWriter::with_capacity(1 << 20, File::create(&a.out)?)) };
    let started = std::time::Instant::now();
    let truth = match a.scenario.as_str() {
        "clean-many" => {
            let fmt = if ng {
                Format::Pcapng
            } else {
                Format::Pcap(res)
            };
            write_clean_many(create()?, a.streams, a.packets, a.seed, fmt)?
        }
        "impaired-many" => {
            let per_stream = u32::try_from(a.packets).map_err(|e| format!("--packets: {e}"))?;
            let cap = impaired_many(a.streams, per_stream, a.seed).build();
            cap.write_pcap(create()?, res, DEFAULT_SNAPLEN)?;
            cap.truth
        }
        "impaired" => {
            let cap = impaired_mix_on(a.seed, a.encap).build();
            if ng {
                cap.write_pcapng(create()?, DEFAULT_SNAPLEN)?;
            } else if cap.linktypes().len() > 1 {
                return Err(format!(
                    "link types {:?} need pcapng: use an .pcapng --out, or --encap to force one",
                    cap.linktypes()
                )
                .into());
            } else {
                cap.write_pcap(create()?, res, DEFAULT_SNAPLEN)?;
            }
            cap.truth
        }
        other => {
            return Err(format!(
                "unknown --scenario {other} (clean-many | impaired | impaired-many)"
            )
            .into())
        }
    };
    if let Some(t) = &a.truth {
        let mut f = BufWriter::new(File::create(t)?);
        serde_json::to_writer_pretty(&mut f, &truth)?;
        f.write_all(b"\n")?;
        f.flush()?;
    }
    eprintln!(
        "wrote {} frames, {} streams to {} in {:.2?}",
        truth.frames,
        truth.streams.len(),
        a.out,
        started.elapsed()
    );
    Ok(())
}

fn main() -> ExitCode {
    match parse().map_err(Into::into).and_then(|a| run(&a)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synth: {e}");
            ExitCode::FAILURE
        }
    }
}
