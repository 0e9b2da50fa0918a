//! The `dhi-verify` command.
fn main() {}
