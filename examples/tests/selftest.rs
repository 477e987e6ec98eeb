//! Every example runs its flow non-interactively over real HTTP on 127.0.0.1 and exits 0.

use std::process::Command;

fn run(bin: &str, args: &[&str]) {
    let out = Command::new(bin)
        .args(args)
        .output()
        .expect("example starts");
    assert!(
        out.status.success(),
        "{bin} {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("http://127.0.0.1:"),
        "{bin} prints what to open"
    );
}

#[test]
fn quickstart_runs_end_to_end_by_default() {
    run(env!("CARGO_BIN_EXE_quickstart"), &[]);
    run(env!("CARGO_BIN_EXE_quickstart"), &["--selftest"]);
}

#[test]
fn device_code_selftest() {
    run(env!("CARGO_BIN_EXE_device_code"), &["--selftest"]);
}

#[test]
fn secret_form_selftest() {
    run(env!("CARGO_BIN_EXE_secret_form"), &["--selftest"]);
}

#[test]
fn oauth_redirect_selftest() {
    run(env!("CARGO_BIN_EXE_oauth_redirect"), &["--selftest"]);
}

#[test]
fn unknown_flags_are_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_quickstart"))
        .arg("--nope")
        .output()
        .expect("example starts");
    assert_eq!(out.status.code(), Some(2));
}
