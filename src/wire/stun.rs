//! STUN (RFC 8489, formerly RFC 5389) message view, with the TURN (RFC 8656) and ICE (RFC 8445)
//! attributes a probe needs.
//!
//! The probe uses STUN to spot ICE connectivity checks and to unwrap TURN Send/Data indications
//! (RFC 8656 §10, §11). It deliberately does not verify MESSAGE-INTEGRITY or FINGERPRINT, decode
//! error codes or build messages: it only reads what is on the wire.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{DecodeError, Layer};

/// Length of the STUN header.
pub const HEADER_LEN: usize = 20;
/// The magic cookie every RFC 5389+ message carries (RFC 8489 §5).
pub const MAGIC_COOKIE: u32 = 0x2112_A442;

/// Binding method (RFC 8489 §18.2).
pub const BINDING: u16 = 0x001;
/// TURN Send method (RFC 8656 §17).
pub const SEND: u16 = 0x006;
/// TURN Data method (RFC 8656 §17).
pub const DATA: u16 = 0x007;

/// Attribute types (RFC 8489 §18.3, RFC 8656 §18, RFC 8445 §16.1).
pub mod attr {
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    pub const USERNAME: u16 = 0x0006;
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    pub const ERROR_CODE: u16 = 0x0009;
    pub const CHANNEL_NUMBER: u16 = 0x000C;
    pub const LIFETIME: u16 = 0x000D;
    pub const XOR_PEER_ADDRESS: u16 = 0x0012;
    pub const DATA: u16 = 0x0013;
    pub const REALM: u16 = 0x0014;
    pub const NONCE: u16 = 0x0015;
    pub const XOR_RELAYED_ADDRESS: u16 = 0x0016;
    pub const MESSAGE_INTEGRITY_SHA256: u16 = 0x001C;
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    pub const PRIORITY: u16 = 0x0024;
    pub const USE_CANDIDATE: u16 = 0x0025;
    pub const SOFTWARE: u16 = 0x8022;
    pub const FINGERPRINT: u16 = 0x8028;
    pub const ICE_CONTROLLED: u16 = 0x8029;
    pub const ICE_CONTROLLING: u16 = 0x802A;
}

/// Message class, from the C1 and C0 bits of the message type (RFC 8489 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Request,
    Indication,
    SuccessResponse,
    ErrorResponse,
}

/// Why a buffer is not a STUN message; bounded, usable as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum StunError {
    /// The header, or the body its length field announces, was not captured whole.
    #[error("truncated STUN message")]
    Truncated,
    /// Not a STUN message: top bits set, wrong magic cookie, or a length not a multiple of 4.
    #[error("malformed STUN message")]
    Malformed,
}

impl StunError {
    /// A bounded reason string for metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            StunError::Truncated => "truncated",
            StunError::Malformed => "malformed",
        }
    }
}

impl From<StunError> for DecodeError {
    fn from(e: StunError) -> Self {
        match e {
            StunError::Truncated => DecodeError::Truncated(Layer::Stun),
            StunError::Malformed => DecodeError::Malformed(Layer::Stun),
        }
    }
}

/// A read-only view of a STUN message (RFC 8489 §5).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |0 0|     STUN Message Type     |         Message Length        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Magic Cookie                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Transaction ID (96 bits)                  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Attributes (Message Length bytes)         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    header: &'a [u8; HEADER_LEN],
    body: &'a [u8],
}

/// Header field offsets, checked at compile time against the fixed-size header array.
mod field {
    pub const TYPE: usize = 0;
    pub const LENGTH: usize = 2;
    pub const COOKIE: usize = 4;
}

impl<'a> Message<'a> {
    /// Check the header: 20 bytes, the top two bits zero, the magic cookie, a length that is a
    /// multiple of 4 and within `buf`. Bytes after the announced length are ignored.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, StunError> {
        let (header, rest) = buf
            .split_first_chunk::<HEADER_LEN>()
            .ok_or(StunError::Truncated)?;
        let len = usize::from(u16::from_be_bytes([
            header[field::LENGTH],
            header[field::LENGTH + 1],
        ]));
        let cookie = u32::from_be_bytes([
            header[field::COOKIE],
            header[field::COOKIE + 1],
            header[field::COOKIE + 2],
            header[field::COOKIE + 3],
        ]);
        if header[field::TYPE] & 0xC0 != 0 || cookie != MAGIC_COOKIE || len % 4 != 0 {
            return Err(StunError::Malformed);
        }
        let body = rest.get(..len).ok_or(StunError::Truncated)?;
        Ok(Message { header, body })
    }

    /// The 14-bit message type (class and method interleaved).
    pub fn message_type(&self) -> u16 {
        u16::from_be_bytes([self.header[field::TYPE], self.header[field::TYPE + 1]]) & 0x3FFF
    }

    /// The class, from bits C1 (0x0100) and C0 (0x0010).
    pub fn class(&self) -> Class {
        match self.message_type() & 0x0110 {
            0x0000 => Class::Request,
            0x0010 => Class::Indication,
            0x0100 => Class::SuccessResponse,
            _ => Class::ErrorResponse,
        }
    }

    /// The 12-bit method (M11..M0 with the class bits squeezed out), e.g. [`BINDING`].
    pub fn method(&self) -> u16 {
        let t = self.message_type();
        (t & 0x000F) | ((t & 0x00E0) >> 1) | ((t & 0x3E00) >> 2)
    }

    /// The message length field: the attribute bytes after the header.
    pub fn length(&self) -> u16 {
        u16::from_be_bytes([self.header[field::LENGTH], self.header[field::LENGTH + 1]])
    }

    pub fn transaction_id(&self) -> [u8; 12] {
        let &[_, _, _, _, _, _, _, _, ref id @ ..] = self.header;
        *id
    }

    /// The attributes in order, as (type, value) with the padding skipped.
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes { rest: self.body }
    }

    /// The value of the first attribute of type `ty`.
    pub fn attribute(&self, ty: u16) -> Option<&'a [u8]> {
        self.attributes().find(|&(t, _)| t == ty).map(|(_, v)| v)
    }

    /// The DATA attribute (RFC 8656 §18.4) of a Send or Data indication.
    pub fn data(&self) -> Option<&'a [u8]> {
        self.attribute(attr::DATA)
    }

    /// XOR-PEER-ADDRESS (RFC 8656 §18.3), decoded.
    pub fn xor_peer_address(&self) -> Option<SocketAddr> {
        self.xor_address(self.attribute(attr::XOR_PEER_ADDRESS)?)
    }

    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2), decoded.
    pub fn xor_mapped_address(&self) -> Option<SocketAddr> {
        self.xor_address(self.attribute(attr::XOR_MAPPED_ADDRESS)?)
    }

    /// True for an ICE connectivity check or its answer (RFC 8445 §7): a Binding request that
    /// carries USERNAME, PRIORITY, ICE-CONTROLLING or ICE-CONTROLLED, or any Binding success
    /// response. Binding indications (keepalives) and error responses are not checks.
    pub fn is_ice_check(&self) -> bool {
        if self.method() != BINDING {
            return false;
        }
        match self.class() {
            Class::SuccessResponse => true,
            Class::Request => self.attributes().any(|(t, _)| {
                matches!(
                    t,
                    attr::USERNAME | attr::PRIORITY | attr::ICE_CONTROLLING | attr::ICE_CONTROLLED
                )
            }),
            Class::Indication | Class::ErrorResponse => false,
        }
    }

    /// Decode an XOR-…-ADDRESS value (RFC 8489 §14.2): the port is XORed with the top half of
    /// the magic cookie, an IPv4 address with the cookie, an IPv6 address with the cookie
    /// followed by the transaction ID.
    ///
    /// ```text
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |0 0 0 0 0 0 0 0|    Family     |         X-Port                |
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |                X-Address (32 bits or 128 bits)                |
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// ```
    fn xor_address(&self, value: &[u8]) -> Option<SocketAddr> {
        let (&[_, family, p0, p1], addr) = value.split_first_chunk::<4>()?;
        let port = u16::from_be_bytes([p0, p1]) ^ (MAGIC_COOKIE >> 16) as u16;
        let ip = match family {
            0x01 => {
                let x: [u8; 4] = addr.try_into().ok()?;
                IpAddr::V4(Ipv4Addr::from(u32::from_be_bytes(x) ^ MAGIC_COOKIE))
            }
            0x02 => {
                let x: [u8; 16] = addr.try_into().ok()?;
                let mut key = [0u8; 16];
                let (cookie, id) = key.split_at_mut(4);
                cookie.copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
                id.copy_from_slice(&self.transaction_id());
                IpAddr::V6(Ipv6Addr::from(
                    u128::from_be_bytes(x) ^ u128::from_be_bytes(key),
                ))
            }
            _ => return None,
        };
        Some(SocketAddr::new(ip, port))
    }
}

/// Iterator over a message's attributes (RFC 8489 §14): type, length, value, then padding to a
/// multiple of 4. It stops at the first attribute whose value overruns the message.
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Type                  |            Length             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Value (variable)                ....
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Attributes<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = std::mem::take(&mut self.rest);
        let (&[t0, t1, l0, l1], tail) = rest.split_first_chunk::<4>()?;
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let value = tail.get(..len)?;
        // The last attribute's padding is always there in a well-formed message (the length is a
        // multiple of 4); if it is not, there is simply nothing after it.
        self.rest = tail.get(len.next_multiple_of(4)..).unwrap_or_default();
        Some((u16::from_be_bytes([t0, t1]), value))
    }
}

impl std::iter::FusedIterator for Attributes<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ICE connectivity check (after RFC 5769 §2.1, with PRIORITY and ICE-CONTROLLED).
    static BINDING_REQUEST: [u8; 56] = [
        0x00, 0x01, // Binding request
        0x00, 0x24, // length 36
        0x21, 0x12, 0xa4, 0x42, // magic cookie
        0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf,
        0xae, // transaction ID
        0x00, 0x24, 0x00, 0x04, // PRIORITY, length 4
        0x6e, 0x00, 0x01, 0xff, //   priority
        0x80, 0x29, 0x00, 0x08, // ICE-CONTROLLED, length 8
        0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, //   tie breaker
        0x00, 0x06, 0x00, 0x09, // USERNAME, length 9
        0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, // "evtj:h6vY"
        0x20, 0x20, 0x20, //   padding
    ];

    /// A Binding success response carrying XOR-MAPPED-ADDRESS 192.0.2.1:32853 (RFC 5769 §2.2).
    static BINDING_SUCCESS_V4: [u8; 32] = [
        0x01, 0x01, // Binding success response
        0x00, 0x0c, // length 12
        0x21, 0x12, 0xa4, 0x42, // magic cookie
        0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf,
        0xae, // transaction ID
        0x00, 0x20, 0x00, 0x08, // XOR-MAPPED-ADDRESS, length 8
        0x00, 0x01, 0xa1, 0x47, //   IPv4, X-Port
        0xe1, 0x12, 0xa6, 0x43, //   X-Address
    ];

    /// RFC 5769 §2.3: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853.
    static BINDING_SUCCESS_V6: [u8; 44] = [
        0x01, 0x01, 0x00, 0x18, // Binding success response, length 24
        0x21, 0x12, 0xa4, 0x42, // magic cookie
        0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf,
        0xae, // transaction ID
        0x00, 0x20, 0x00, 0x14, // XOR-MAPPED-ADDRESS, length 20
        0x00, 0x02, 0xa1, 0x47, //   IPv6, X-Port
        0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79, // X-Address
        0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
    ];

    #[test]
    fn binding_request_deconstructs() {
        let m = Message::new_checked(&BINDING_REQUEST).unwrap();
        assert_eq!(m.class(), Class::Request);
        assert_eq!(m.method(), BINDING);
        assert_eq!(m.length(), 36);
        assert_eq!(
            m.transaction_id(),
            [0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae]
        );
        let attrs: Vec<_> = m.attributes().collect();
        assert_eq!(
            attrs,
            vec![
                (attr::PRIORITY, &[0x6e, 0x00, 0x01, 0xff][..]),
                (
                    attr::ICE_CONTROLLED,
                    &[0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36][..]
                ),
                (attr::USERNAME, &b"evtj:h6vY"[..]),
            ]
        );
        assert!(m.is_ice_check());
        assert_eq!(m.data(), None);
    }

    #[test]
    fn xor_mapped_address_v4_and_v6() {
        let m = Message::new_checked(&BINDING_SUCCESS_V4).unwrap();
        assert_eq!(m.class(), Class::SuccessResponse);
        assert!(m.is_ice_check());
        assert_eq!(
            m.xor_mapped_address(),
            Some("192.0.2.1:32853".parse().unwrap())
        );
        let m = Message::new_checked(&BINDING_SUCCESS_V6).unwrap();
        assert_eq!(
            m.xor_mapped_address(),
            Some(
                "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
                    .parse()
                    .unwrap()
            )
        );
        assert_eq!(m.xor_peer_address(), None);
    }

    #[test]
    fn xor_peer_address_v4_and_v6() {
        // The same encodings, relabelled as XOR-PEER-ADDRESS (0x0012).
        let mut v4 = BINDING_SUCCESS_V4;
        v4[21] = 0x12;
        let m = Message::new_checked(&v4).unwrap();
        assert_eq!(
            m.xor_peer_address(),
            Some("192.0.2.1:32853".parse().unwrap())
        );
        let mut v6 = BINDING_SUCCESS_V6;
        v6[21] = 0x12;
        let m = Message::new_checked(&v6).unwrap();
        assert_eq!(
            m.xor_peer_address(),
            Some(
                "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
                    .parse()
                    .unwrap()
            )
        );
        // A family of 3 or a wrong length decodes to nothing.
        v4[25] = 0x03;
        assert_eq!(Message::new_checked(&v4).unwrap().xor_peer_address(), None);
    }

    #[test]
    fn classes_and_methods() {
        let mut m = BINDING_REQUEST;
        for (ty, class, method) in [
            ([0x00, 0x11], Class::Indication, BINDING),
            ([0x01, 0x11], Class::ErrorResponse, BINDING),
            ([0x00, 0x16], Class::Indication, SEND),
            ([0x00, 0x17], Class::Indication, DATA),
            ([0x01, 0x08], Class::SuccessResponse, 0x008), // CreatePermission
            ([0x3f, 0xff], Class::ErrorResponse, 0xfff),
        ] {
            m[..2].copy_from_slice(&ty);
            let msg = Message::new_checked(&m).unwrap();
            assert_eq!((msg.class(), msg.method()), (class, method), "{ty:02x?}");
            assert!(!msg.is_ice_check());
        }
    }

    #[test]
    fn binding_request_without_ice_attributes_is_not_a_check() {
        let plain = [
            0x00, 0x01, 0x00, 0x00, // Binding request, no attributes
            0x21, 0x12, 0xa4, 0x42, // magic cookie
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, // transaction ID
        ];
        let m = Message::new_checked(&plain).unwrap();
        assert_eq!(m.length(), 0);
        assert!(!m.is_ice_check());
    }

    #[test]
    fn header_errors() {
        assert_eq!(
            Message::new_checked(&BINDING_REQUEST[..19]),
            Err(StunError::Truncated)
        );
        // Body cut by the snap length.
        assert_eq!(
            Message::new_checked(&BINDING_REQUEST[..55]),
            Err(StunError::Truncated)
        );
        let mut bad = BINDING_REQUEST;
        bad[0] = 0x40; // top bits set
        assert_eq!(Message::new_checked(&bad), Err(StunError::Malformed));
        let mut bad = BINDING_REQUEST;
        bad[7] = 0x43; // cookie
        assert_eq!(Message::new_checked(&bad), Err(StunError::Malformed));
        let mut bad = BINDING_REQUEST;
        bad[3] = 0x22; // length 34
        assert_eq!(Message::new_checked(&bad), Err(StunError::Malformed));
        assert_eq!(StunError::Malformed.reason(), "malformed");
        assert_eq!(
            DecodeError::from(StunError::Truncated),
            DecodeError::Truncated(Layer::Stun)
        );
    }

    #[test]
    fn attributes_stop_on_overrun() {
        let mut m = BINDING_REQUEST;
        m[31] = 0x40; // ICE-CONTROLLED claims 64 bytes
        let msg = Message::new_checked(&m).unwrap();
        assert_eq!(msg.attributes().count(), 1);
        assert_eq!(msg.attribute(attr::USERNAME), None);
        assert!(msg.is_ice_check()); // PRIORITY came before the damage
    }
}
