//! What a deployment tells the person running it, behind one trait: the terminal display
//! ([`TerminalProgress`]: steps, the change-set table, a spinner with the count of resources done
//! and one line per stack event) and, in tests, a recorder.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::changeset::ResourceChange;
use crate::events::StackEvent;

pub trait Progress {
    /// A step of the work: `==> uploading packages`.
    fn step(&mut self, message: &str);
    /// A detail under the current step.
    fn note(&mut self, message: &str);
    /// The changes a change set would make, before they are confirmed.
    fn changes(&mut self, changes: &[ResourceChange]);
    /// Asks a yes/no question; `true` goes ahead.
    fn confirm(&mut self, question: &str) -> bool;
    /// A stack operation starts; `total` resources are expected to change.
    fn begin(&mut self, operation: &str, total: usize);
    /// One stack event, as CloudFormation reported it.
    fn event(&mut self, event: &StackEvent);
    /// `done` resources of the operation have settled.
    fn advance(&mut self, done: usize);
    /// The operation has ended (the spinner goes).
    fn end(&mut self);
}

/// The terminal display. Without a terminal (CI, a pipe), the spinner stays hidden and the lines
/// are printed as they come.
pub struct TerminalProgress {
    /// Answer every question with yes (`--yes`).
    assume_yes: bool,
    bar: Option<ProgressBar>,
    total: usize,
}

impl TerminalProgress {
    pub fn new(assume_yes: bool) -> TerminalProgress {
        TerminalProgress {
            assume_yes,
            bar: None,
            total: 0,
        }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => println!("{text}"),
        }
    }
}

impl Progress for TerminalProgress {
    fn step(&mut self, message: &str) {
        self.line(&format!("==> {message}"));
    }

    fn note(&mut self, message: &str) {
        self.line(&format!("    {message}"));
    }

    fn changes(&mut self, changes: &[ResourceChange]) {
        println!("{}", change_table(changes));
    }

    fn confirm(&mut self, question: &str) -> bool {
        if self.assume_yes {
            println!("{question} yes (--yes)");
            return true;
        }
        use std::io::Write;
        print!("{question} [y/N] ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        if std::io::stdin().read_line(&mut answer).is_err() {
            return false;
        }
        matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
    }

    fn begin(&mut self, operation: &str, total: usize) {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar.set_message(format!("{operation}: 0/{total} resources"));
        bar.set_prefix(operation.to_owned());
        self.total = total;
        self.bar = Some(bar);
    }

    fn event(&mut self, event: &StackEvent) {
        self.line(&event_line(event));
    }

    fn advance(&mut self, done: usize) {
        if let Some(bar) = &self.bar {
            let total = self.total.max(done);
            bar.set_message(format!("{}: {done}/{total} resources", bar.prefix()));
        }
    }

    fn end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// One stack event as a line: time, status, type, logical id, reason.
pub fn event_line(event: &StackEvent) -> String {
    // Widths of the longest status (UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS) and of the
    // longest type these stacks hold (AWS::WAFv2::WebACLAssociation).
    let mut line = format!(
        "    {}  {:<44} {:<29} {}",
        event.time, event.status, event.resource_type, event.logical_id
    );
    if let Some(reason) = event
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        line.push_str(&format!("  {reason}"));
    }
    line
}

/// The change set as a table: action, logical id, type, replacement.
pub fn change_table(changes: &[ResourceChange]) -> String {
    let header = ["action", "logical id", "type", "replacement"];
    let rows: Vec<[String; 4]> = changes
        .iter()
        .map(|c| {
            [
                c.action.clone(),
                c.logical_id.clone(),
                c.resource_type.clone(),
                c.replacement.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in std::iter::once(header.map(str::to_owned)).chain(rows) {
        let mut line = String::from("    ");
        for (cell, width) in row.iter().zip(widths) {
            line.push_str(&format!("{cell:<width$}  "));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_change_table_lines_up() {
        let changes = [
            ResourceChange {
                action: "Add".into(),
                logical_id: "LithFunction".into(),
                resource_type: "AWS::Lambda::Function".into(),
                replacement: None,
            },
            ResourceChange {
                action: "Modify".into(),
                logical_id: "Api".into(),
                resource_type: "AWS::ApiGateway::RestApi".into(),
                replacement: Some("False".into()),
            },
        ];
        assert_eq!(
            change_table(&changes),
            "    action  logical id    type                      replacement\n\
             \x20   Add     LithFunction  AWS::Lambda::Function     -\n\
             \x20   Modify  Api           AWS::ApiGateway::RestApi  False\n"
        );
    }
}
