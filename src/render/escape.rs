//! Escaping for every output format. Host names, URLs and message text come from logs, and anyone inside a
//! cluster chooses them (SNI, Host header, DNS queries); fwlog's output is read in terminals, rendered as
//! Markdown, opened in spreadsheets, committed as IaC and run as scripts. So every string from a log is written
//! through the function of its format here: it can never close a string, start an expression, a formula, a
//! link or HTML, break a comment onto a new line, or reach a terminal as a control sequence.

use std::borrow::Cow;

use crate::messages::{inert, is_unsafe_char};

/// Text for a terminal or a plain-text file: control characters, escape sequences and bidi overrides are
/// written as `\u{…}`.
pub fn terminal(s: &str) -> Cow<'_, str> {
    inert(s)
}

/// Text of a comment line (`//`, `#`): nothing can end the line early or reach a terminal raw.
pub fn comment(s: &str) -> Cow<'_, str> {
    inert(s)
}

/// A Markdown table cell or list item: inert, and every character that starts Markdown or HTML syntax
/// (emphasis, code, links, images, tags, entities, table pipes, strikethrough) escaped.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in inert(s).chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

/// A CSV cell: inert, and a cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab or carriage
/// return first) is prefixed with `'` so it stays text (OWASP's advice for CSV injection).
pub fn csv_cell(s: &str) -> Cow<'_, str> {
    let s = inert(s);
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{s}"))
    } else {
        s
    }
}

/// A Bicep single-quoted string: `\`, `'`, `${` (interpolation) and every unsafe character escaped.
pub fn bicep_string(s: &str) -> String {
    let mut o = String::from("'");
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\'' => o.push_str("\\'"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '$' => o.push_str("\\$"),
            c if is_unsafe_char(c) => o.push_str(&format!("\\u{{{:X}}}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('\'');
    o
}

/// An HCL (Terraform) quoted string: `\`, `"`, the template sequences `${` and `%{`, and every unsafe
/// character escaped.
pub fn hcl_string(s: &str) -> String {
    let mut o = String::from("\"");
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                o.push(c);
                o.push(c);
            }
            c if is_unsafe_char(c) && (c as u32) <= 0xFFFF => {
                o.push_str(&format!("\\u{:04X}", c as u32))
            }
            c if is_unsafe_char(c) => o.push_str(&format!("\\U{:08X}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A string in an ARM template: a value that starts with `[` and ends with `]` would be evaluated as an
/// expression, so it gets the documented `[[` escape; any other value is literal as it is.
pub fn arm_literal(s: &str) -> String {
    if s.starts_with('[') && s.ends_with(']') {
        format!("[{s}")
    } else {
        s.to_string()
    }
}

/// Serialized JSON made inert: every unsafe character (only ever inside a string: JSON's own syntax is ASCII
/// without controls) written as its `\uXXXX` escape, so the same JSON value never reaches a terminal or a
/// here-document raw. serde_json escapes C0 controls itself, but not DEL, C1 controls or bidi overrides. A line
/// break is only ever the pretty-printer's own (one in a string is escaped), so it stays.
pub fn json_text(s: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c != '\n' && is_unsafe_char(c);
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                o.push_str(&format!("\\u{:04x}", u));
            }
        } else {
            o.push(c);
        }
    }
    Cow::Owned(o)
}

/// A word for a POSIX shell command line, single-quoted unless it is plain. `None` for a value that must not
/// reach a command line at all: empty, with an unsafe character (a script shown in a terminal would carry
/// it), or starting with `-` or `@` (az would read it as an option, or as `@file` and load that file).
pub fn shell_word(s: &str) -> Option<String> {
    if s.is_empty() || s.starts_with(['-', '@']) || s.chars().any(is_unsafe_char) {
        return None;
    }
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@".contains(&b))
    {
        return Some(s.to_string());
    }
    Some(format!("'{}'", s.replace('\'', "'\\''")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_text_escapes_what_serde_json_leaves_raw() {
        let v = serde_json::json!({"a": "x\u{7f}\u{202e}y\u{85}"});
        let s = serde_json::to_string(&v).unwrap();
        let inert = json_text(&s);
        assert_eq!(inert, r#"{"a":"x\u007f\u202ey\u0085"}"#);
        let back: serde_json::Value = serde_json::from_str(&inert).unwrap();
        assert_eq!(back, v);
        assert!(matches!(json_text("{\n}"), Cow::Borrowed(_)));
    }

    #[test]
    fn markdown_cannot_start_syntax() {
        assert_eq!(markdown("mcr.microsoft.com"), "mcr.microsoft.com");
        assert_eq!(
            markdown("[x](https://evil)|<img src=x>"),
            "\\[x\\](https://evil)\\|\\<img src=x\\>"
        );
        assert_eq!(markdown("a\nb&c"), "a\\\\u{a}b&amp;c");
        assert_eq!(markdown("*.x_y`~"), "\\*.x\\_y\\`\\~");
    }

    #[test]
    fn csv_cells_are_never_formulas() {
        for f in ["=1+1", "+1", "-1", "@SUM(A1)"] {
            assert!(csv_cell(f).starts_with('\''), "{f:?}");
        }
        // Tab and carriage return are made inert first, so they cannot lead a cell either.
        assert_eq!(csv_cell("\tx"), "\\u{9}x");
        assert_eq!(csv_cell("\r=x"), "\\u{d}=x");
        assert_eq!(csv_cell("mcr.microsoft.com"), "mcr.microsoft.com");
        assert_eq!(csv_cell("a\u{1b}[31m"), "a\\u{1b}[31m");
    }

    #[test]
    fn iac_strings_cannot_break_out() {
        assert_eq!(bicep_string("a'b${c}\u{1b}"), "'a\\'b\\${c}\\u{1B}'");
        assert_eq!(
            hcl_string("a\"b${c}%{d}\\\u{202e}"),
            "\"a\\\"b$${c}%%{d}\\\\\\u202E\""
        );
        assert_eq!(arm_literal("[concat('a')]"), "[[concat('a')]");
        assert_eq!(arm_literal("[not an expression"), "[not an expression");
        assert_eq!(arm_literal("plain"), "plain");
    }

    #[test]
    fn shell_words_are_quoted_or_refused() {
        assert_eq!(
            shell_word("mcr.microsoft.com").unwrap(),
            "mcr.microsoft.com"
        );
        assert_eq!(shell_word("a b'c").unwrap(), "'a b'\\''c'");
        assert_eq!(shell_word("$(reboot)").unwrap(), "'$(reboot)'");
        for bad in ["", "-rf", "@/etc/passwd", "a\nb", "x\u{1b}y"] {
            assert_eq!(shell_word(bad), None, "{bad:?}");
        }
    }
}
