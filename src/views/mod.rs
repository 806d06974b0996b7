//! Small view components, one concern each. Views read the session through
//! its handle and sign-in through its state; they never reach the browser
//! except for timing marks and the page's own address.

mod clinical_section;
mod diagnostics;
mod error_view;
mod loadable;
mod patient_banner;
mod patient_picker;
mod progress;
mod sign_in_status;
mod signed_in;
mod summary;

pub use clinical_section::ClinicalSection;
pub use diagnostics::Diagnostics;
pub use error_view::ErrorView;
pub use patient_banner::PatientBanner;
pub use patient_picker::PatientPicker;
pub use progress::Progress;
pub use sign_in_status::SignInStatus;
pub use signed_in::SignedInArea;
pub use summary::Summary;
