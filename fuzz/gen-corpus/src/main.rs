#[path = "../../src/lab.rs"]
#[allow(dead_code)]
mod lab;
fn main() {
    let t = std::time::Instant::now();
    for _ in 0..10 { let _ = router_core::pipeline::Pipeline::new(lab::config(), lab::snat()).unwrap(); }
    println!("new: {:?}", t.elapsed() / 10);
    let t = std::time::Instant::now();
    for _ in 0..10 { let _ = lab::snat(); }
    println!("snat: {:?}", t.elapsed() / 10);
    let t = std::time::Instant::now();
    for _ in 0..10 { let _ = lab::router(); }
    println!("router: {:?}", t.elapsed() / 10);
}
