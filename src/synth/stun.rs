//! STUN (RFC 8489) and TURN (RFC 8656) builders: ICE connectivity checks and the two ways a
//! TURN relay wraps media (ChannelData, Send/Data indications).
//!
//! ```text
//! STUN: |0 0| message type (14) | message length | magic cookie 0x2112A442 | transaction ID (96) |
//!       then TLV attributes, each value padded to 4 bytes (RFC 8489 §14)
//! ChannelData (RFC 8656 §12.4): | channel number 0x4000-0x4FFF | length | data, padded to 4 |
//! ```
//!
//! MESSAGE-INTEGRITY is a dummy (no key exists); FINGERPRINT is a real CRC-32 XOR 0x5354554E
//! (RFC 8489 §14.7) because it is cheap and lets tools validate it.

use std::net::{IpAddr, SocketAddr};

/// RFC 8489 §5 magic cookie.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;

/// Binding request (method 0x001, class request).
pub const BINDING_REQUEST: u16 = 0x0001;
/// Binding success response.
pub const BINDING_SUCCESS: u16 = 0x0101;
/// Send indication (method 0x006, class indication), client → server.
pub const SEND_INDICATION: u16 = 0x0016;
/// Data indication (method 0x007, class indication), server → client.
pub const DATA_INDICATION: u16 = 0x0017;

const ATTR_USERNAME: u16 = 0x0006;
const ATTR_MESSAGE_INTEGRITY: u16 = 0x0008;
const ATTR_XOR_PEER_ADDRESS: u16 = 0x0012;
const ATTR_DATA: u16 = 0x0013;
const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
const ATTR_PRIORITY: u16 = 0x0024;
const ATTR_FINGERPRINT: u16 = 0x8028;
const ATTR_ICE_CONTROLLING: u16 = 0x802A;
const ATTR_ICE_CONTROLLED: u16 = 0x8029;
const ATTR_USE_CANDIDATE: u16 = 0x0025;
const ATTR_ERROR_CODE: u16 = 0x0009;
const ATTR_CHANNEL_NUMBER: u16 = 0x000C;
const ATTR_LIFETIME: u16 = 0x000D;
const ATTR_REALM: u16 = 0x0014;
const ATTR_XOR_RELAYED_ADDRESS: u16 = 0x0016;
const ATTR_REQUESTED_TRANSPORT: u16 = 0x0019;

/// TURN methods (RFC 8656 §17).
pub const ALLOCATE: u16 = 0x003;
pub const REFRESH: u16 = 0x004;
pub const CREATE_PERMISSION: u16 = 0x008;
pub const CHANNEL_BIND: u16 = 0x009;

/// The message type of `method` in class `class` (0 request, 1 indication, 2 success,
/// 3 error): the class bits C0 (0x010) and C1 (0x100) interleaved (RFC 8489 §5).
pub fn message_type(method: u16, class: u16) -> u16 {
    (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((class & 1) << 4)
        | ((class & 2) << 7)
}

/// A STUN message under construction; `finish` patches the length.
struct Msg(Vec<u8>);

impl Msg {
    fn new(msg_type: u16, txid: &[u8; 12]) -> Self {
        let mut b = Vec::with_capacity(128);
        b.extend_from_slice(&msg_type.to_be_bytes());
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        b.extend_from_slice(txid);
        Msg(b)
    }

    fn attr(&mut self, t: u16, v: &[u8]) {
        self.0.extend_from_slice(&t.to_be_bytes());
        self.0.extend_from_slice(&(v.len() as u16).to_be_bytes());
        self.0.extend_from_slice(v);
        while self.0.len() % 4 != 0 {
            self.0.push(0);
        }
        self.set_len();
    }

    fn set_len(&mut self) {
        let l = (self.0.len() - 20) as u16;
        self.0[2..4].copy_from_slice(&l.to_be_bytes());
    }

    /// XOR-MAPPED-ADDRESS / XOR-PEER-ADDRESS value (RFC 8489 §14.2).
    fn xor_addr(&mut self, t: u16, a: SocketAddr) {
        let mut v = vec![0, 0];
        v.extend_from_slice(&(a.port() ^ (MAGIC_COOKIE >> 16) as u16).to_be_bytes());
        match a.ip() {
            IpAddr::V4(ip) => {
                v[1] = 1;
                v.extend_from_slice(&(u32::from(ip) ^ MAGIC_COOKIE).to_be_bytes());
            }
            IpAddr::V6(ip) => {
                v[1] = 2;
                let mut key = [0u8; 16];
                key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
                key[4..].copy_from_slice(&self.0[8..20]);
                v.extend(ip.octets().iter().zip(key).map(|(a, k)| a ^ k));
            }
        }
        self.attr(t, &v);
    }

    /// Dummy MESSAGE-INTEGRITY then a real FINGERPRINT, the order RFC 8489 §14.5/§14.7 require.
    fn seal(mut self) -> Vec<u8> {
        self.attr(ATTR_MESSAGE_INTEGRITY, &[0x5a; 20]);
        // FINGERPRINT covers the message with the length already including itself.
        self.0.extend_from_slice(&ATTR_FINGERPRINT.to_be_bytes());
        self.0.extend_from_slice(&4u16.to_be_bytes());
        let at = self.0.len();
        self.0.extend_from_slice(&[0; 4]);
        self.set_len();
        let fp = crc32(&self.0[..at - 4]) ^ 0x5354_554E;
        self.0[at..at + 4].copy_from_slice(&fp.to_be_bytes());
        self.0
    }
}

/// CRC-32 (ISO-HDLC, as in Ethernet/zlib), bitwise: small and plenty fast for STUN.
fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// ICE Binding request (RFC 8445 §7.1.1): USERNAME, PRIORITY, ICE-CONTROLLING,
/// MESSAGE-INTEGRITY (dummy), FINGERPRINT.
pub fn binding_request(txid: &[u8; 12], username: &str, priority: u32, tiebreaker: u64) -> Vec<u8> {
    let mut m = Msg::new(BINDING_REQUEST, txid);
    m.attr(ATTR_USERNAME, username.as_bytes());
    m.attr(ATTR_PRIORITY, &priority.to_be_bytes());
    m.attr(ATTR_ICE_CONTROLLING, &tiebreaker.to_be_bytes());
    m.seal()
}

/// An ICE check (RFC 8445 §7.2.2) with the role and, when `nominate`, USE-CANDIDATE.
pub fn ice_check(txid: &[u8; 12], username: &str, controlling: bool, nominate: bool) -> Vec<u8> {
    let mut m = Msg::new(BINDING_REQUEST, txid);
    m.attr(ATTR_USERNAME, username.as_bytes());
    m.attr(ATTR_PRIORITY, &0x6e00_01ffu32.to_be_bytes());
    let role = if controlling {
        ATTR_ICE_CONTROLLING
    } else {
        ATTR_ICE_CONTROLLED
    };
    m.attr(role, &0x1234_5678_9abc_def0u64.to_be_bytes());
    if nominate {
        m.attr(ATTR_USE_CANDIDATE, &[]);
    }
    m.seal()
}

/// A TURN request of `method` (RFC 8656): Allocate (REQUESTED-TRANSPORT UDP, with USERNAME
/// and REALM when `user` is given, as the retry after the 401 challenge is), Refresh
/// (LIFETIME `lifetime`), CreatePermission (XOR-PEER-ADDRESS for each `peers`), ChannelBind
/// (CHANNEL-NUMBER `channel`, XOR-PEER-ADDRESS `peers[0]`).
pub fn turn_request(
    method: u16,
    txid: &[u8; 12],
    user: Option<(&str, &str)>,
    lifetime: Option<u32>,
    channel: Option<u16>,
    peers: &[SocketAddr],
) -> Vec<u8> {
    let mut m = Msg::new(message_type(method, 0), txid);
    if method == ALLOCATE {
        m.attr(ATTR_REQUESTED_TRANSPORT, &[17, 0, 0, 0]);
    }
    if let Some(c) = channel {
        m.attr(ATTR_CHANNEL_NUMBER, &[(c >> 8) as u8, c as u8, 0, 0]);
    }
    for &p in peers {
        m.xor_addr(ATTR_XOR_PEER_ADDRESS, p);
    }
    if let Some(l) = lifetime {
        m.attr(ATTR_LIFETIME, &l.to_be_bytes());
    }
    match user {
        Some((u, realm)) => {
            m.attr(ATTR_USERNAME, u.as_bytes());
            m.attr(ATTR_REALM, realm.as_bytes());
            m.seal()
        }
        None => m.0,
    }
}

/// A TURN success response of `method`: XOR-RELAYED-ADDRESS `relayed` and XOR-MAPPED-ADDRESS
/// `mapped` (Allocate), LIFETIME `lifetime` (Allocate, Refresh).
pub fn turn_success(
    method: u16,
    txid: &[u8; 12],
    relayed: Option<SocketAddr>,
    mapped: Option<SocketAddr>,
    lifetime: Option<u32>,
) -> Vec<u8> {
    let mut m = Msg::new(message_type(method, 2), txid);
    if let Some(r) = relayed {
        m.xor_addr(ATTR_XOR_RELAYED_ADDRESS, r);
    }
    if let Some(a) = mapped {
        m.xor_addr(ATTR_XOR_MAPPED_ADDRESS, a);
    }
    if let Some(l) = lifetime {
        m.attr(ATTR_LIFETIME, &l.to_be_bytes());
    }
    m.seal()
}

/// An error response of `method` with ERROR-CODE `code` (RFC 8489 §14.8).
pub fn error_response(method: u16, txid: &[u8; 12], code: u16) -> Vec<u8> {
    let mut m = Msg::new(message_type(method, 3), txid);
    let mut v = vec![0, 0, (code / 100) as u8, (code % 100) as u8];
    v.extend_from_slice(b"Error");
    m.attr(ATTR_ERROR_CODE, &v);
    m.0
}

/// Binding success response with XOR-MAPPED-ADDRESS = `mapped` (the requester's address).
pub fn binding_success(txid: &[u8; 12], mapped: SocketAddr) -> Vec<u8> {
    let mut m = Msg::new(BINDING_SUCCESS, txid);
    m.xor_addr(ATTR_XOR_MAPPED_ADDRESS, mapped);
    m.seal()
}

/// A Send (client → server) or Data (server → client) indication carrying `data` for `peer`
/// (RFC 8656 §10, §11): XOR-PEER-ADDRESS and DATA, no integrity (indications have none).
pub fn indication(msg_type: u16, txid: &[u8; 12], peer: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut m = Msg::new(msg_type, txid);
    m.xor_addr(ATTR_XOR_PEER_ADDRESS, peer);
    m.attr(ATTR_DATA, data);
    m.0
}

/// TURN ChannelData message (RFC 8656 §12.4), padded to a multiple of 4 as §12.5 asks over
/// UDP; the length field excludes the padding.
///
/// # Panics
/// If `channel` is outside 0x4000..=0x7FFF (RFC 5766's range, which coturn still uses).
pub fn channel_data(channel: u16, data: &[u8]) -> Vec<u8> {
    assert!(
        (0x4000..=0x7FFF).contains(&channel),
        "TURN channel out of range"
    );
    let mut out = Vec::with_capacity(data.len() + 7);
    out.extend_from_slice(&channel.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TX: [u8; 12] = [
        0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
    ];

    #[test]
    fn message_types_interleave_the_class_bits() {
        assert_eq!(message_type(0x001, 0), BINDING_REQUEST);
        assert_eq!(message_type(0x001, 2), BINDING_SUCCESS);
        assert_eq!(message_type(0x006, 1), SEND_INDICATION);
        assert_eq!(message_type(ALLOCATE, 3), 0x0113);
        assert_eq!(message_type(CHANNEL_BIND, 2), 0x0109);
        // A method with bits in every group: the decoder's inverse gives it back.
        let t = message_type(0xfff, 3);
        let b = t.to_be_bytes();
        let mut msg = vec![b[0], b[1], 0, 0, 0x21, 0x12, 0xa4, 0x42];
        msg.extend_from_slice(&TX);
        let m = crate::wire::stun::Message::new_checked(&msg).unwrap();
        assert_eq!(
            (m.method(), m.class()),
            (0xfff, crate::wire::stun::Class::ErrorResponse)
        );
    }

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn request_layout() {
        let r = binding_request(&TX, "evtj:h6vY", 0x6e00_01ff, 0x932f_f9b1_5126_3b36);
        assert_eq!(&r[0..2], &[0, 1]);
        assert_eq!(u16::from_be_bytes([r[2], r[3]]) as usize, r.len() - 20);
        assert_eq!(&r[4..8], &MAGIC_COOKIE.to_be_bytes());
        assert_eq!(&r[8..20], &TX);
        assert_eq!(&r[20..24], &[0, 6, 0, 9]);
        // USERNAME padded to 12 then PRIORITY.
        assert_eq!(&r[36..40], &[0, 0x24, 0, 4]);
        assert_eq!(&r[r.len() - 8..r.len() - 4], &[0x80, 0x28, 0, 4]);
    }

    #[test]
    fn xor_mapped_address_rfc5769_vector() {
        // RFC 5769 §2.2: 192.0.2.1:32853 → port 0xa147, address 0xe112a643.
        let r = binding_success(&TX, "192.0.2.1:32853".parse().unwrap());
        assert_eq!(&r[0..2], &[1, 1]);
        assert_eq!(
            &r[20..32],
            &[0, 0x20, 0, 8, 0, 1, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43]
        );
        // RFC 5769 §2.3: [2001:db8:1234:5678:11:2233:4455:6677]:32853
        let r6 = binding_success(
            &TX,
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
                .parse()
                .unwrap(),
        );
        #[rustfmt::skip]
        assert_eq!(&r6[24..44], &[
            0, 2, 0xa1, 0x47,
            0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79,
            0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
        ]);
    }

    #[test]
    fn channel_data_and_indication() {
        let c = channel_data(0x4001, &[0x80, 1, 2, 3, 4]);
        assert_eq!(c, vec![0x40, 0x01, 0, 5, 0x80, 1, 2, 3, 4, 0, 0, 0]);
        let d = indication(
            DATA_INDICATION,
            &TX,
            "10.0.0.9:4000".parse().unwrap(),
            &[0x80, 0, 0],
        );
        assert_eq!(&d[0..2], &[0, 0x17]);
        assert_eq!(d.len(), 20 + 12 + 8);
        assert_eq!(&d[32..36], &[0, 0x13, 0, 3]);
    }
}
