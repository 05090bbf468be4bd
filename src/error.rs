//! Exit codes, in one place:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | `--fail-on` found denies at or above its level (a pipeline gate) |
//! | 2 | bad input or usage the user can fix: a bad file, argument or catalog ([`UserError`]) |
//! | 3 | nothing to write: `recommend` found no rule for an IaC format, and wrote no deployable group |
//! | 4 | could not finish: the service did not answer, an I/O error, an internal error |
//!
//! Failures exit 4, not 1, so a pipeline gate on 1 never mistakes a crash for denied traffic.

use std::fmt;

/// A problem the user caused and can fix; the message names the file, line or field and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError(pub String);

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UserError {}

/// Build an `anyhow::Error` carrying a [`UserError`].
pub fn user(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UserError(msg.into()))
}

/// `--fail-on` found denies at or above its level.
pub const EXIT_GATE: u8 = 1;
/// `recommend` had no rule to write in an IaC format.
pub const EXIT_NOTHING_TO_WRITE: u8 = 3;
/// Anything that is not the user's to fix.
pub const EXIT_FAILED: u8 = 4;

/// Exit code for an error: 2 when any cause in the chain is a [`UserError`], else [`EXIT_FAILED`].
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err.chain().any(|c| c.downcast_ref::<UserError>().is_some()) {
        2
    } else {
        EXIT_FAILED
    }
}
