//! One home for what fwlog tells the user on stderr: the `fwlog:` prefix, the verbosity (`-v`, `-vv`) and the
//! escaping of text that came from logs or servers.
//!
//! Verbosity is set once by the command line and read here, so no function takes a `verbose` argument. Every
//! message is made inert before it reaches the terminal: log content (host names, legacy messages, server
//! replies) is chosen by whoever sends the traffic, so control characters, escape sequences and bidirectional
//! overrides are written as `\u{…}` escapes instead of raw. Secrets never leave: every token fwlog obtains
//! and every secret in its environment is registered here ([`register_secret`]) and replaced by `[redacted]`
//! in any message, as are bearer tokens and JWTs a server echoes back.

use std::borrow::Cow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

static VERBOSITY: AtomicU8 = AtomicU8::new(0);
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `-q`: no progress and no `-v` detail (warnings and errors still print).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Values that must never be printed (tokens obtained, secrets read from the environment).
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Never print `secret` (ignored when shorter than 8 characters: it would redact ordinary words).
pub fn register_secret(secret: &str) {
    if secret.len() < 8 {
        return;
    }
    let mut s = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    if !s.iter().any(|x| x == secret) {
        s.push(secret.to_string());
    }
}

/// Register the secrets fwlog may send: the service principal secret and the managed identity header.
pub fn register_environment_secrets() {
    for k in ["AZURE_CLIENT_SECRET", "IDENTITY_HEADER", "MSI_SECRET"] {
        if let Ok(v) = std::env::var(k) {
            register_secret(&v);
        }
    }
}

/// `text` with every registered secret, every `Bearer …` credential and every JWT replaced by `[redacted]`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = Cow::Borrowed(text);
    for s in secrets.iter() {
        if out.contains(s.as_str()) {
            out = Cow::Owned(out.replace(s.as_str(), "[redacted]"));
        }
    }
    static PATTERNS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}|\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
        )
        .expect("valid pattern")
    });
    if PATTERNS.is_match(&out) {
        out = Cow::Owned(PATTERNS.replace_all(&out, "[redacted]").into_owned());
    }
    out
}

/// Set the verbosity (`-v` count); 0 prints only what always matters.
pub fn set_verbosity(level: u8) {
    VERBOSITY.store(level, Ordering::Relaxed);
}

pub fn verbosity() -> u8 {
    VERBOSITY.load(Ordering::Relaxed)
}

/// Whether `-v` (1) or `-vv` (2) output is wanted.
pub fn verbose(level: u8) -> bool {
    verbosity() >= level
}

/// Characters that change how a terminal shows text rather than being text: C0 and C1 controls, DEL, and the
/// Unicode format characters that reorder or hide text (bidi overrides and isolates, zero-width characters).
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// `text` with every unsafe character (see [`is_unsafe_char`]) written as a `\u{…}` escape; a borrowed copy
/// when there is none.
pub fn inert(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Print one line to stderr with the `fwlog:` prefix, secrets redacted and made inert (above the progress
/// bar, when one is shown).
pub fn emit(line: std::fmt::Arguments<'_>) {
    let text = format!("fwlog: {}", inert(&redact(&line.to_string())));
    match PROGRESS.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        Some(bar) => bar.suspend(|| eprintln!("{text}")),
        None => eprintln!("{text}"),
    }
}

/// The bar of a long read, shown only on a terminal and never with `-q`.
static PROGRESS: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);

/// Show progress while reading `files` inputs of `bytes` bytes in all (when stderr is a terminal and `-q` is
/// not given): files, bytes and records as they are read.
pub fn start_progress(files: usize, bytes: u64) {
    use std::io::IsTerminal;
    if quiet() || !std::io::stderr().is_terminal() {
        return;
    }
    let bar = indicatif::ProgressBar::new(bytes);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} reading {msg} [{bar:24}] {bytes}/{total_bytes} ({eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(format!("0/{files} files"));
    bar.tick();
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    *PROGRESS.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
}

fn with_bar(f: impl FnOnce(&indicatif::ProgressBar)) {
    if let Some(bar) = PROGRESS.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        f(bar);
    }
}

/// A file of the read started (`done` files before it, of `files`), with `records` read so far.
pub fn progress_file(done: usize, files: usize, records: u64) {
    with_bar(|b| b.set_message(format!("{done}/{files} files, {records} records")));
}

/// `n` more bytes of the inputs were read.
pub fn progress_bytes(n: u64) {
    with_bar(|b| b.inc(n));
}

/// Reading is over: the bar goes away.
pub fn finish_progress() {
    if let Some(bar) = PROGRESS.lock().unwrap_or_else(|e| e.into_inner()).take() {
        bar.finish_and_clear();
    }
}

/// Always printed: warnings and outcomes the user must see.
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => { $crate::messages::emit(format_args!($($arg)*)) };
}

/// Printed with `-v`: what was read and used, skipped records, sources.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => {
        if $crate::messages::verbose(1) {
            $crate::messages::emit(format_args!($($arg)*))
        }
    };
}

/// Printed with `-vv`: request-level detail.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::messages::verbose(2) {
            $crate::messages::emit(format_args!($($arg)*))
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_echoed_tokens_are_redacted() {
        register_secret("s3cr3t-value-123");
        register_secret("short");
        assert_eq!(
            redact("header x-identity-header: s3cr3t-value-123 sent"),
            "header x-identity-header: [redacted] sent"
        );
        assert_eq!(redact("a short word"), "a short word");
        assert_eq!(
            redact("Authorization: Bearer abcdefgh.ijkl-mnop_qrs"),
            "Authorization: [redacted]"
        );
        assert_eq!(
            redact("token eyJhbGciOi.eyJzdWIiOi.sig_part"),
            "token [redacted]"
        );
        assert!(matches!(redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn control_and_bidi_characters_are_escaped() {
        assert!(matches!(inert("mcr.microsoft.com"), Cow::Borrowed(_)));
        assert_eq!(inert("a\u{1b}]0;x\u{7}b"), "a\\u{1b}]0;x\\u{7}b");
        assert_eq!(inert("evil\u{202e}moc.x"), "evil\\u{202e}moc.x");
        assert_eq!(inert("line\nbreak\r"), "line\\u{a}break\\u{d}");
        assert_eq!(inert("zero\u{200b}width"), "zero\\u{200b}width");
        assert_eq!(inert("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(inert("ümlaut – dash"), "ümlaut – dash");
    }
}
