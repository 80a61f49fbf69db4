//! The `clickhouse` sink: a buffered batch is one `INSERT INTO <table> FORMAT JSONEachRow` over
//! the HTTP interface, the NDJSON lines sent as they are (the record is flat: keys are columns).
//!
//! `date_time_input_format=best_effort` lets the RFC 3339 times fill `DateTime` columns
//! (seconds; ClickHouse before 20.1 has no DateTime64), and
//! `input_format_skip_unknown_fields=1` lets a newer probe write to an older table. The table
//! DDL is sql/clickhouse/rtcprobe_records.sql: a ReplacingMergeTree whose sorting key ends with
//! `record_id`, so the duplicates of at-least-once delivery are merged away (`FINAL` or
//! `uniqExact(record_id)` for exact counts before merges).
//!
//! Hop records (schema version 2, [`super::hop_record`]) have other columns: the lines of a
//! batch whose `kind` is `hop_interval` or `hop_final` go to the hop table
//! (sql/clickhouse/rtcprobe_hops.sql), named after the records table ([`hops_table`]), in a
//! second `INSERT`; the batch is delivered when both are accepted (a retry may insert one of
//! them twice: `record_id` deduplicates it, as for any retry).

use super::delivery::{Outcome, Service};
use super::http::Client;
use super::tls::TlsError;
use crate::config::HttpConfig;

pub struct ClickHouse {
    client: Client,
    url: String,
    hops_url: String,
}

/// The hop table of records table `table`: `…_records` becomes `…_hops`
/// (`rtcprobe_records` → `rtcprobe_hops`), any other name gets `_hops` appended.
pub fn hops_table(table: &str) -> String {
    match table.strip_suffix("_records") {
        Some(base) => format!("{base}_hops"),
        None => format!("{table}_hops"),
    }
}

/// Whether a buffered line is a hop record (its serialised `kind`).
fn is_hop(line: &[u8]) -> bool {
    line.windows(12).any(|w| w == br#""kind":"hop_"#)
}

impl ClickHouse {
    pub fn new(url: &str, table: &str, h: &HttpConfig) -> Result<ClickHouse, TlsError> {
        let (client, base) = Client::for_url(h, url)?;
        let insert = |table: &str| {
            let query = format!("INSERT INTO {table} FORMAT JSONEachRow");
            with_params(
                &base,
                &format!(
                    "date_time_input_format=best_effort&input_format_skip_unknown_fields=1&query={}",
                    query.replace(' ', "%20")
                ),
            )
        };
        Ok(ClickHouse {
            url: insert(table),
            hops_url: insert(&hops_table(table)),
            client,
        })
    }
}

/// `base` (`http://host:8123`, `…/`, or with its own parameters such as ClickHouse's
/// `?user=…&password=…`) with `params` added to its query string.
pub fn with_params(base: &str, params: &str) -> String {
    match base.split_once('?') {
        Some((path, query)) if !query.is_empty() => {
            format!("{}/?{query}&{params}", path.trim_end_matches('/'))
        }
        Some((path, _)) => format!("{}/?{params}", path.trim_end_matches('/')),
        None => format!("{}/?{params}", base.trim_end_matches('/')),
    }
}

impl Service for ClickHouse {
    fn send(&mut self, batch: &[u8], _records: u64) -> Outcome {
        let ndjson = [("Content-Type", "application/x-ndjson")];
        if !batch.split(|&c| c == b'\n').any(is_hop) {
            return self.client.post(&self.url, &ndjson, batch);
        }
        let (mut streams, mut hops) = (Vec::new(), Vec::new());
        for line in batch.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
            let to = if is_hop(line) {
                &mut hops
            } else {
                &mut streams
            };
            to.extend_from_slice(line);
            to.push(b'\n');
        }
        if !streams.is_empty() {
            match self.client.post(&self.url, &ndjson, &streams) {
                Outcome::Sent => {}
                other => return other,
            }
        }
        self.client.post(&self.hops_url, &ndjson, &hops)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hop_lines_and_their_table_are_told_apart() {
        assert_eq!(super::hops_table("rtcprobe_records"), "rtcprobe_hops");
        assert_eq!(super::hops_table("db.calls"), "db.calls_hops");
        assert!(super::is_hop(
            br#"{"schema_version":2,"record_id":"00","host":"h","kind":"hop_final"}"#
        ));
        assert!(!super::is_hop(
            br#"{"schema_version":2,"record_id":"00","host":"h","kind":"final"}"#
        ));
    }

    #[test]
    fn parameters_join_the_urls_own() {
        for (base, want) in [
            ("http://h:8123", "http://h:8123/?a=1"),
            ("http://h:8123/", "http://h:8123/?a=1"),
            (
                "http://h:8123/?user=u&password=p",
                "http://h:8123/?user=u&password=p&a=1",
            ),
            ("http://h:8123?", "http://h:8123/?a=1"),
        ] {
            assert_eq!(super::with_params(base, "a=1"), want);
        }
    }
}
