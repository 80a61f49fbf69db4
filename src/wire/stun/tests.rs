//! Tests of [`super`] on annotated byte arrays.

use super::*;

/// An ICE connectivity check (after RFC 5769 §2.1, with PRIORITY and ICE-CONTROLLED).
static BINDING_REQUEST: [u8; 56] = [
    0x00, 0x01, // Binding request
    0x00, 0x24, // length 36
    0x21, 0x12, 0xa4, 0x42, // magic cookie
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, // transaction ID
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
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, // transaction ID
    0x00, 0x20, 0x00, 0x08, // XOR-MAPPED-ADDRESS, length 8
    0x00, 0x01, 0xa1, 0x47, //   IPv4, X-Port
    0xe1, 0x12, 0xa6, 0x43, //   X-Address
];

/// RFC 5769 §2.3: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853.
static BINDING_SUCCESS_V6: [u8; 44] = [
    0x01, 0x01, 0x00, 0x18, // Binding success response, length 24
    0x21, 0x12, 0xa4, 0x42, // magic cookie
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, // transaction ID
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
