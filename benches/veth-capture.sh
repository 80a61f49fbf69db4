#!/usr/bin/env bash
# The highest packet rate `rtcprobe run` captures on a veth pair with zero drops, side by side
# with `tcpdump -w /dev/null` on the same run.
#
# Usage (root; iproute2, tcpreplay, tcpdump, python3):
#   benches/veth-capture.sh [RATE_PPS|top …]   default: 25000 50000 100000 200000 300000 400000
#                                               600000 top
#
# What it does: builds rtcprobe and a synthetic capture (`examples/synth`, scenario clean-many:
# STREAMS RTP streams with RTCP, PACKETS packets, Ethernet) once; creates two network namespaces
# joined by a veth pair (IPv6 off, no addresses: only the replayed frames are on the wire); then
# for each kernel buffer in BUFFERS_MIB and each rate starts, in namespace b on its veth end,
# `rtcprobe run` (the default configuration but for the interface, buffer_size_mib and no records) and
# `tcpdump -i veth1 -p -B <same buffer in KiB> -w /dev/null udp`, waits for rtcprobe's sd_notify
# READY=1 and tcpdump's "listening on", sends SECS seconds' worth of packets from namespace a
# with `tcpreplay --preload-pcap --pps RATE --limit RATE*SECS --loop …` (`top`: `--topspeed
# --limit TOP_PACKETS`; the file is read into memory first, which lets one core send ~30 % more),
# waits 1 s, stops both (SIGTERM, SIGINT) and reads their drop counters.
#
# What it prints: one row per (buffer, rate): the rate asked for, the rate tcpreplay achieved,
# packets sent, then for rtcprobe the frames it counted and its kernel_dropped, if_dropped and
# pipeline_dropped (from --summary), and for tcpdump "packets received by filter" and "dropped by
# kernel"; then per buffer the highest achieved rate with zero drops for each tool (no drop
# counter moved and every packet sent was seen), the lowest achieved rate with a drop, and the
# highest rate tcpreplay reached (with --topspeed as well: above it the sender is the limit).
# Raw rows also go to $OUT/results.tsv. Takes about 3 minutes with the defaults.
#
# Environment: RTCPROBE (a prebuilt rtcprobe; default: cargo build --release), STREAMS (1000), PACKETS (200000), SECS (3), TOP_PACKETS (1000000),
# BUFFERS_MIB ("64 2"), OUT (target/veth-capture), SCRAPE (0; 1 = rtcprobe serves /metrics with
# per-stream series on, and a scraper in namespace b fetches it every second while tcpreplay
# sends: the drop columns then show whether scraping costs capture anything), SINKS (0; 1 =
# records every second to a file sink and to a ClickHouse sink whose store is down; the row
# then also counts the records the file sink wrote). Every wait is bounded; the namespaces and every
# process started here are removed on exit, also on error or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "veth-capture: needs root (namespaces, AF_PACKET)" >&2; exit 1; }
for t in ip tcpreplay tcpdump python3 timeout; do
  command -v "$t" >/dev/null || { echo "veth-capture: $t not found (scripts/setup-test)" >&2; exit 1; }
done

STREAMS=${STREAMS:-1000}
PACKETS=${PACKETS:-200000}
SECS=${SECS:-3}
TOP_PACKETS=${TOP_PACKETS:-1000000}
BUFFERS_MIB=${BUFFERS_MIB:-"64 2"}
OUT=${OUT:-target/veth-capture}
RATES=("$@")
[ ${#RATES[@]} -gt 0 ] || RATES=(25000 50000 100000 200000 300000 400000 600000 top)

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
NS_A="rp-bench-$$-a"
NS_B="rp-bench-$$-b"
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for ns in "$NS_A" "$NS_B"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building rtcprobe and the synthetic capture" >&2
if [ -n "${RTCPROBE:-}" ]; then
  timeout 1800 cargo build --release -q --example synth
  BIN=$(realpath "$RTCPROBE")
else
  timeout 1800 cargo build --release -q --bin rtcprobe --example synth
  BIN=$PWD/target/release/rtcprobe
fi
CAP="$OUT/synth-${STREAMS}x${PACKETS}.pcap"
[ -s "$CAP" ] || timeout 600 target/release/examples/synth --scenario clean-many \
  --streams "$STREAMS" --packets "$PACKETS" --out "$CAP" >/dev/null

ip netns add "$NS_A"
ip netns add "$NS_B"
ip -n "$NS_A" link add veth0 mtu 9000 type veth peer name veth1 netns "$NS_B" mtu 9000
ip netns exec "$NS_A" sysctl -qw net.ipv6.conf.veth0.disable_ipv6=1
ip netns exec "$NS_B" sysctl -qw net.ipv6.conf.veth1.disable_ipv6=1
ip -n "$NS_A" link set veth0 up
ip -n "$NS_B" link set veth1 up
ip -n "$NS_B" link set lo up
SCRAPE=${SCRAPE:-0}
SINKS=${SINKS:-0}

# Wait (at most $2 s) until the file $1 contains the text $3.
wait_for() {
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    grep -q -- "$3" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "veth-capture: no '$3' in $1 within $2 s:" >&2
  cat "$1" >&2
  return 1
}

# Wait (at most $2 s) for process $1 to exit.
wait_exit() {
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null || true; return 0; }
    sleep 0.05
  done
  echo "veth-capture: pid $1 did not exit within $2 s; killed" >&2
  kill -KILL "$1" 2>/dev/null || true
  return 1
}

# One step: buffer $1 MiB, rate $2 (pps or "top"). Appends a row to results.tsv.
step() {
  local mib=$1 rate=$2 dir="$OUT/step"
  rm -rf "$dir"; mkdir -p "$dir"
  # No records unless SINKS=1 (sinks = [] turns off the default records file).
  if [ "$SINKS" = 1 ]; then : >"$dir/probe.toml"; else printf 'sinks = []\n' >"$dir/probe.toml"; fi
  printf '[capture]\ninterfaces = ["veth1"]\nbuffer_size_mib = %s\n' "$mib" >>"$dir/probe.toml"
  if [ "$SCRAPE" = 1 ]; then
    printf '[exporter]\nlisten = "127.0.0.1:10533"\nper_stream_series = true\n' >>"$dir/probe.toml"
  else
    printf '[exporter]\nlisten = ""\n' >>"$dir/probe.toml"
  fi
  if [ "$SINKS" = 1 ]; then
    # Records every second for every stream, to a file sink and to a ClickHouse sink whose
    # store is down (nothing listens on port 9 in namespace b): does a dead store cost capture?
    printf '[records]\ninterval_secs = 1\nstate_dir = "%s/state"\n' "$dir" >>"$dir/probe.toml"
    printf '[[sinks]]\ntype = "file"\npath = "%s/records.ndjson"\n' "$dir" >>"$dir/probe.toml"
    printf '[[sinks]]\ntype = "clickhouse"\nname = "down"\nurl = "http://127.0.0.1:9"\n' \
      >>"$dir/probe.toml"
  fi

  # sd_notify listener: prints READY=1 to ready.txt when the daemon sends it.
  python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(60)
while True:
    m = s.recv(4096).decode(errors="replace")
    if "READY=1" in m.split("\n"):
        print("READY=1", flush=True); break
' "$dir/notify.sock" >"$dir/ready.txt" 2>&1 &
  PIDS+=($!)
  local i
  for ((i = 0; i < 100; i++)); do [ -S "$dir/notify.sock" ] && break; sleep 0.05; done

  NOTIFY_SOCKET="$dir/notify.sock" ip netns exec "$NS_B" "$BIN" run --config "$dir/probe.toml" \
    --records /dev/null --summary "$dir/summary.json" >"$dir/probe.out" 2>"$dir/probe.err" &
  local probe=$!
  PIDS+=($probe)
  ip netns exec "$NS_B" tcpdump -i veth1 -n -p -B $((mib * 1024)) -w /dev/null udp \
    >"$dir/tcpdump.out" 2>"$dir/tcpdump.err" &
  local dump=$!
  PIDS+=($dump)
  wait_for "$dir/ready.txt" 20 "READY=1" || { cat "$dir/probe.err" >&2; return 1; }
  wait_for "$dir/tcpdump.err" 20 "listening on"

  local args
  if [ "$rate" = top ]; then
    args=(--topspeed --limit="$TOP_PACKETS" --loop=$(((TOP_PACKETS + PACKETS - 1) / PACKETS)))
  else
    local n=$((rate * SECS))
    args=(--pps="$rate" --limit="$n" --loop=$(((n + PACKETS - 1) / PACKETS)))
  fi
  local scraper=""
  if [ "$SCRAPE" = 1 ]; then
    ip netns exec "$NS_B" python3 -c '
import time, urllib.request
n = 0
while True:
    t = time.monotonic()
    try:
        n += len(urllib.request.urlopen("http://127.0.0.1:10533/metrics", timeout=5).read()) > 0
    except Exception as e:
        print("scrape failed:", e, flush=True)
    print("scrapes", n, flush=True)
    time.sleep(max(0.0, 1.0 - (time.monotonic() - t)))
' >"$dir/scrape.out" 2>&1 &
    scraper=$!
    PIDS+=($scraper)
  fi
  timeout $((SECS * 10 + 60)) ip netns exec "$NS_A" tcpreplay -i veth0 --preload-pcap "${args[@]}" "$CAP" \
    >"$dir/tcpreplay.out" 2>&1 || { cat "$dir/tcpreplay.out" >&2; return 1; }
  sleep 1
  if [ -n "$scraper" ]; then
    kill -TERM "$scraper" 2>/dev/null || true
    echo "scrapes: $(tail -1 "$dir/scrape.out"), failures: $(grep -c 'scrape failed' "$dir/scrape.out" || true)" >&2
  fi
  kill -TERM "$probe"; kill -INT "$dump"
  wait_exit "$probe" 20; wait_exit "$dump" 20
  if [ "$SINKS" = 1 ]; then
    echo "sinks: $(wc -l <"$dir/records.ndjson" 2>/dev/null || echo 0) records in the file sink," \
      "$(du -sb "$dir/state/down" 2>/dev/null | cut -f1 || echo 0) bytes left in the down sink's buffer" >&2
  fi

  local sent pps
  sent=$(awk '/^Actual:/ {print $2; exit}' "$dir/tcpreplay.out")
  pps=$(awk '/^Rated:/ {for (i = 1; i <= NF; i++) if ($(i+1) ~ /^pps/) print int($i); exit}' \
    "$dir/tcpreplay.out")
  local probe_counts
  probe_counts=$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(*(s.get(k, "?") for k in ("frames", "kernel_dropped", "if_dropped", "pipeline_dropped")))
' "$dir/summary.json" 2>/dev/null || echo "? ? ? ?")
  local td_recv td_drop
  td_recv=$(awk '/packets received by filter/ {print $1}' "$dir/tcpdump.err")
  td_drop=$(awk '/packets dropped by kernel/ {print $1}' "$dir/tcpdump.err")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mib" "$rate" "${pps:-?}" "${sent:-?}" \
    "$(tr ' ' '\t' <<<"$probe_counts")" "${td_recv:-?}" "${td_drop:-?}" >>"$OUT/results.tsv"
}

printf 'buffer_mib\trate\tachieved_pps\tsent\tprobe_frames\tprobe_kernel_dropped\tprobe_if_dropped\tprobe_pipeline_dropped\ttcpdump_received\ttcpdump_dropped\n' \
  >"$OUT/results.tsv"
for mib in $BUFFERS_MIB; do
  for rate in "${RATES[@]}"; do
    echo "== buffer ${mib} MiB, rate ${rate}" >&2
    step "$mib" "$rate"
  done
done

echo "# $(date -u +%FT%TZ), $(nproc) cores, Linux $(uname -r), $(tcpreplay --version 2>&1 | head -1)"
echo "# ${STREAMS} streams, ${PACKETS}-packet capture looped; ${SECS} s per rate; top = --topspeed, ${TOP_PACKETS} packets"
column -t -s $'\t' "$OUT/results.tsv"
echo
awk -F'\t' 'NR > 1 {
  # Zero drops: no counter moved and every packet sent was seen.
  probe_ok = ($6 == 0 && $7 == 0 && $8 == 0 && $5 == $4); dump_ok = ($10 == 0 && $9 == $4)
  if (probe_ok && $3 > probe[$1]) probe[$1] = $3
  if (dump_ok && $3 > dump[$1]) dump[$1] = $3
  if (!probe_ok && (!($1 in probe_drop) || $3 < probe_drop[$1])) probe_drop[$1] = $3
  if (!dump_ok && (!($1 in dump_drop) || $3 < dump_drop[$1])) dump_drop[$1] = $3
  if ($3 > top[$1]) top[$1] = $3
  seen[$1] = 1
} END {
  for (b in seen) {
    printf "buffer %s MiB (sender peaked at %d pps): highest rate with zero drops: rtcprobe %d pps, tcpdump %d pps; lowest rate with a drop: rtcprobe %s, tcpdump %s\n", \
      b, top[b], probe[b], dump[b], \
      (b in probe_drop) ? probe_drop[b] " pps" : "none", (b in dump_drop) ? dump_drop[b] " pps" : "none"
  }
}' "$OUT/results.tsv"
