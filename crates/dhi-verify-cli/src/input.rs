//! Reading the text files a gate starts from (a Dockerfile, manifests):
//! from a path or standard input (`-`), capped before it is read, as UTF-8.

use std::io::Read as _;
use std::path::Path;

/// The name of `path` in messages: `-` for standard input.
pub(crate) fn display_name(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "-".to_owned()
    } else {
        path.display().to_string()
    }
}

/// Reads `path` ("-" is standard input), at most `limit` bytes, as UTF-8.
/// `expected` says what the file should be, for the too-large message.
/// `Err` is a usage message naming the file.
pub(crate) fn read_text(path: &Path, limit: u64, expected: &str) -> Result<String, String> {
    let name = display_name(path);
    let mut bytes = Vec::new();
    let take = limit.saturating_add(1);
    let result = if path.as_os_str() == "-" {
        std::io::stdin().take(take).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(take).read_to_end(&mut bytes))
    };
    result.map_err(|e| format!("reading {name}: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "{name} is larger than {limit} bytes: expected {expected}"
        ));
    }
    String::from_utf8(bytes).map_err(|e| format!("{name} is not UTF-8: {e}"))
}
