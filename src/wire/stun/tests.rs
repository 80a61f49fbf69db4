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

#[test]
fn ice_attributes_of_a_check() {
    let m = Message::new_checked(&BINDING_REQUEST).unwrap();
    assert_eq!(m.username(), Some(&b"evtj:h6vY"[..]));
    assert_eq!(m.priority(), Some(0x6e00_01ff));
    assert_eq!(
        m.ice_role(),
        Some(IceRole::Controlled(0x932f_f9b1_5126_3b36))
    );
    assert!(!m.use_candidate());
    // ICE-CONTROLLED relabelled ICE-CONTROLLING (0x802A), PRIORITY relabelled USE-CANDIDATE
    // (0x0025: its value is ignored, presence is what counts).
    let mut b = BINDING_REQUEST;
    b[29] = 0x2a;
    b[21] = 0x25;
    let m = Message::new_checked(&b).unwrap();
    assert_eq!(
        m.ice_role(),
        Some(IceRole::Controlling(0x932f_f9b1_5126_3b36))
    );
    assert!(m.use_candidate());
    assert_eq!(m.priority(), None);
}

/// An Allocate success response (RFC 8656 §7.3): XOR-RELAYED-ADDRESS 192.0.2.1:32853,
/// LIFETIME 600, XOR-MAPPED-ADDRESS.
static ALLOCATE_SUCCESS: [u8; 52] = [
    0x01, 0x03, 0x00, 0x20, // Allocate success response, length 32
    0x21, 0x12, 0xa4, 0x42, // magic cookie
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, // transaction ID
    0x00, 0x16, 0x00, 0x08, // XOR-RELAYED-ADDRESS, length 8
    0x00, 0x01, 0xa1, 0x47, //   IPv4, X-Port
    0xe1, 0x12, 0xa6, 0x43, //   X-Address
    0x00, 0x0d, 0x00, 0x04, // LIFETIME, length 4
    0x00, 0x00, 0x02, 0x58, //   600 s
    0x00, 0x20, 0x00, 0x08, // XOR-MAPPED-ADDRESS, length 8
    0x00, 0x01, 0xa1, 0x47, //   IPv4, X-Port
    0xe1, 0x12, 0xa6, 0x43, //   X-Address
];

#[test]
fn allocate_success_deconstructs() {
    let m = Message::new_checked(&ALLOCATE_SUCCESS).unwrap();
    assert_eq!((m.class(), m.method()), (Class::SuccessResponse, ALLOCATE));
    assert_eq!(
        m.xor_relayed_address(),
        Some("192.0.2.1:32853".parse().unwrap())
    );
    assert_eq!(m.lifetime(), Some(600));
    assert_eq!(m.error_code(), None);
    assert_eq!(m.channel_number(), None);
    // A LIFETIME of 3 bytes is malformed: nothing, not a guess.
    let mut b = ALLOCATE_SUCCESS;
    b[35] = 3;
    assert_eq!(Message::new_checked(&b).unwrap().lifetime(), None);
}

#[test]
fn turn_request_attributes() {
    // ChannelBind request: CHANNEL-NUMBER 0x4001, XOR-PEER-ADDRESS ×2 (as CreatePermission may).
    let mut b = vec![
        0x00, 0x09, 0x00, 0x20, // ChannelBind request, length 32
        0x21, 0x12, 0xa4, 0x42, // magic cookie
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, // transaction ID
        0x00, 0x0c, 0x00, 0x04, // CHANNEL-NUMBER
        0x40, 0x01, 0x00, 0x00, //   0x4001, RFFU
        0x00, 0x12, 0x00, 0x08, // XOR-PEER-ADDRESS
        0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, // 192.0.2.1:32853
        0x00, 0x12, 0x00, 0x08, // XOR-PEER-ADDRESS
        0x00, 0x01, 0xa1, 0x46, 0xe1, 0x12, 0xa6, 0x42, // 192.0.2.0:32852
    ];
    let m = Message::new_checked(&b).unwrap();
    assert_eq!(m.method(), CHANNEL_BIND);
    assert_eq!(m.channel_number(), Some(0x4001));
    let peers: Vec<SocketAddr> = m.xor_peer_addresses().collect();
    assert_eq!(
        peers,
        [
            "192.0.2.1:32853".parse().unwrap(),
            "192.0.2.0:32852".parse().unwrap()
        ]
    );
    // REQUESTED-TRANSPORT UDP (17) in place of the second peer.
    b[40..52].copy_from_slice(&[0x00, 0x19, 0x00, 0x04, 17, 0, 0, 0, 0x00, 0x00, 0x00, 0x00]);
    let m = Message::new_checked(&b).unwrap();
    assert_eq!(m.requested_transport(), Some(17));
}

#[test]
fn error_codes() {
    let mut b = vec![
        0x01, 0x13, 0x00, 0x10, // Allocate error response, length 16
        0x21, 0x12, 0xa4, 0x42, // magic cookie
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, // transaction ID
        0x00, 0x09, 0x00, 0x0c, // ERROR-CODE, length 12
        0x00, 0x00, 0x04, 0x01, //   class 4, number 1: 401
        b'U', b'n', b'a', b'u', b't', b'h', b'd', b'.', // reason
    ];
    let m = Message::new_checked(&b).unwrap();
    assert_eq!((m.class(), m.method()), (Class::ErrorResponse, ALLOCATE));
    assert_eq!(m.error_code(), Some(401));
    b[26..28].copy_from_slice(&[0x04, 86]); // 486 Allocation Quota Reached
    assert_eq!(Message::new_checked(&b).unwrap().error_code(), Some(486));
    b[26..28].copy_from_slice(&[0x02, 0x00]); // class 2: not an error
    assert_eq!(Message::new_checked(&b).unwrap().error_code(), None);
    b[26..28].copy_from_slice(&[0x04, 100]); // number 100: out of range
    assert_eq!(Message::new_checked(&b).unwrap().error_code(), None);
    b[22..24].copy_from_slice(&[0x00, 0x03]); // 3 bytes: malformed
    assert_eq!(Message::new_checked(&b).unwrap().error_code(), None);
}
