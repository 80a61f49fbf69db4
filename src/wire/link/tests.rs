//! Tests of [`super`] on annotated byte arrays.

use super::*;

#[test]
fn from_dlt_maps_every_documented_value() {
    assert_eq!(LinkType::from_dlt(0), Some(LinkType::Null));
    assert_eq!(LinkType::from_dlt(1), Some(LinkType::Ethernet));
    assert_eq!(LinkType::from_dlt(12), Some(LinkType::Raw));
    assert_eq!(LinkType::from_dlt(14), Some(LinkType::Raw));
    assert_eq!(LinkType::from_dlt(101), Some(LinkType::Raw));
    assert_eq!(LinkType::from_dlt(108), Some(LinkType::Loop));
    assert_eq!(LinkType::from_dlt(113), Some(LinkType::LinuxSll));
    assert_eq!(LinkType::from_dlt(228), Some(LinkType::Ipv4));
    assert_eq!(LinkType::from_dlt(229), Some(LinkType::Ipv6));
    assert_eq!(LinkType::from_dlt(276), Some(LinkType::LinuxSll2));
    assert_eq!(LinkType::from_dlt(105), None); // 802.11
    assert_eq!(LinkType::from_dlt(-1), None);
}

#[test]
fn ethernet_view_deconstructs() {
    let frame = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // destination
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // source
        0x08, 0x00, // EtherType IPv4
        0x45, // payload…
    ];
    let eth = EthernetFrame::new_checked(&frame).unwrap();
    assert_eq!(eth.dst_addr(), [2, 0, 0, 0, 0, 1]);
    assert_eq!(eth.src_addr(), [2, 0, 0, 0, 0, 2]);
    assert_eq!(eth.ethertype(), ethertype::IPV4);
    assert_eq!(eth.payload(), &[0x45]);
    assert_eq!(EthernetFrame::new_checked(&frame[..13]), Err(TRUNCATED));
}

#[test]
fn qinq_stack_keeps_outermost_vid() {
    let frame = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // destination
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // source
        0x88, 0xa8, // 802.1ad S-tag
        0x20, 0x64, // PCP 1, VID 100
        0x81, 0x00, // 802.1Q C-tag
        0x00, 0xc8, // VID 200
        0x86, 0xdd, // IPv6
        0x60, // payload…
    ];
    let l = decode(LinkType::Ethernet, &frame).unwrap();
    assert_eq!(l.network, Network::Ipv6);
    assert_eq!(l.vlan, Some(100));
    assert_eq!(l.payload, &[0x60]);
    // Cut inside the second tag.
    assert_eq!(decode(LinkType::Ethernet, &frame[..20]), Err(TRUNCATED));
}

#[test]
fn too_many_vlan_tags_is_malformed() {
    let mut frame = vec![0u8; 12];
    for _ in 0..=MAX_VLAN_TAGS {
        frame.extend_from_slice(&[0x81, 0x00, 0x00, 0x01]); // 802.1Q, VID 1
    }
    frame.extend_from_slice(&[0x08, 0x00, 0x45]); // IPv4
    assert_eq!(
        decode(LinkType::Ethernet, &frame),
        Err(DecodeError::Malformed(Layer::Link))
    );
}

#[test]
fn non_ip_ethertypes_are_not_ip() {
    let mut arp = [0u8; 42];
    arp[12..14].copy_from_slice(&[0x08, 0x06]); // ARP
    assert_eq!(decode(LinkType::Ethernet, &arp), Err(DecodeError::NotIp));
    let mut llc = [0u8; 60];
    llc[12..14].copy_from_slice(&[0x00, 0x26]); // 802.3 length 38 (STP)
    assert_eq!(decode(LinkType::Ethernet, &llc), Err(DecodeError::NotIp));
}

#[test]
fn null_accepts_both_byte_orders() {
    let le = [0x02, 0x00, 0x00, 0x00, 0x45]; // AF_INET, little-endian
    let be = [0x00, 0x00, 0x00, 0x1e, 0x60]; // AF_INET6 (macOS 30), big-endian
    let l = decode(LinkType::Null, &le).unwrap();
    assert_eq!((l.network, l.payload), (Network::Ipv4, &[0x45][..]));
    let l = decode(LinkType::Null, &be).unwrap();
    assert_eq!((l.network, l.payload), (Network::Ipv6, &[0x60][..]));
    for v6 in [24u32, 28, 30] {
        let family = v6.to_le_bytes();
        assert_eq!(
            decode(LinkType::Null, &family).unwrap().network,
            Network::Ipv6
        );
    }
    let unknown = [0x07, 0x00, 0x00, 0x00]; // AF_7
    assert_eq!(decode(LinkType::Null, &unknown), Err(DecodeError::NotIp));
    assert_eq!(decode(LinkType::Null, &le[..3]), Err(TRUNCATED));
}

#[test]
fn loop_is_network_order_only() {
    let be = [0x00, 0x00, 0x00, 0x02, 0x45]; // AF_INET
    let le = [0x02, 0x00, 0x00, 0x00, 0x45];
    assert_eq!(decode(LinkType::Loop, &be).unwrap().network, Network::Ipv4);
    assert_eq!(decode(LinkType::Loop, &le), Err(DecodeError::NotIp));
}

#[test]
fn linux_sll_and_sll2() {
    let sll = [
        0x00, 0x04, // packet type: outgoing
        0x00, 0x01, // ARPHRD_ETHER
        0x00, 0x06, // address length
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, // address, padded to 8
        0x08, 0x00, // protocol IPv4
        0x45, // payload…
    ];
    let l = decode(LinkType::LinuxSll, &sll).unwrap();
    assert_eq!(
        (l.network, l.payload, l.vlan),
        (Network::Ipv4, &[0x45][..], None)
    );
    assert_eq!(decode(LinkType::LinuxSll, &sll[..15]), Err(TRUNCATED));

    let sll2 = [
        0x86, 0xdd, // protocol IPv6
        0x00, 0x00, // reserved
        0x00, 0x00, 0x00, 0x02, // interface index
        0x00, 0x01, // ARPHRD_ETHER
        0x00, // packet type: to us
        0x06, // address length
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, // address
        0x60, // payload…
    ];
    let l = decode(LinkType::LinuxSll2, &sll2).unwrap();
    assert_eq!((l.network, l.payload), (Network::Ipv6, &[0x60][..]));
    assert_eq!(decode(LinkType::LinuxSll2, &sll2[..19]), Err(TRUNCATED));
}

#[test]
fn linux_sll_with_reinserted_vlan_tag() {
    let sll = [
        0x00, 0x00, 0x00, 0x01, 0x00, 0x06, // packet type, ARPHRD, address length
        0, 0, 0, 0, 0, 0, 0, 0, // address
        0x81, 0x00, // protocol 802.1Q (libpcap reinserts the tag)
        0x00, 0x2a, // VID 42
        0x08, 0x00, // IPv4
    ];
    let l = decode(LinkType::LinuxSll, &sll).unwrap();
    assert_eq!((l.network, l.vlan), (Network::Ipv4, Some(42)));
}

#[test]
fn raw_ip_by_version_nibble() {
    assert_eq!(
        decode(LinkType::Raw, &[0x45]).unwrap().network,
        Network::Ipv4
    );
    assert_eq!(
        decode(LinkType::Raw, &[0x60]).unwrap().network,
        Network::Ipv6
    );
    assert_eq!(decode(LinkType::Raw, &[0x50]), Err(DecodeError::NotIp));
    assert_eq!(decode(LinkType::Raw, &[]), Err(TRUNCATED));
    // The fixed-protocol link types leave every check to the IP layer.
    assert_eq!(decode(LinkType::Ipv4, &[]).unwrap().network, Network::Ipv4);
    assert_eq!(
        decode(LinkType::Ipv6, &[0x45]).unwrap().network,
        Network::Ipv6
    );
}

#[test]
fn origin_of_cooked_frames() {
    let sll2 = [
        0x08, 0x00, 0x00, 0x00, // protocol IPv4, reserved
        0x00, 0x00, 0x01, 0x07, // ifindex 263
        0x00, 0x01, 0x04, 0x06, // ARPHRD, packet type OUTGOING, address length
    ];
    assert_eq!(origin(LinkType::LinuxSll2, &sll2), Origin::Interface(263));
    assert_eq!(origin(LinkType::LinuxSll2, &sll2[..7]), Origin::Unknown);
    for (pkttype, want) in [
        (0u8, Origin::Incoming), // to us
        (3, Origin::Incoming),   // to another host (forwarded)
        (4, Origin::Outgoing),
        (5, Origin::Unknown), // loopback-internal
    ] {
        assert_eq!(
            origin(LinkType::LinuxSll, &[0x00, pkttype, 0x00, 0x01]),
            want
        );
    }
    assert_eq!(origin(LinkType::LinuxSll, &[0x00]), Origin::Unknown);
    assert_eq!(origin(LinkType::Ethernet, &sll2), Origin::Unknown);
}
