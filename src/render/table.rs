//! The terminal table every human format uses, and how wide it may be.

use comfy_table::{Cell, ContentArrangement, Table, presets};

/// Width of a table that does not go to a terminal (a file or a pipe): fixed, so piped output is the same
/// wherever it runs. `--width` or `COLUMNS` choose another.
pub const PIPED_WIDTH: u16 = 100;

/// From this width on, tables show every column; below it, a compact layout keeps each row to one or two
/// lines (the other formats always have everything).
pub const WIDE_FROM: u16 = 140;

/// How a table is laid out: its width, and whether cells may be coloured (a terminal, `NO_COLOR` unset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub width: u16,
    pub color: bool,
    pub terminal: bool,
}

impl Layout {
    /// The layout for stdout or a file: `width` when given, else `COLUMNS`, else the terminal's width, else
    /// [`PIPED_WIDTH`].
    pub fn detect(to_terminal: bool, width: Option<u16>) -> Layout {
        let columns = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<u16>().ok())
            .filter(|c| *c >= 40);
        let terminal_width = to_terminal
            .then(|| Table::new().width())
            .flatten()
            .filter(|w| *w >= 40);
        Layout {
            width: width.or(columns).or(terminal_width).unwrap_or(PIPED_WIDTH),
            color: to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            terminal: to_terminal,
        }
    }

    pub fn wide(&self) -> bool {
        self.width >= WIDE_FROM
    }
}

/// A table in fwlog's style, wrapped to the layout's width.
pub fn new_table(headers: &[&str], layout: &Layout) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED);
    t.set_content_arrangement(ContentArrangement::Dynamic);
    t.set_width(layout.width);
    if !layout.terminal {
        t.force_no_tty();
    }
    t.set_header(headers.iter().map(Cell::new));
    t
}

/// The table style for narrow widths: lines above and below, none between columns or rows, which gives
/// their characters to the content.
pub fn without_vertical_lines(t: &mut Table) {
    use comfy_table::{LineStyle, TableStyle};
    const COMPACT: TableStyle = TableStyle::new()
        .top_border(LineStyle::none().fill('─').junction('─'))
        .header_separator(LineStyle::none().fill('═').junction('═'))
        .bottom_border(LineStyle::none().fill('─').junction('─'));
    t.load_style(COMPACT);
}

/// `text` wrapped at spaces to lines of at most `width` characters (a word longer than that keeps its line).
pub fn wrap(text: &str, width: u16) -> String {
    let width = usize::from(width.max(20));
    let mut out = String::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split(' ') {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                out.push_str(line.trim_end());
                out.push('\n');
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_lines_within_the_width() {
        let t = "78 events read (78 in window), 73 denies in 16 groups, 0 skipped; data covers \
                 2026-09-07T09:00:07.919000Z .. 2026-09-07T09:09:45.213000Z";
        let w = wrap(t, 40);
        assert!(w.lines().all(|l| l.chars().count() <= 40), "{w}");
        assert_eq!(w.replace('\n', " "), t);
        assert_eq!(wrap("short", 80), "short");
    }
}
