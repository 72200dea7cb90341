//! The per-module report: one line per check, plus the violation count that
//! decides the exit status.

use std::fmt::Display;

/// How many detail lines one check prints before it summarises the rest.
/// A PIC or SSE build produces hundreds of identical complaints; the first
/// few name the problem, the count says how widespread it is.
pub const MAX_DETAIL_LINES: usize = 20;

#[derive(Default)]
pub struct Report {
    violations: usize,
    warnings: usize,
}

impl Report {
    pub fn new() -> Self {
        Self::default()
    }

    /// A check that passed.
    pub fn ok(&mut self, check: &str, message: impl Display) {
        println!("  ok    {check}: {message}");
    }

    /// A violation: the module would be rejected by the kernel linker or is
    /// unsafe to load.  Every call counts towards the exit status.
    pub fn fail(&mut self, check: &str, message: impl Display) {
        self.violations += 1;
        println!("  FAIL  {check}: {message}");
    }

    /// Something worth a look that does not make the module unloadable.
    pub fn warn(&mut self, check: &str, message: impl Display) {
        self.warnings += 1;
        println!("  warn  {check}: {message}");
    }

    /// Plain information (decoded metadata records, skipped items).
    pub fn info(&mut self, check: &str, message: impl Display) {
        println!("  info  {check}: {message}");
    }

    /// Reports a list of violations, printing at most `MAX_DETAIL_LINES` of
    /// them but counting all.
    pub fn fail_all(&mut self, check: &str, messages: &[String]) {
        for message in messages.iter().take(MAX_DETAIL_LINES) {
            self.fail(check, message);
        }
        let hidden = messages.len().saturating_sub(MAX_DETAIL_LINES);
        if hidden > 0 {
            self.violations += hidden;
            println!("  FAIL  {check}: ... and {hidden} more like these");
        }
    }

    /// Reports a list of warnings the way `fail_all` reports violations.
    pub fn warn_all(&mut self, check: &str, messages: &[String]) {
        for message in messages.iter().take(MAX_DETAIL_LINES) {
            self.warn(check, message);
        }
        let hidden = messages.len().saturating_sub(MAX_DETAIL_LINES);
        if hidden > 0 {
            self.warnings += hidden;
            println!("  warn  {check}: ... and {hidden} more like these");
        }
    }

    pub fn violations(&self) -> usize {
        self.violations
    }

    pub fn warnings(&self) -> usize {
        self.warnings
    }
}
