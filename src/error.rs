//! Error kinds that decide the exit code. Anything the user can fix (a bad file, a bad argument, a bad catalog)
//! is a [`UserError`] and exits 2 with one clear message; everything else exits 1.

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

/// Exit code for an error: 2 when any cause in the chain is a [`UserError`], else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err.chain().any(|c| c.downcast_ref::<UserError>().is_some()) {
        2
    } else {
        1
    }
}
