//! A hand-written protobuf encoder for the Prometheus remote-write 1.0 `WriteRequest`
//! (<https://prometheus.io/docs/specs/remote_write_spec/>, "Protocol"), so that the sink needs
//! no code generator. Only the four messages the spec requires are written; `metadata`
//! (field 3) is optional and left out.
//!
//! ```text
//! message WriteRequest { repeated TimeSeries timeseries = 1; reserved 2; }
//! message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//! message Label        { string name = 1; string value = 2; }
//! message Sample       { double value = 1; int64 timestamp = 2; }   // ms since the epoch
//! ```
//!
//! Wire format (protobuf encoding guide): a field is a varint key `(number << 3) | wire type`,
//! then a varint (type 0), 8 little-endian bytes (type 1) or a varint length and the bytes
//! (type 2, strings and embedded messages). The spec's ordering rules are the caller's to keep
//! and [`Series::new`] keeps them: labels sorted by name (`__name__` sorts first as bytes),
//! samples sorted by timestamp. The body is then compressed with snappy's block format.

/// One label pair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Label {
    pub name: String,
    pub value: String,
}

/// One sample: value and timestamp in ms since the epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub value: f64,
    pub timestamp_ms: i64,
}

/// One time series, labels and samples in the order the spec requires.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    labels: Vec<Label>,
    samples: Vec<Sample>,
}

impl Series {
    /// Sorts labels by name and samples by timestamp (remote write 1.0: "Label names MUST be
    /// sorted in lexicographical order", "Samples within a time series MUST be appended in
    /// timestamp order").
    pub fn new(mut labels: Vec<Label>, mut samples: Vec<Sample>) -> Series {
        labels.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        samples.sort_by_key(|s| s.timestamp_ms);
        Series { labels, samples }
    }

    pub fn labels(&self) -> &[Label] {
        &self.labels
    }

    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }
}

/// A `WriteRequest` of `series`, protobuf-encoded (not yet compressed).
pub fn write_request(series: &[Series]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ts = Vec::new();
    for s in series {
        ts.clear();
        for l in &s.labels {
            let mut lb = Vec::with_capacity(l.name.len() + l.value.len() + 4);
            bytes_field(&mut lb, 1, l.name.as_bytes());
            bytes_field(&mut lb, 2, l.value.as_bytes());
            bytes_field(&mut ts, 1, &lb);
        }
        for p in &s.samples {
            let mut sb = Vec::with_capacity(20);
            varint(&mut sb, 1 << 3 | 1);
            sb.extend_from_slice(&p.value.to_le_bytes());
            varint(&mut sb, 2 << 3);
            // int64: negative values are ten-byte varints of the two's complement.
            varint(&mut sb, p.timestamp_ms as u64);
            bytes_field(&mut ts, 2, &sb);
        }
        bytes_field(&mut out, 1, &ts);
    }
    out
}

/// The request body: [`write_request`] in snappy's block format (not the framed format).
pub fn compressed(series: &[Series]) -> Result<Vec<u8>, snap::Error> {
    snap::raw::Encoder::new().compress_vec(&write_request(series))
}

fn bytes_field(out: &mut Vec<u8>, number: u64, data: &[u8]) {
    varint(out, number << 3 | 2);
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(n: &str, v: &str) -> Label {
        Label {
            name: n.into(),
            value: v.into(),
        }
    }

    #[test]
    fn encodes_one_series_byte_for_byte() {
        let s = Series::new(
            vec![l("job", "x"), l("__name__", "up")],
            vec![
                Sample {
                    value: 2.0,
                    timestamp_ms: 300,
                },
                Sample {
                    value: 1.0,
                    timestamp_ms: 1,
                },
            ],
        );
        let mut want = vec![
            0x0a, 53, // WriteRequest.timeseries, 53 bytes
            0x0a, 14, // TimeSeries.labels, 14 bytes
            0x0a, 8, b'_', b'_', b'n', b'a', b'm', b'e', b'_', b'_', // Label.name
            0x12, 2, b'u', b'p', // Label.value
            0x0a, 8, // labels
            0x0a, 3, b'j', b'o', b'b', 0x12, 1, b'x', //
            0x12, 11,   // TimeSeries.samples, 11 bytes
            0x09, // Sample.value, fixed64
        ];
        want.extend_from_slice(&1.0f64.to_le_bytes());
        want.extend_from_slice(&[0x10, 1]); // Sample.timestamp = 1
        want.extend_from_slice(&[0x12, 12, 0x09]);
        want.extend_from_slice(&2.0f64.to_le_bytes());
        want.extend_from_slice(&[0x10, 0xac, 0x02]); // 300 = 0b10_0101100
        assert_eq!(write_request(&[s]), want);
    }

    #[test]
    fn negative_timestamps_are_ten_byte_varints() {
        let mut v = Vec::new();
        varint(&mut v, -1i64 as u64);
        assert_eq!(
            v,
            [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
    }

    #[test]
    fn snappy_block_round_trips() {
        let s = Series::new(vec![l("__name__", "a")], vec![]);
        let body = compressed(std::slice::from_ref(&s)).expect("compress");
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&body)
            .expect("decompress");
        assert_eq!(raw, write_request(&[s]));
    }
}
