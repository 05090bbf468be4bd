//! The terminal table every human format uses.

use comfy_table::{Cell, ContentArrangement, Table, presets};

/// A table in fwlog's style: fitted to the terminal when there is one, laid out in full for files and pipes.
pub fn new_table(headers: &[&str], terminal: bool) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED);
    t.set_content_arrangement(if terminal {
        ContentArrangement::Dynamic
    } else {
        ContentArrangement::Disabled
    });
    if !terminal {
        t.force_no_tty();
    }
    t.set_header(headers.iter().map(Cell::new));
    t
}
