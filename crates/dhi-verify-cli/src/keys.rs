//! `dhi-verify keys`: the embedded trust material.

use dhi_verify::{KeyState, TrustRoot};

pub fn run() -> u8 {
    for key in TrustRoot::dhi_embedded().keys() {
        let state = match key.state() {
            KeyState::Active => "active",
            KeyState::Inactive => "inactive (signatures reported, never trusted)",
        };
        println!("{}  {}  {}", key.name(), key.fingerprint(), state);
    }
    0
}
