//! Policy files: never panic on any text.
#![no_main]
use dhi_verify::policy::parse_policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    let _ = parse_policy(data, std::path::Path::new("/nonexistent"), None);
});
