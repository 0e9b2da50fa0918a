//! The exit codes scripts rely on (README "Exit codes"): 0 pass, 1 fail,
//! 2 usage, 3 could not verify. The library classifies outcomes and errors;
//! this is the one place they become numbers.

use dhi_verify::{Error, ErrorClass, Outcome};

/// Exit code 2: bad flags, an unreadable key, a malformed reference or file.
pub const EXIT_USAGE: u8 = 2;

/// The exit code of a verification's result.
pub trait ExitCode {
    /// 0 pass, 1 fail, 2 usage, 3 could not verify.
    fn exit_code(&self) -> u8;
}

impl ExitCode for Outcome {
    fn exit_code(&self) -> u8 {
        match self {
            Outcome::Pass => 0,
            Outcome::Fail => 1,
            Outcome::Error => 3,
        }
    }
}

impl ExitCode for ErrorClass {
    fn exit_code(&self) -> u8 {
        match self {
            ErrorClass::Usage => EXIT_USAGE,
            ErrorClass::Fail => 1,
            // Could not check; also any class a later library adds: never 0.
            _ => 3,
        }
    }
}

impl ExitCode for Error {
    fn exit_code(&self) -> u8 {
        self.class().exit_code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_and_error_classes_map_to_the_documented_codes() {
        assert_eq!(Outcome::Pass.exit_code(), 0);
        assert_eq!(Outcome::Fail.exit_code(), 1);
        assert_eq!(Outcome::Error.exit_code(), 3);
        assert_eq!(ErrorClass::Usage.exit_code(), 2);
        assert_eq!(ErrorClass::Fail.exit_code(), 1);
        assert_eq!(ErrorClass::Error.exit_code(), 3);
    }
}
