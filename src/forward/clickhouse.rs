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
//! Hop records (schema version 2, [`super::hop_record`]) and call records (version 3,
//! [`super::call_record`]) have other columns: the lines of a batch whose `kind` is
//! `hop_interval` or `hop_final` go to the hop table (sql/clickhouse/rtcprobe_hops.sql), those
//! whose `kind` is `call` to the call table (sql/clickhouse/rtcprobe_calls.sql), both named
//! after the records table ([`hops_table`], [`calls_table`]), each in an `INSERT` of its own;
//! the batch is delivered when all are accepted (a retry may insert one of them twice:
//! `record_id` deduplicates it, as for any retry).

use super::delivery::{Outcome, Service};
use super::http::Client;
use super::tls::TlsError;
use crate::config::HttpConfig;

pub struct ClickHouse {
    client: Client,
    /// INSERT URLs by [`Table`]: records, hops, calls.
    urls: [String; 3],
}

/// The table a buffered line goes to, by its serialised `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Records = 0,
    Hops = 1,
    Calls = 2,
}

/// The hop table of records table `table`: `…_records` becomes `…_hops`
/// (`rtcprobe_records` → `rtcprobe_hops`), any other name gets `_hops` appended.
pub fn hops_table(table: &str) -> String {
    sibling(table, "hops")
}

/// The call table of records table `table` (`rtcprobe_records` → `rtcprobe_calls`), as
/// [`hops_table`].
pub fn calls_table(table: &str) -> String {
    sibling(table, "calls")
}

fn sibling(table: &str, what: &str) -> String {
    match table.strip_suffix("_records") {
        Some(base) => format!("{base}_{what}"),
        None => format!("{table}_{what}"),
    }
}

/// Which table a buffered line belongs to (hop records: `kind` `hop_…`; call records:
/// `kind` `call`; everything else is a stream record).
fn table_of(line: &[u8]) -> Table {
    if line.windows(12).any(|w| w == br#""kind":"hop_"#) {
        Table::Hops
    } else if line.windows(13).any(|w| w == br#""kind":"call""#) {
        Table::Calls
    } else {
        Table::Records
    }
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
            urls: [
                insert(table),
                insert(&hops_table(table)),
                insert(&calls_table(table)),
            ],
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
    /// One `INSERT` per table the batch has lines for (records, then hops, then calls); the
    /// batch is delivered when all are accepted.
    fn send(&mut self, batch: &[u8], _records: u64) -> Outcome {
        let ndjson = [("Content-Type", "application/x-ndjson")];
        let lines = || batch.split(|&c| c == b'\n').filter(|l| !l.is_empty());
        if lines().all(|l| table_of(l) == Table::Records) {
            return self.client.post(&self.urls[0], &ndjson, batch);
        }
        let mut parts: [Vec<u8>; 3] = Default::default();
        for line in lines() {
            let to = &mut parts[table_of(line) as usize];
            to.extend_from_slice(line);
            to.push(b'\n');
        }
        for (part, url) in parts.iter().zip(&self.urls) {
            if part.is_empty() {
                continue;
            }
            match self.client.post(url, &ndjson, part) {
                Outcome::Sent => {}
                other => return other,
            }
        }
        Outcome::Sent
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hop_and_call_lines_and_their_tables_are_told_apart() {
        use super::{table_of, Table};
        assert_eq!(super::hops_table("rtcprobe_records"), "rtcprobe_hops");
        assert_eq!(super::hops_table("db.calls"), "db.calls_hops");
        assert_eq!(super::calls_table("rtcprobe_records"), "rtcprobe_calls");
        assert_eq!(super::calls_table("db.t"), "db.t_calls");
        let line = |kind: &str| {
            format!(r#"{{"schema_version":3,"record_id":"00","host":"h","kind":"{kind}"}}"#)
        };
        assert_eq!(table_of(line("hop_final").as_bytes()), Table::Hops);
        assert_eq!(table_of(line("hop_interval").as_bytes()), Table::Hops);
        assert_eq!(table_of(line("call").as_bytes()), Table::Calls);
        assert_eq!(table_of(line("final").as_bytes()), Table::Records);
        assert_eq!(table_of(line("interval").as_bytes()), Table::Records);
        // A call's kind is the whole value: "call_kind" or a longer kind is not one.
        assert_eq!(
            table_of(br#"{"kind":"final","call_kind":"sip"}"#),
            Table::Records
        );
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
