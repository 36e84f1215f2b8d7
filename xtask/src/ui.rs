//! Terminal output: progress steps, notes, command echo, aligned tables and byte sizes.

use std::fmt;
use std::path::Path;
use std::process::Command;

/// A progress line: `==> building release binaries (lith, meta)`.
pub fn step(message: impl fmt::Display) {
    println!("==> {message}");
}

/// A detail under a step, indented to line up with the step's text.
pub fn note(message: impl fmt::Display) {
    println!("    {message}");
}

/// Echoes a command before it runs, as a shell would show it.
pub fn command(command: &Command) {
    note(format_args!("$ {}", command_line(command)));
}

/// The last line of a command's output: what to run next.
pub fn next(command: &str) {
    println!();
    println!("next: {command}");
}

/// `KEY=value program args...`, with the program shown by its file name and odd words quoted.
pub fn command_line(command: &Command) -> String {
    let mut words = Vec::new();
    for (key, value) in command.get_envs() {
        // PATH is long and says little; commands that change it say so in a note.
        if let Some(value) = value.filter(|_| key != "PATH") {
            words.push(format!(
                "{}={}",
                key.to_string_lossy(),
                quote(&value.to_string_lossy())
            ));
        }
    }
    let program = Path::new(command.get_program());
    let program = program.file_name().unwrap_or(program.as_os_str());
    words.push(quote(&program.to_string_lossy()));
    words.extend(command.get_args().map(|arg| quote(&arg.to_string_lossy())));
    words.join(" ")
}

fn quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A size for people: `1.9 MB` (decimal units, as AWS quotes Lambda limits).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// An exact size with thousands separators: `1,934,112 B`.
pub fn exact_bytes(bytes: u64) -> String {
    let digits = bytes.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 2);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out.push_str(" B");
    out
}

/// `1.9 MB (1,934,112 B)`.
pub fn bytes(bytes: u64) -> String {
    format!("{} ({})", human_bytes(bytes), exact_bytes(bytes))
}

/// A table printed with columns padded to their widest cell, indented like [`note`].
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<const N: usize>(header: [&str; N]) -> Table {
        Table {
            rows: vec![header.iter().map(|cell| cell.to_string()).collect()],
        }
    }

    pub fn row<const N: usize>(&mut self, cells: [String; N]) -> &mut Table {
        self.rows.push(cells.into());
        self
    }

    pub fn print(&self) {
        print!("{self}");
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(c))
                    .map(|s| s.chars().count())
                    .max()
            })
            .map(Option::unwrap_or_default)
            .collect();
        for row in &self.rows {
            let mut line = String::from("    ");
            for (cell, width) in row.iter().zip(&widths) {
                line.push_str(&format!("{cell:<width$}  "));
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1000), "1.0 kB");
        assert_eq!(human_bytes(912_345), "912.3 kB");
        assert_eq!(human_bytes(999_960), "1.0 MB");
        assert_eq!(human_bytes(1_934_112), "1.9 MB");
        assert_eq!(exact_bytes(7), "7 B");
        assert_eq!(exact_bytes(1_934_112), "1,934,112 B");
        assert_eq!(exact_bytes(100_000), "100,000 B");
        assert_eq!(bytes(1_934_112), "1.9 MB (1,934,112 B)");
    }

    #[test]
    fn tables_align_their_columns() {
        let mut table = Table::new(["function", "zip"]);
        table
            .row(["lith".into(), "0.9 MB".into()])
            .row(["technologies".into(), "1 kB".into()]);
        assert_eq!(
            table.to_string(),
            "    function      zip\n    lith          0.9 MB\n    technologies  1 kB\n"
        );
    }

    #[test]
    fn commands_are_echoed_like_a_shell_would_show_them() {
        let mut command = Command::new("/toolchain/bin/cargo");
        command
            .env("CATALOG_LAMBDA_DIR", "/w/target/lambda")
            .args(["test", "it's", "a b"]);
        assert_eq!(
            command_line(&command),
            r"CATALOG_LAMBDA_DIR=/w/target/lambda cargo test 'it'\''s' 'a b'"
        );
    }
}
