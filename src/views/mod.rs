//! Small view components, one concern each.

mod clinical_section;
mod diagnostics;
mod error_view;
mod patient_banner;
mod patient_picker;
mod progress;

pub use clinical_section::ClinicalSection;
pub use diagnostics::Diagnostics;
pub use error_view::ErrorView;
pub use patient_banner::PatientBanner;
pub use patient_picker::PatientPicker;
pub use progress::Progress;
