//! FHIR R4: the few resources the app shows, as tolerant hand-written
//! models (unknown fields ignored, every field optional), Bundles and
//! OperationOutcomes, how a FHIR response is classified, and the display
//! rules (names, ages, MRNs, codes, quantities, abnormal results).
//!
//! A full FHIR model crate would add megabytes to the wasm bundle; the
//! fields shown here cost a few kilobytes.

pub mod display;
pub mod flags;
pub mod models;
pub mod response;
pub mod summary;

pub use models::*;
