//! The `clickhouse` sink: a buffered batch is one `INSERT INTO <table> FORMAT JSONEachRow` over
//! the HTTP interface, the NDJSON lines sent as they are (the record is flat: keys are columns).
//!
//! `date_time_input_format=best_effort` lets the RFC 3339 times fill `DateTime` columns
//! (seconds; ClickHouse before 20.1 has no DateTime64), and
//! `input_format_skip_unknown_fields=1` lets a newer probe write to an older table. The table
//! DDL is sql/clickhouse/rtcprobe_records.sql: a ReplacingMergeTree whose sorting key ends with
//! `record_id`, so the duplicates of at-least-once delivery are merged away (`FINAL` or
//! `uniqExact(record_id)` for exact counts before merges).

use super::delivery::{Outcome, Service};
use super::http::Client;
use super::tls::TlsError;
use crate::config::HttpConfig;

pub struct ClickHouse {
    client: Client,
    url: String,
}

impl ClickHouse {
    pub fn new(url: &str, table: &str, h: &HttpConfig) -> Result<ClickHouse, TlsError> {
        let query = format!("INSERT INTO {table} FORMAT JSONEachRow");
        let (client, base) = Client::for_url(h, url)?;
        let url = with_params(
            &base,
            &format!(
                "date_time_input_format=best_effort&input_format_skip_unknown_fields=1&query={}",
                query.replace(' ', "%20")
            ),
        );
        Ok(ClickHouse { client, url })
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
        self.client.post(
            &self.url,
            &[("Content-Type", "application/x-ndjson")],
            batch,
        )
    }
}

#[cfg(test)]
mod tests {
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
