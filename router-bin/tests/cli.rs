//! The `mhrouter` binary as an operator runs it.

use std::path::PathBuf;
use std::process::{Command, Output};

fn mhrouter(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mhrouter")).args(args).output().expect("mhrouter runs")
}

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config").join(name).display().to_string()
}

/// A bad config written to a per-test temporary file.
fn bad_file(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("mhrouter-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_on_a_good_file_prints_a_summary() {
    let out = mhrouter(&["check", "--config", &example("lab.toml")]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{}", text(&out.stderr));
    for want in [
        "configuration is valid",
        "wan1.832",
        "VLAN 832 on wan1",
        "isp1",
        "isp2",
        "distance 1 weight 1",
        "192.0.2.10",
        "192.0.2.128/26",
        "blackhole",
        "192.0.2.64/26",
        "via isp2",
    ] {
        assert!(stdout.contains(want), "`{want}` missing from summary:\n{stdout}");
    }
}

#[test]
fn check_on_every_example_succeeds() {
    for name in ["lab.toml", "fibre-vlan832-primary.toml", "two-lans-two-isps.toml"] {
        let out = mhrouter(&["check", "--config", &example(name)]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
    }
}

#[test]
fn check_on_a_bad_file_exits_1_and_names_every_key() {
    let lab = std::fs::read_to_string(example("lab.toml")).unwrap();
    let bad = lab.replacen("gateway = \"203.0.113.1\"", "gateway = \"198.51.100.1\"", 1).replacen(
        "vlan = 832",
        "vlan = 4095",
        1,
    );
    let path = bad_file("bad.toml", &bad);
    let out = mhrouter(&["check", "--config", &path]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("uplink[1].gateway"), "{stderr}");
    assert!(stderr.contains("198.51.100.1 is not inside 203.0.113.2/24"), "{stderr}");
    assert!(stderr.contains("port[3].vlan"), "{stderr}");
    assert!(stderr.contains(&format!("{path}:")), "errors carry file:line:col\n{stderr}");
    assert!(stderr.contains("2 errors"), "{stderr}");
}

#[test]
fn check_on_a_missing_file_exits_1() {
    let out = mhrouter(&["check", "--config", "/nonexistent/site.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read /nonexistent/site.toml"));
}

#[test]
fn run_with_a_missing_device_fails_cleanly_before_attaching_anything() {
    let lab = std::fs::read_to_string(example("lab.toml")).unwrap();
    let cfg = lab.replace("device = \"lan1\"", "device = \"mhnosuchif0\"");
    assert_ne!(cfg, lab, "the example names device lan1");
    let dir = std::env::temp_dir().join(format!("mhrouter-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("missing-device.toml");
    std::fs::write(&path, cfg).unwrap();
    let out = mhrouter(&["--config", path.to_str().unwrap(), "--for", "1s"]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("starting"), "the summary is printed first");
    assert!(text(&out.stderr).contains("interface mhnosuchif0"), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("AF_XDP bound"), "nothing was attached");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(mhrouter(&["--frobnicate"]).status.code(), Some(2));
    assert_eq!(mhrouter(&["check"]).status.code(), Some(2), "check without --config");
    assert_eq!(mhrouter(&["launch"]).status.code(), Some(2));
    assert_eq!(mhrouter(&[]).status.code(), Some(2), "no arguments prints help and fails");
}

#[test]
fn help_lists_the_subcommands_and_version_works() {
    let out = mhrouter(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for want in ["check", "run", "--config", "--version", "multihoming"] {
        assert!(help.contains(want), "`{want}` missing from --help:\n{help}");
    }
    let out = mhrouter(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("mhrouter 0.1.0"));
}
