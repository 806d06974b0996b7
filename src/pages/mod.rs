//! One component per route.

mod callback;
mod launch;
mod not_found;
mod popup_sign_in;
mod signed_in;
mod standalone;
mod summary;

pub use callback::{finish_sign_in, start_early as start_callback_early, CallbackPage, Completion};
pub use launch::LaunchPage;
pub use not_found::NotFoundPage;
pub use signed_in::{summary_path, SignedInArea};
pub use standalone::StandalonePage;
pub use summary::SummaryPage;
