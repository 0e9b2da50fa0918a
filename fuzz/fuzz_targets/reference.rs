//! References: never panic; a parsed reference prints to a string that parses back to it.
#![no_main]
use dhi_verify::Reference;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    if let Ok(r) = Reference::parse(data) {
        let again = Reference::parse(&r.to_string());
        assert_eq!(again.as_ref(), Ok(&r), "{data:?} printed as {r}");
    }
});
