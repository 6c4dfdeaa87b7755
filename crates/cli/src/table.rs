//! Every table the CLI prints, through one table crate: columns sized to their contents,
//! no borders, two spaces between columns, so output stays readable in a terminal and
//! easy to `grep` or `awk`. Cells are plain text; nothing in them is interpreted.

use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table};

/// How a column's cells are aligned: text left, counts right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// A table of `header` and `rows`, each row as long as the header.
pub(crate) fn render(header: &[(&str, Align)], rows: Vec<Vec<String>>) -> String {
    let mut table = Table::new();
    table
        .load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().map(|(name, _)| *name));
    for row in rows {
        table.add_row(row);
    }
    for (index, (_, align)) in header.iter().enumerate() {
        if let Some(column) = table.column_mut(index) {
            column.set_padding((0, 2));
            column.set_constraint(ColumnConstraint::ContentWidth);
            if *align == Align::Right {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
    }
    table
        .lines()
        .map(|line| line.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_fit_their_widest_cell() {
        let text = render(
            &[("NAME", Align::Left), ("CALLS", Align::Right)],
            vec![
                vec!["a".to_owned(), "7".to_owned()],
                vec!["longer".to_owned(), "1234".to_owned()],
            ],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("NAME    CALLS"), "{text}");
        assert!(lines[1].starts_with("a           7"), "{text}");
        assert!(lines[2].starts_with("longer   1234"), "{text}");
    }
}
