//! What the measurement tells the person running it, behind one trait: the terminal display
//! ([`TerminalProgress`]: steps, notes, a bar of the cold starts done with the time left) and, in
//! tests, a recorder.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub trait Progress {
    /// A step of the work: `==> creating catalog-dev-cs1a2b3c-lith-projects-arm`.
    fn step(&mut self, message: &str);
    /// A detail under the current step.
    fn note(&mut self, message: &str);
    /// The cold starts begin: `total` of them.
    fn begin(&mut self, total: usize);
    /// `done` cold starts of the total are over; `what` is the last one.
    fn sample(&mut self, done: usize, what: &str);
    /// The cold starts are over (the bar goes).
    fn end(&mut self);
}

/// The terminal display. Without a terminal (CI, a pipe) the bar stays hidden and each cold start
/// is a line.
#[derive(Default)]
pub struct TerminalProgress {
    bar: Option<ProgressBar>,
    total: usize,
}

impl TerminalProgress {
    pub fn new() -> TerminalProgress {
        TerminalProgress::default()
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(text),
            _ => println!("{text}"),
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

    fn begin(&mut self, total: usize) {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "    [{bar:30}] {pos}/{len} cold starts ({elapsed}, about {eta} left) {msg}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(250));
        self.total = total;
        self.bar = Some(bar);
    }

    fn sample(&mut self, done: usize, what: &str) {
        match &self.bar {
            Some(bar) if !bar.is_hidden() => {
                bar.set_position(done as u64);
                bar.set_message(what.to_owned());
            }
            _ => println!("    {done}/{} {what}", self.total),
        }
    }

    fn end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// The deployer's upload speaks [`deployer::Progress`]; its steps and notes go to ours.
pub(crate) struct Upload<'a>(pub &'a mut dyn Progress);

impl deployer::Progress for Upload<'_> {
    fn step(&mut self, message: &str) {
        self.0.step(message);
    }
    fn note(&mut self, message: &str) {
        self.0.note(message);
    }
    fn changes(&mut self, _: &[deployer::ResourceChange]) {}
    /// An upload asks nothing.
    fn confirm(&mut self, _: &str) -> bool {
        true
    }
    fn begin(&mut self, _: &str, _: usize) {}
    fn event(&mut self, _: &deployer::StackEvent) {}
    fn advance(&mut self, _: usize) {}
    fn end(&mut self) {}
}
