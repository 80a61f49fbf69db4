//! STUN (RFC 8489, formerly RFC 5389) message view, with the TURN (RFC 8656) and ICE (RFC 8445)
//! attributes a probe needs.
//!
//! The probe uses STUN to spot ICE connectivity checks, to unwrap TURN Send/Data indications
//! (RFC 8656 §10, §11), and to follow ICE sessions and TURN allocations
//! (`crate::correlate::ice`, `crate::correlate::turn`): USERNAME, PRIORITY, USE-CANDIDATE and
//! the ICE roles (RFC 8445 §16.1), ERROR-CODE (RFC 8489 §14.8), LIFETIME, CHANNEL-NUMBER,
//! REQUESTED-TRANSPORT and the XOR addresses (RFC 8656 §18). It deliberately does not verify
//! MESSAGE-INTEGRITY or FINGERPRINT (no key exists at a probe, and neither is ever read out) or
//! build messages: it only reads what is on the wire. Every accessor returns `None` for an
//! absent or malformed attribute rather than guessing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{DecodeError, Layer};

/// Length of the STUN header.
pub const HEADER_LEN: usize = 20;
/// The magic cookie every RFC 5389+ message carries (RFC 8489 §5).
pub const MAGIC_COOKIE: u32 = 0x2112_A442;

/// Binding method (RFC 8489 §18.2).
pub const BINDING: u16 = 0x001;
/// TURN Allocate method (RFC 8656 §17).
pub const ALLOCATE: u16 = 0x003;
/// TURN Refresh method (RFC 8656 §17).
pub const REFRESH: u16 = 0x004;
/// TURN Send method (RFC 8656 §17).
pub const SEND: u16 = 0x006;
/// TURN Data method (RFC 8656 §17).
pub const DATA: u16 = 0x007;
/// TURN CreatePermission method (RFC 8656 §17).
pub const CREATE_PERMISSION: u16 = 0x008;
/// TURN ChannelBind method (RFC 8656 §17).
pub const CHANNEL_BIND: u16 = 0x009;

/// The ICE role a check announces (RFC 8445 §7.1.3), with its tie-breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IceRole {
    Controlling(u64),
    Controlled(u64),
}

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
    pub const REQUESTED_TRANSPORT: u16 = 0x0019;
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
    /// Header and body: the message as it was checked.
    whole: &'a [u8],
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
        let whole = buf.get(..HEADER_LEN + len).ok_or(StunError::Truncated)?;
        Ok(Message {
            header,
            body,
            whole,
        })
    }

    /// The whole message, header and attributes (what the live pipeline copies to a worker).
    pub fn bytes(&self) -> &'a [u8] {
        self.whole
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

    /// XOR-RELAYED-ADDRESS (RFC 8656 §18.5) of an Allocate success response, decoded (the
    /// first, when a dual-stack allocation carries two).
    pub fn xor_relayed_address(&self) -> Option<SocketAddr> {
        self.xor_address(self.attribute(attr::XOR_RELAYED_ADDRESS)?)
    }

    /// Every XOR-PEER-ADDRESS (a CreatePermission request may carry several, RFC 8656 §9.1),
    /// decoded; undecodable ones are skipped.
    pub fn xor_peer_addresses(&self) -> impl Iterator<Item = SocketAddr> + 'a {
        let m = *self;
        self.attributes()
            .filter(|&(t, _)| t == attr::XOR_PEER_ADDRESS)
            .filter_map(move |(_, v)| m.xor_address(v))
    }

    /// USERNAME (RFC 8489 §14.3): raw bytes, `ufragA:ufragB` in an ICE check (RFC 8445
    /// §7.2.2), a user name in TURN. Private: callers hash it before it leaves the probe.
    pub fn username(&self) -> Option<&'a [u8]> {
        self.attribute(attr::USERNAME)
    }

    /// REALM (RFC 8489 §14.9): raw bytes.
    pub fn realm(&self) -> Option<&'a [u8]> {
        self.attribute(attr::REALM)
    }

    /// PRIORITY (RFC 8445 §16.1): 32 bits.
    pub fn priority(&self) -> Option<u32> {
        let v: [u8; 4] = self.attribute(attr::PRIORITY)?.try_into().ok()?;
        Some(u32::from_be_bytes(v))
    }

    /// USE-CANDIDATE present (RFC 8445 §7.2.2): the controlling agent nominates this pair.
    pub fn use_candidate(&self) -> bool {
        self.attributes().any(|(t, _)| t == attr::USE_CANDIDATE)
    }

    /// ICE-CONTROLLING or ICE-CONTROLLED (RFC 8445 §16.1), the first present, with its 64-bit
    /// tie-breaker.
    pub fn ice_role(&self) -> Option<IceRole> {
        self.attributes().find_map(|(t, v)| {
            let v: [u8; 8] = v.try_into().ok()?;
            let tie = u64::from_be_bytes(v);
            match t {
                attr::ICE_CONTROLLING => Some(IceRole::Controlling(tie)),
                attr::ICE_CONTROLLED => Some(IceRole::Controlled(tie)),
                _ => None,
            }
        })
    }

    /// ERROR-CODE (RFC 8489 §14.8) as `class × 100 + number` (e.g. 401, 438), when the class
    /// is 3..=6 and the number below 100 as the RFC requires; the reason phrase is not read.
    ///
    /// ```text
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |           Reserved, should be 0         |Class|     Number    |
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |      Reason Phrase (variable)                                ..
    /// ```
    pub fn error_code(&self) -> Option<u16> {
        let (&[_, _, class, number], _) =
            self.attribute(attr::ERROR_CODE)?.split_first_chunk::<4>()?;
        let class = u16::from(class & 0x07);
        let number = u16::from(number);
        ((3..=6).contains(&class) && number < 100).then_some(class * 100 + number)
    }

    /// LIFETIME (RFC 8656 §18.2), seconds; 0 in a Refresh deletes the allocation.
    pub fn lifetime(&self) -> Option<u32> {
        let v: [u8; 4] = self.attribute(attr::LIFETIME)?.try_into().ok()?;
        Some(u32::from_be_bytes(v))
    }

    /// CHANNEL-NUMBER (RFC 8656 §18.1): the top 16 bits; valid channels are 0x4000..=0x4FFF
    /// (others are returned as they are, for the caller to refuse).
    pub fn channel_number(&self) -> Option<u16> {
        let (&[c0, c1], _) = self
            .attribute(attr::CHANNEL_NUMBER)?
            .split_first_chunk::<2>()?;
        Some(u16::from_be_bytes([c0, c1]))
    }

    /// REQUESTED-TRANSPORT (RFC 8656 §18.7): the IP protocol number (17 UDP, 6 TCP).
    pub fn requested_transport(&self) -> Option<u8> {
        self.attribute(attr::REQUESTED_TRANSPORT)?.first().copied()
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
#[path = "stun/tests.rs"]
mod tests;
