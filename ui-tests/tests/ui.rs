//! Compile-pass and compile-fail cases, checked against their `.stderr` snapshots.
//!
//! Regenerate the snapshots with `TRYBUILD=overwrite cargo test -p oob-ui-tests`, then read
//! every changed `.stderr`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/pass/*.rs");
    t.compile_fail("tests/fail/*.rs");
}
