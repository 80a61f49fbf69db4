-- rtcprobe hop records, schema version 2 (docs/records.md, "Hop records"), for the `clickhouse`
-- sink: the sink inserts the records whose kind is `hop_interval` or `hop_final` here, into the
-- table named after its records table (`rtcprobe_records` -> `rtcprobe_hops`).
--
-- As rtcprobe_records: ReplacingMergeTree with record_id last in the sorting key (at-least-once
-- delivery; query with FINAL), partitioned by day, times as DateTime (seconds, UTC); the TTL
-- line needs ClickHouse >= 19.6. Sorted by host, ingress stream and time: the
-- hops of one call's media and "worst middlebox hops of the last hour" read a narrow range.
CREATE TABLE IF NOT EXISTS rtcprobe_hops
(
    schema_version UInt32,
    record_id String,
    host String,
    kind String,
    interval_start DateTime('UTC'),
    interval_end DateTime('UTC'),
    ingress_src_ip String,
    ingress_src_port UInt16,
    ingress_dst_ip String,
    ingress_dst_port UInt16,
    ingress_ssrc UInt32,
    ingress_observed_at String,
    egress_src_ip String,
    egress_src_port UInt16,
    egress_dst_ip String,
    egress_dst_port UInt16,
    egress_ssrc UInt32,
    egress_observed_at String,
    matched_by String,
    confidence Float64,
    packets_in UInt64,
    packets_out UInt64,
    lost_inside UInt64,
    lost_upstream UInt64,
    evicted UInt64,
    late UInt64,
    duplicates_out UInt64,
    rtx_packets UInt64,
    forwarding_delay_min_ms Nullable(Float64),
    forwarding_delay_p50_ms Nullable(Float64),
    forwarding_delay_p95_ms Nullable(Float64),
    forwarding_delay_p99_ms Nullable(Float64),
    forwarding_delay_max_ms Nullable(Float64),
    jitter_added_ms Float64
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(interval_end)
ORDER BY (host, ingress_src_ip, ingress_src_port, ingress_ssrc, egress_ssrc, interval_end, record_id)
TTL interval_end + INTERVAL 90 DAY
