-- hep3.lua: a Wireshark / tshark dissector for HEP version 3 (EEP), the encapsulation Homer
-- capture agents (and rtcprobe's `hep` sink) send to a collector.
--
-- Written for rtcprobe from the "HEP3 Network Protocol Specification"
-- (https://github.com/sipcapture/HEP). Wireshark 4.0, as packaged by Debian 12, has no HEP
-- dissector; this one decodes the header and every generic chunk (vendor 0), names the
-- chunks and protocol types of the specification, and hands the payload to Wireshark's own
-- dissectors: RTCP for protocol type 5, JSON for the JSON types (0x22 quality reports and
-- the other "... JSON" types), SIP for type 1. Other payloads are shown as bytes.
--
--   0       4       6                         header: "HEP3", total length (header included)
--   +-------+-------+-----------------------
--   |"HEP3" | len   | chunk | chunk | ...     chunk: vendor (2), type (2), length (2, the
--   +-------+-------+-----------------------         6-byte chunk header included), value
--
-- Use:
--   tshark -X lua_script:tools/wireshark/hep3.lua -r capture.pcap
--       packets to UDP or TCP port 9060 (preference hep3.udp_port / hep3.tcp_port), and any
--       UDP payload starting with "HEP3" (heuristic), are dissected
--   tshark -X lua_script:tools/wireshark/hep3.lua -d udp.port==9061,hep3 -r capture.pcap
--   tshark -X lua_script:tools/wireshark/hep3.lua -o hep3.udp_port:9061 -r capture.pcap
-- or copy the file into ~/.local/lib/wireshark/plugins/ for Wireshark itself.
-- Over TCP, packets are reassembled by their HEP3 length (dissect_tcp_pdus).

local hep3 = Proto("hep3", "HEP3 (Homer Encapsulation Protocol version 3)")

local chunk_names = {
    [0x0001] = "IP protocol family",
    [0x0002] = "IP protocol ID",
    [0x0003] = "IPv4 source address",
    [0x0004] = "IPv4 destination address",
    [0x0005] = "IPv6 source address",
    [0x0006] = "IPv6 destination address",
    [0x0007] = "Source port",
    [0x0008] = "Destination port",
    [0x0009] = "Timestamp (seconds)",
    [0x000a] = "Timestamp (microseconds)",
    [0x000b] = "Protocol type",
    [0x000c] = "Capture agent ID",
    [0x000d] = "Keep-alive timer",
    [0x000e] = "Authentication key",
    [0x000f] = "Payload",
    [0x0010] = "Compressed payload",
    [0x0011] = "Correlation ID",
    [0x0012] = "VLAN ID",
    [0x0013] = "Group ID",
    [0x0014] = "Source MAC",
    [0x0015] = "Destination MAC",
    [0x0016] = "Ethernet type",
    [0x0017] = "TCP flags",
    [0x0018] = "IP TOS",
    [0x0020] = "MOS",
    [0x0021] = "R-factor",
    [0x0022] = "GEO location",
    [0x0023] = "Jitter",
    [0x0024] = "Transaction type",
    [0x0025] = "Payload JSON keys",
    [0x0026] = "Tag values",
    [0x0027] = "Tag type",
}

local families = { [2] = "IPv4", [10] = "IPv6" }

local proto_types = {
    [0x01] = "SIP",
    [0x02] = "XMPP",
    [0x03] = "SDP",
    [0x04] = "RTP",
    [0x05] = "RTCP",
    [0x06] = "MGCP",
    [0x07] = "MEGACO (H.248)",
    [0x08] = "M2UA",
    [0x09] = "M3UA",
    [0x0a] = "IAX",
    [0x0b] = "H.322",
    [0x0c] = "H.321",
    [0x0d] = "M2PA",
    [0x22] = "MOS full report (JSON)",
    [0x23] = "MOS short report",
    [0x32] = "SIP JSON",
    [0x35] = "DNS JSON",
    [0x36] = "M3UA ISUP JSON",
    [0x37] = "RTSP",
    [0x38] = "Diameter",
    [0x39] = "GSM MAP",
    [0x64] = "Log",
}

local f = hep3.fields
f.magic = ProtoField.string("hep3.magic", "Magic")
f.length = ProtoField.uint16("hep3.length", "Total length")
f.chunk = ProtoField.bytes("hep3.chunk", "Chunk")
f.chunk_vendor = ProtoField.uint16("hep3.chunk.vendor", "Vendor ID", base.HEX)
f.chunk_type = ProtoField.uint16("hep3.chunk.type", "Type", base.HEX, chunk_names)
f.chunk_length = ProtoField.uint16("hep3.chunk.length", "Length")
f.chunk_value = ProtoField.bytes("hep3.chunk.value", "Value")
f.ip_family = ProtoField.uint8("hep3.ip_family", "IP family", base.DEC, families)
f.ip_proto = ProtoField.uint8("hep3.ip_proto", "IP protocol", base.DEC)
f.src_ip = ProtoField.ipv4("hep3.src_ip", "Source IPv4 address")
f.dst_ip = ProtoField.ipv4("hep3.dst_ip", "Destination IPv4 address")
f.src_ip6 = ProtoField.ipv6("hep3.src_ip6", "Source IPv6 address")
f.dst_ip6 = ProtoField.ipv6("hep3.dst_ip6", "Destination IPv6 address")
f.src_port = ProtoField.uint16("hep3.src_port", "Source port")
f.dst_port = ProtoField.uint16("hep3.dst_port", "Destination port")
f.ts_sec = ProtoField.uint32("hep3.ts_sec", "Timestamp seconds")
f.ts_usec = ProtoField.uint32("hep3.ts_usec", "Timestamp microseconds")
f.src = ProtoField.string("hep3.src", "Source (address:port)")
f.dst = ProtoField.string("hep3.dst", "Destination (address:port)")
f.time = ProtoField.absolute_time("hep3.time", "Capture time", base.UTC)
f.proto_type = ProtoField.uint8("hep3.proto_type", "Protocol type", base.HEX, proto_types)
f.agent_id = ProtoField.uint32("hep3.agent_id", "Capture agent ID")
f.keepalive = ProtoField.uint16("hep3.keepalive", "Keep-alive timer")
f.auth_key = ProtoField.string("hep3.auth_key", "Authentication key")
f.payload = ProtoField.bytes("hep3.payload", "Payload")
f.compressed = ProtoField.bytes("hep3.compressed_payload", "Compressed payload")
f.correlation_id = ProtoField.string("hep3.correlation_id", "Correlation ID")
f.vlan = ProtoField.uint16("hep3.vlan", "VLAN ID")
f.group_id = ProtoField.string("hep3.group_id", "Group ID")
f.mos = ProtoField.uint16("hep3.mos", "MOS (x100)")
f.r_factor = ProtoField.uint16("hep3.r_factor", "R-factor (x100)")
f.jitter = ProtoField.uint32("hep3.jitter", "Jitter")

-- Generic chunks whose value has a field of its own, with the value length it needs (0: any).
local typed = {
    [0x0001] = { f.ip_family, 1 },
    [0x0002] = { f.ip_proto, 1 },
    [0x0003] = { f.src_ip, 4 },
    [0x0004] = { f.dst_ip, 4 },
    [0x0005] = { f.src_ip6, 16 },
    [0x0006] = { f.dst_ip6, 16 },
    [0x0007] = { f.src_port, 2 },
    [0x0008] = { f.dst_port, 2 },
    [0x0009] = { f.ts_sec, 4 },
    [0x000a] = { f.ts_usec, 4 },
    [0x000b] = { f.proto_type, 1 },
    [0x000c] = { f.agent_id, 4 },
    [0x000d] = { f.keepalive, 2 },
    [0x000e] = { f.auth_key, 0 },
    [0x000f] = { f.payload, 0 },
    [0x0010] = { f.compressed, 0 },
    [0x0011] = { f.correlation_id, 0 },
    [0x0012] = { f.vlan, 2 },
    [0x0013] = { f.group_id, 0 },
    [0x0020] = { f.mos, 2 },
    [0x0021] = { f.r_factor, 2 },
    [0x0023] = { f.jitter, 4 },
}

local e_short = ProtoExpert.new("hep3.short", "HEP3 packet or chunk cut short",
    expert.group.MALFORMED, expert.severity.ERROR)
local e_chunk = ProtoExpert.new("hep3.bad_chunk", "HEP3 chunk of an unexpected length",
    expert.group.MALFORMED, expert.severity.WARN)
hep3.experts = { e_short, e_chunk }

hep3.prefs.udp_port = Pref.uint("UDP port", 9060, "UDP port of HEP3 (0: none)")
hep3.prefs.tcp_port = Pref.uint("TCP port", 9060, "TCP port of HEP3 (0: none)")
hep3.prefs.heuristic = Pref.bool("Heuristic on UDP", true,
    "Dissect any UDP payload that starts with \"HEP3\"")

local payload_dissectors = {
    [0x01] = "sip",
    [0x05] = "rtcp",
    [0x22] = "json",
    [0x32] = "json",
    [0x35] = "json",
    [0x36] = "json",
}

-- Dissect one whole HEP3 packet in tvb (its total length is tvb:len()).
local function dissect_packet(tvb, pinfo, tree)
    pinfo.cols.protocol = "HEP3"
    local len = tvb:len()
    local t = tree:add(hep3, tvb(0, len))
    t:add(f.magic, tvb(0, 4))
    t:add(f.length, tvb(4, 2))
    local total = tvb(4, 2):uint()
    if total > len or total < 6 then
        t:add_proto_expert_info(e_short)
        total = len
    end
    local v = {}
    local at = 6
    while at < total do
        if at + 6 > total then
            t:add_proto_expert_info(e_short)
            break
        end
        local vendor = tvb(at, 2):uint()
        local kind = tvb(at + 2, 2):uint()
        local clen = tvb(at + 4, 2):uint()
        if clen < 6 or at + clen > total then
            t:add_proto_expert_info(e_short)
            break
        end
        local c = t:add(f.chunk, tvb(at, clen))
        c:set_text(string.format("%s (0x%04x), %d bytes",
            (vendor == 0 and chunk_names[kind]) or "Chunk", kind, clen - 6))
        c:add(f.chunk_vendor, tvb(at, 2))
        c:add(f.chunk_type, tvb(at + 2, 2))
        c:add(f.chunk_length, tvb(at + 4, 2))
        local value = clen > 6 and tvb(at + 6, clen - 6) or nil
        local spec = vendor == 0 and typed[kind] or nil
        if value == nil then
            -- an empty value: nothing to show
        elseif spec and (spec[2] == 0 or spec[2] == clen - 6) then
            c:add(spec[1], value)
            v[kind] = value
        else
            if spec then
                c:add_proto_expert_info(e_chunk)
            end
            c:add(f.chunk_value, value)
        end
        at = at + clen
    end
    -- "address:port" ("[address]:port" for IPv6), generated: one field whatever the family.
    local function endpoint(ip4, ip6, port)
        local ip = (ip4 and tostring(ip4:ipv4())) or (ip6 and "[" .. tostring(ip6:ipv6()) .. "]")
        if ip and port then
            return ip .. ":" .. port:uint()
        end
    end
    local src = endpoint(v[0x0003], v[0x0005], v[0x0007])
    local dst = endpoint(v[0x0004], v[0x0006], v[0x0008])
    if src then t:add(f.src, src):set_generated() end
    if dst then t:add(f.dst, dst):set_generated() end
    if v[0x0009] then
        local usec = v[0x000a] and v[0x000a]:uint() or 0
        t:add(f.time, v[0x0009], NSTime.new(v[0x0009]:uint(), usec * 1000)):set_generated()
    end
    local ptype = v[0x000b] and v[0x000b]:uint() or nil
    local summary = string.format("HEP3 %s", ptype and (proto_types[ptype] or
        string.format("type 0x%02x", ptype)) or "")
    t:append_text(", " .. summary)
    pinfo.cols.info = summary
    local payload = v[0x000f]
    if payload and ptype and payload_dissectors[ptype] then
        local d = Dissector.get(payload_dissectors[ptype])
        if d then
            d:call(payload:tvb(), pinfo, tree)
        end
    end
    return total
end

local function is_hep3(tvb)
    return tvb:len() >= 6 and tvb(0, 4):string() == "HEP3"
end

-- pinfo.port_type of TCP (enum port_type in epan/address.h: NONE, SCTP, TCP, UDP, ...).
local PT_TCP = 2

local function pdu_length(tvb, pinfo, offset)
    -- A length below the header's own 6 bytes is bogus: take 6 so the stream moves on (the
    -- packet is then flagged as cut short).
    return math.max(tvb(offset + 4, 2):uint(), 6)
end

function hep3.dissector(tvb, pinfo, tree)
    if pinfo.port_type == PT_TCP then
        -- Over TCP a HEP3 packet may span segments, or several share one: its header says
        -- how long it is.
        dissect_tcp_pdus(tvb, tree, 6, pdu_length, dissect_packet, true)
        return tvb:len()
    end
    if not is_hep3(tvb) then
        return 0
    end
    return dissect_packet(tvb, pinfo, tree)
end

local function heuristic(tvb, pinfo, tree)
    if not hep3.prefs.heuristic or not is_hep3(tvb) then
        return false
    end
    dissect_packet(tvb, pinfo, tree)
    return true
end
hep3:register_heuristic("udp", heuristic)

local udp_table = DissectorTable.get("udp.port")
local tcp_table = DissectorTable.get("tcp.port")
udp_table:add_for_decode_as(hep3)
tcp_table:add_for_decode_as(hep3)
local ports = { udp = 0, tcp = 0 }

local function apply_ports()
    if ports.udp ~= 0 then udp_table:remove(ports.udp, hep3) end
    if ports.tcp ~= 0 then tcp_table:remove(ports.tcp, hep3) end
    ports.udp, ports.tcp = hep3.prefs.udp_port, hep3.prefs.tcp_port
    if ports.udp ~= 0 then udp_table:add(ports.udp, hep3) end
    if ports.tcp ~= 0 then tcp_table:add(ports.tcp, hep3) end
end
hep3.prefs_changed = apply_ports
apply_ports()
