//! `dhi-verify policy init | check`: write the default policy, or validate one.

use dhi_verify::policy::{load_policy, DEFAULT_POLICY_TOML};

use crate::args::PolicyCommand;
use crate::EXIT_USAGE;

pub fn run(command: PolicyCommand) -> u8 {
    match command {
        PolicyCommand::Init => {
            print!("{DEFAULT_POLICY_TOML}");
            0
        }
        PolicyCommand::Check { file } => match load_policy(&file) {
            // `image` refuses such a policy (exit 2); say so here too
            Ok(loaded) if loaded.policy.requirements().is_empty() => {
                eprintln!(
                    "dhi-verify: {}: {}",
                    file.display(),
                    dhi_verify::ConfigError::NothingRequired
                );
                EXIT_USAGE
            }
            Ok(loaded) => {
                let required: Vec<&str> = loaded
                    .policy
                    .requirements()
                    .iter()
                    .map(|r| r.name())
                    .collect();
                println!(
                    "{}: valid; requires {} on {} platform(s); trusts {} key(s) and {} keyless identity(ies)",
                    file.display(),
                    required.join(", "),
                    match loaded.policy.platform_rule() {
                        dhi_verify::policy::PlatformRule::All => "all selected",
                        dhi_verify::policy::PlatformRule::Any => "any selected",
                    },
                    loaded.trust.keys().len(),
                    loaded.trust.identities().len()
                );
                0
            }
            Err(e) => {
                eprintln!("dhi-verify: {e}");
                EXIT_USAGE
            }
        },
    }
}
