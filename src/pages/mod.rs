//! One component per route. Pages read the address, call sign-in, and
//! compose views; they never import each other.

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
