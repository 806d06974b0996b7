//! What to do with a FHIR server's answer: use it, retry it (bounded,
//! honouring `Retry-After`), refresh the token once, or report it.

use super::models::outcome_text;
use crate::Error;

/// Attempts for one request when the server says 429 or 503.
pub const MAX_ATTEMPTS: u32 = 3;
/// The longest wait honoured from `Retry-After`, in seconds.
pub const MAX_RETRY_AFTER: u64 = 10;

/// The classification of one FHIR HTTP response.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: the body is the answer.
    Success,
    /// 401: refresh the access token once and retry, else report.
    Unauthorized,
    /// 429/503: wait this many seconds and retry (if attempts remain).
    RetryAfter(u64),
    /// Anything else: the error to show.
    Failed(Error),
}

/// `Retry-After` in seconds (RFC 9110 §10.2.3): delay-seconds, capped; an
/// HTTP-date or garbage gets one second.
pub fn retry_after_seconds(header: Option<&str>) -> u64 {
    header.and_then(|h| h.trim().parse::<u64>().ok()).unwrap_or(1).clamp(1, MAX_RETRY_AFTER)
}

/// Classifies a response to `url`.
pub fn classify(url: &str, status: u16, body: &str, retry_after: Option<&str>) -> Verdict {
    match status {
        200..=299 => Verdict::Success,
        401 => Verdict::Unauthorized,
        429 | 503 => Verdict::RetryAfter(retry_after_seconds(retry_after)),
        403 => Verdict::Failed(Error::FhirForbidden { diagnostics: outcome_text(body) }),
        404 => Verdict::Failed(Error::FhirNotFound { url: url.to_string(), diagnostics: outcome_text(body) }),
        _ => Verdict::Failed(Error::FhirServerError { status, diagnostics: outcome_text(body) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTCOME: &str =
        r#"{"resourceType": "OperationOutcome", "issue": [{"diagnostics": "outside the compartment"}]}"#;

    #[test]
    fn classifies_statuses() {
        assert_eq!(classify("u", 200, "{}", None), Verdict::Success);
        assert_eq!(classify("u", 401, "", None), Verdict::Unauthorized);
        assert_eq!(classify("u", 429, "", Some("3")), Verdict::RetryAfter(3));
        assert_eq!(classify("u", 503, "", None), Verdict::RetryAfter(1));
        assert_eq!(
            classify("u", 403, OUTCOME, None),
            Verdict::Failed(Error::FhirForbidden { diagnostics: Some("outside the compartment".into()) })
        );
        assert!(matches!(classify("https://x/Patient/1", 404, "", None), Verdict::Failed(Error::FhirNotFound { .. })));
        assert!(matches!(
            classify("u", 500, "<html>", None),
            Verdict::Failed(Error::FhirServerError { status: 500, diagnostics: None })
        ));
    }

    #[test]
    fn retry_after_is_bounded() {
        assert_eq!(retry_after_seconds(Some("120")), MAX_RETRY_AFTER);
        assert_eq!(retry_after_seconds(Some("0")), 1);
        assert_eq!(retry_after_seconds(Some("Wed, 21 Oct 2015 07:28:00 GMT")), 1);
        assert_eq!(retry_after_seconds(None), 1);
    }
}
