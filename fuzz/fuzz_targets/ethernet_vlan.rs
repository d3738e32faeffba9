//! The link layer on arbitrary frames: `parse`/`parse_link` never panic and report offsets inside the frame;
//! pushing a tag then popping it restores the frame and its position exactly; popping a tag then pushing the same
//! one back restores an 802.1Q frame; `set_vlan` and `set_macs` change only their fields.
//!
//! Input: `[tci_hi, tci_lo, headroom, ...frame]`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mhrouter_fuzz::assert_offsets_sane;
use router_core::wire::ethernet::{self, EthernetRepr, HEADER_LEN, TAG_LEN};
use router_core::wire::{self, VlanTag, ETHERTYPE_QINQ, ETHERTYPE_VLAN};

fuzz_target!(|data: &[u8]| {
    let [hi, lo, headroom, frame @ ..] = data else { return };
    let tag = VlanTag::from_tci(u16::from_be_bytes([*hi, *lo]));
    assert_eq!(VlanTag::from_tci(tag.tci()), tag, "TCI round trip");

    if let Ok(m) = wire::parse(frame) {
        assert_offsets_sane(frame, &m);
        assert!(m.l3 == HEADER_LEN || m.l3 == HEADER_LEN + TAG_LEN, "l3 {} after at most one tag", m.l3);
        let _ = wire::l4_checksum_ok(frame, &m);
    }
    let link = ethernet::parse_link(frame);
    if let Ok(link) = link {
        assert!(link.l3 <= frame.len(), "l3 beyond the frame");
        assert_eq!(link.inner_vlan.is_some(), link.l3 == HEADER_LEN + 2 * TAG_LEN);
        if link.inner_vlan.is_some() {
            assert!(link.qinq);
        }
    }

    // Push then pop: identity, in a buffer with `headroom` bytes in front (0..=7: sometimes too little).
    let head = (*headroom % 8) as usize;
    let mut buf = vec![0xa5u8; head + frame.len() + 3];
    buf[head..head + frame.len()].copy_from_slice(frame);
    let before = buf.clone();
    match ethernet::push_vlan(&mut buf, head, frame.len(), tag) {
        None => {
            assert!(head < TAG_LEN || frame.len() < HEADER_LEN, "push refused with room and a header");
            assert_eq!(buf, before, "a refused push leaves the buffer alone");
        }
        Some((h, l)) => {
            assert_eq!((h, l), (head - TAG_LEN, frame.len() + TAG_LEN));
            assert_eq!(&buf[h + 12..h + 14], &ETHERTYPE_VLAN.to_be_bytes());
            assert_eq!(
                VlanTag::from_tci(u16::from_be_bytes([buf[h + 14], buf[h + 15]])),
                tag,
                "the pushed tag reads back"
            );
            assert_eq!(&buf[h..h + 12], &frame[..12], "MACs moved with the header");
            assert_eq!(&buf[h + 16..h + l], &frame[12..], "payload untouched");
            let (h2, l2, popped) = ethernet::pop_vlan(&mut buf, h, l).expect("pop what was pushed");
            assert_eq!(popped, tag);
            assert_eq!((h2, l2), (head, frame.len()));
            assert_eq!(&buf[h2..h2 + l2], frame, "push then pop is the identity");
        }
    }

    // Pop then push: identity for a frame with an 802.1Q outer tag.
    let mut buf = vec![0u8; TAG_LEN + frame.len()];
    buf[TAG_LEN..].copy_from_slice(frame);
    let tpid = frame.get(12..14).map(|t| u16::from_be_bytes([t[0], t[1]]));
    match ethernet::pop_vlan(&mut buf, TAG_LEN, frame.len()) {
        None => {
            let tagged = matches!(tpid, Some(ETHERTYPE_VLAN | ETHERTYPE_QINQ));
            assert!(!tagged || frame.len() < HEADER_LEN + TAG_LEN, "pop refused a tagged frame");
        }
        Some((h, l, popped)) => {
            assert_eq!(
                popped,
                VlanTag::from_tci(u16::from_be_bytes([frame[14], frame[15]])),
                "pop returns the outer tag"
            );
            assert_eq!(&buf[h..h + 12], &frame[..12]);
            assert_eq!(&buf[h + 12..h + l], &frame[16..]);
            let (h3, l3) = ethernet::push_vlan(&mut buf, h, l, popped).expect("room for the tag just removed");
            assert_eq!((h3, l3), (TAG_LEN, frame.len()));
            if tpid == Some(ETHERTYPE_VLAN) {
                assert_eq!(&buf[h3..h3 + l3], frame, "pop then push restores an 802.1Q frame");
            }
        }
    }

    // set_vlan rewrites the TCI of an 802.1Q frame only; set_macs the addresses only.
    let mut f = frame.to_vec();
    if ethernet::set_vlan(&mut f, tag) {
        assert_eq!(tpid, Some(ETHERTYPE_VLAN));
        assert_eq!(VlanTag::from_tci(u16::from_be_bytes([f[14], f[15]])), tag);
        assert_eq!((&f[..14], &f[16..]), (&frame[..14], &frame[16..]));
    } else {
        assert_eq!(f, frame);
    }
    let mut f = frame.to_vec();
    if ethernet::set_macs(&mut f, [1; 6], [2; 6]) {
        assert_eq!(&f[..12], &[1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
        assert_eq!(&f[12..], &frame[12..]);
    } else {
        assert!(frame.len() < HEADER_LEN);
    }

    // A header we emit parses back.
    if frame.len() >= 12 {
        let repr = EthernetRepr {
            dst: frame[..6].try_into().unwrap(),
            src: frame[6..12].try_into().unwrap(),
            vlan: tag.vid.is_multiple_of(2).then_some(tag),
        };
        let mut out = [0u8; 64];
        let n = repr.emit(&mut out, wire::ETHERTYPE_IPV4).expect("64 bytes hold a header");
        let back = ethernet::parse_link(&out[..n]).expect("emitted header parses");
        assert_eq!((back.vlan, back.ethertype, back.l3), (repr.vlan, wire::ETHERTYPE_IPV4, n));
        assert_eq!(ethernet::pad_to_min(&mut out, n), Some(ethernet::MIN_FRAME_LEN));
    }
});
