//! rtcprobe: a passive RTP/RTCP probe.
//!
//! The architecture, one way only:
//!
//! ```text
//! capture (pcap file / live)  ──frames──▶  wire (zero-copy decode)  ──views──▶  engine (sans-IO stats)
//!                                                                                   │
//!                                                              output (table/json/csv) ◀── records
//!
//! live:  capture thread(s): frame → wire → engine::triage → route by SSRC ──batches──▶ shard
//!        workers (one Engine each, no lock) ──▶ snapshots (ArcSwap) and ended-stream records
//! ```
//!
//! * [`wire`] depends on nothing of ours: it decodes link, IP, UDP, the RFC 7983 demultiplex,
//!   RTP, RTCP and STUN from borrowed bytes, never allocating and never panicking.
//! * [`engine`] depends only on [`wire`]: it tracks streams and computes loss, jitter and RTT.
//!   Time is always an argument (the capture timestamp), never read from a clock, so replay and
//!   live capture give identical numbers.
//! * [`pipeline`] runs the engines on shard workers fed by capture threads over bounded
//!   lock-free queues; [`daemon`] supervises it as `rtcprobe run`.
//! * [`export`] serves Prometheus metrics built at scrape time from the snapshots; the workers
//!   keep the cumulative aggregates it encodes, labelled by bounded label sets.
//! * [`tcp`] reassembles TCP on the capture thread (RFC 4571, ICE-TCP, TURN over TCP) and hands
//!   its frames to the same path as UDP payloads.
//! * [`correlate`] sits beside the engine, above single streams: [`correlate::hop`] pairs the
//!   streams entering and leaving a middlebox (relay, SFU) and measures what the box adds.
//! * [`capture`], [`output`], [`pipeline`], [`daemon`], [`export`] and the binary do the IO.
//! * [`cli_assets`] writes the man pages and shell completions of the binary's clap definitions.
//! * [`diagnose`] turns a stream's figures into findings in plain words (pure, like the
//!   quality models).
//! * [`synth`] builds synthetic captures with known ground truth for tests and benchmarks.

pub mod capture;
pub mod cli_assets;
pub mod config;
pub mod correlate;
pub mod daemon;
pub mod diagnose;
pub mod engine;
pub mod export;
pub mod forward;
#[doc(hidden)]
pub mod fuzzing;
pub mod output;
pub mod pipeline;
pub mod replay;
pub mod report;
pub mod sip;
pub mod synth;
pub mod tcp;
pub mod top;
pub mod wire;
