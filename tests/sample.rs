//! The quick start's shipped sample is exactly what the generator makes today, so its table
//! demonstrates what the ground-truth tests prove.

use rtcprobe::synth::frame::Encap;
use rtcprobe::synth::pcap::TsResolution;
use rtcprobe::synth::scenarios::impaired_mix_on;

#[test]
fn shipped_sample_matches_the_generator() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample-sfu.pcap");
    let shipped = std::fs::read(&path).expect("fixtures/sample-sfu.pcap");
    let cap = impaired_mix_on(1, Some(Encap::Ethernet)).build();
    let made = cap
        .write_pcap(
            Vec::new(),
            TsResolution::Nano,
            rtcprobe::synth::DEFAULT_SNAPLEN,
        )
        .expect("write");
    assert!(
        shipped == made,
        "fixtures/sample-sfu.pcap differs from the generator: regenerate it with the command in fixtures/README.md"
    );
}
