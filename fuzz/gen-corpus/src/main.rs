#[path = "../../src/lab.rs"]
#[allow(dead_code)]
mod lab;
use router_core::testkit::*;
fn main() {
    let mut p = lab::router();
    let mapped = |a: [u8; 4]| { let mut m = [0u8; 16]; m[10] = 0xff; m[11] = 0xff; m[12..].copy_from_slice(&a); m };
    let f = lab::V6 { src_mac: HOST1_MAC, dst_mac: RTR_LAN1_MAC, src: mapped(HOST1), dst: mapped(INET) }.udp(1234, 53, b"leak");
    let out = run(&mut p, lab::T0, LAN1, &f);
    println!("{:?}", out.verdict);
    if let Ok(m) = router_core::wire::parse(&out.frame) { println!("{:?}", m.key); }
    // spoof from wan2: original direction of a LAN flow
    let f = V4 { src_mac: ISP2_MAC, dst_mac: RTR_WAN2_MAC, vlan: None, src: HOST1, dst: [192,0,2,1], ttl: 64 }.udp(20000, 53, b"query");
    let out = run(&mut p, lab::T0, WAN2, &f);
    println!("spoof: {:?}", out.verdict);
    let f = V4 { src_mac: ISP2_MAC, dst_mac: RTR_WAN2_MAC, vlan: None, src: HOST1, dst: HOST2, ttl: 64 }.udp(20009, 5000, b"lan");
    let out = run(&mut p, lab::T0, WAN2, &f);
    println!("spoof lan2lan: {:?}", out.verdict);
}
