-- rtcprobe call records, schema version 3 (docs/records.md, "Call records"), for the
-- `clickhouse` sink: the sink inserts the records whose kind is `call` here, into the table
-- named after its records table (`rtcprobe_records` -> `rtcprobe_calls`).
--
-- As rtcprobe_records: ReplacingMergeTree with record_id last in the sorting key (at-least-once
-- delivery; query with FINAL), partitioned by day, times as DateTime (seconds, UTC); the TTL
-- line needs ClickHouse >= 19.6. Sorted by host, call kind and end: "the failed calls of the
-- last hour" and "every ICE session that never carried media today" read a narrow range. The
-- keys of the kinds a record is not are null.
CREATE TABLE IF NOT EXISTS rtcprobe_calls
(
    schema_version UInt32,
    record_id String,
    host String,
    kind String,
    call_kind String,
    call_id String,
    start DateTime('UTC'),
    end DateTime('UTC'),
    outcome String,
    ended_by Nullable(String),
    duration_secs Nullable(Float64),
    streams UInt64,
    worst_mos_lq Nullable(Float64),
    worst_loss_ratio Nullable(Float64),
    worst_jitter_ms Nullable(Float64),
    worst_finding Nullable(String),
    worst_finding_severity Nullable(String),
    sip_status Nullable(UInt16),
    setup_ringing_ms Nullable(Float64),
    setup_answer_ms Nullable(Float64),
    caller_uri Nullable(String),
    callee_uri Nullable(String),
    caller_ip Nullable(String),
    caller_port Nullable(UInt16),
    callee_ip Nullable(String),
    callee_port Nullable(UInt16),
    codecs Nullable(String),
    sip_invites Nullable(UInt32),
    sip_reinvites Nullable(UInt32),
    ice_mode Nullable(String),
    ice_checks Nullable(UInt64),
    ice_answers Nullable(UInt64),
    ice_pairs Nullable(UInt64),
    ice_selected_a Nullable(String),
    ice_selected_b Nullable(String),
    ice_rtt_ms Nullable(Float64),
    turn_client_ip Nullable(String),
    turn_client_port Nullable(UInt16),
    turn_server_ip Nullable(String),
    turn_server_port Nullable(UInt16),
    turn_relayed_ip Nullable(String),
    turn_relayed_port Nullable(UInt16),
    turn_transport Nullable(String),
    turn_lifetime_secs Nullable(UInt32),
    turn_permissions Nullable(UInt64),
    turn_channels Nullable(UInt64),
    turn_client_packets Nullable(UInt64),
    turn_relayed_packets Nullable(UInt64),
    turn_errors Nullable(String)
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(end)
ORDER BY (host, call_kind, end, record_id)
TTL end + INTERVAL 90 DAY
