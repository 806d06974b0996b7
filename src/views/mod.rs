//! Small view components, one concern each.

mod error_view;
mod progress;
mod session_summary;

pub use error_view::ErrorView;
pub use progress::Progress;
pub use session_summary::SessionSummary;
