//! One component per route.

mod callback;
mod launch;
mod not_found;
mod standalone;
mod summary;

pub use callback::CallbackPage;
pub use launch::LaunchPage;
pub use not_found::NotFoundPage;
pub use standalone::StandalonePage;
pub use summary::SummaryPage;
