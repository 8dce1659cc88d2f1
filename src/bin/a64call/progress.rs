//! Progress of long runs (indicatif) on stderr, drawn only when stderr is a terminal: logs and
//! CI output stay as they were.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over `len` steps of `what` (e.g. "planted bugs").
pub(crate) fn counted(len: u64, what: &'static str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(what);
    bar
}

/// A counter of `what` with no known end (a time budget).
pub(crate) fn open_ended(what: &'static str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos} {prefix} {msg} ({elapsed})")
            .expect("a valid template"),
    );
    bar.set_prefix(what);
    bar
}
