//! Test helpers shared by the predicate modules' unit tests. Not compiled outside tests.
#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

/// Strings over an alphabet that hits every separator, with multi-byte characters.
pub(crate) fn random_strings() -> impl Iterator<Item = String> {
    const ALPHABET: &[&str] = &[
        "pkg:", "/", "@", "?", "&", "=", "#", "%", "%2F", "%zz", "a", "Z", "0", ".", ":", "é",
        "💥", " ", "git+", "://", "T", "-", "+", "Z",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    (0..20_000).map(move |_| {
        let mut s = String::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        for i in 0..(seed % 24) {
            let k =
                (seed.rotate_left(u32::try_from(i * 5).unwrap()) % ALPHABET.len() as u64) as usize;
            s.push_str(ALPHABET[k]);
        }
        s
    })
}
