-- rtcprobe stream records, schema version 2 (docs/records.md: the keys of version 1), for the
-- `clickhouse` sink; hop records go to rtcprobe_hops.sql.
--
-- ReplacingMergeTree with record_id last in the sorting key: at-least-once delivery may insert
-- a record twice, and merges keep one (query with FINAL, or uniqExact(record_id), for exact
-- results before a merge). Sorted by host, stream and time: the drill-down of one call's streams
-- and "worst streams of the last hour" both read a narrow range. Partitioned by day, so that old
-- data can be dropped by partition. Times are DateTime (seconds, UTC): DateTime64 needs
-- ClickHouse >= 20.1. The TTL line needs ClickHouse >= 19.6: on older servers delete it and drop
-- old days with `ALTER TABLE rtcprobe_records DROP PARTITION 'YYYYMMDD'`.
CREATE TABLE IF NOT EXISTS rtcprobe_records
(
    schema_version UInt32,
    record_id String,
    host String,
    kind String,
    ended_by Nullable(String),
    interval_start DateTime('UTC'),
    interval_end DateTime('UTC'),
    first_seen DateTime('UTC'),
    last_seen DateTime('UTC'),
    src_ip String,
    src_port UInt16,
    dst_ip String,
    dst_port UInt16,
    protocol String,
    ssrc UInt32,
    cname Nullable(String),
    payload_type Nullable(UInt8),
    clock_rate Nullable(UInt32),
    packets UInt64,
    bytes UInt64,
    expected UInt64,
    lost Int64,
    duplicates UInt64,
    reordered UInt64,
    interval_packets UInt64,
    interval_bytes UInt64,
    interval_expected UInt64,
    interval_lost Int64,
    loss_upstream Nullable(Int64),
    loss_downstream Nullable(Int64),
    remote_fraction_lost Nullable(Float64),
    remote_jitter_ms Nullable(Float64),
    jitter_ms Nullable(Float64),
    max_jitter_ms Nullable(Float64),
    rtt_capture_point_ms Nullable(Float64),
    rtt_end_to_end_ms Nullable(Float64),
    rtt_sr_chain_ms Nullable(Float64),
    rtt_stun_ms Nullable(Float64),
    probe_drop UInt8,
    probe_dropped UInt64,
    r_factor Nullable(Float64),
    mos Nullable(Float64),
    observed_at Nullable(String),
    burst_r Nullable(Float64),
    effective_loss_ratio Nullable(Float64),
    burst_density Nullable(Float64),
    gap_density Nullable(Float64),
    burst_duration_ms Nullable(Float64),
    gap_duration_ms Nullable(Float64),
    jitter_buffer_fixed_late Nullable(UInt64),
    jitter_buffer_adaptive_late Nullable(UInt64),
    jitter_buffer_delay_ms Nullable(Float64),
    ptime_ms Nullable(Float64),
    video_frames Nullable(UInt64),
    video_frame_rate Nullable(Float64),
    video_frame_interval_p95_ms Nullable(UInt64),
    video_freeze_count Nullable(UInt64),
    video_freeze_duration_ms Nullable(UInt64),
    video_pauses Nullable(UInt64),
    video_pause_duration_ms Nullable(UInt64),
    video_keyframes Nullable(UInt64),
    video_width Nullable(UInt16),
    video_height Nullable(UInt16),
    video_bitrate_bps Nullable(Float64),
    video_keyframe_requests Nullable(UInt64)
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(interval_end)
ORDER BY (host, src_ip, src_port, dst_ip, dst_port, ssrc, interval_end, record_id)
TTL interval_end + INTERVAL 90 DAY
