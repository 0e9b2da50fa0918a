//! in-toto statements: never panic; a statement accepted for a subject names it.
#![no_main]
use dhi_verify::fuzzing::check_statement;
use dhi_verify::Digest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let subject = Digest::of(b"platform manifest");
    if check_statement(data, "https://slsa.dev/provenance/v1", &subject, 1024).is_ok() {
        let text = String::from_utf8_lossy(data);
        assert!(
            text.contains(&subject.hex()),
            "accepted a statement that does not name the subject"
        );
    }
});
