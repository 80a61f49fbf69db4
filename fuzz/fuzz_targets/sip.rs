#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rtcprobe::fuzzing::sip(data));
