//! `mhrouter`: a userspace multihoming router.
fn main() {
    println!("mhrouter");
}
