//! Sign-in in a popup window: the popup comes back to the app's callback
//! page, which hands the response to the window that opened it (with a
//! `postMessage` addressed to the app's own origin) and closes. The opener
//! holds the verifier and state in memory and checks the response exactly
//! as the redirect flow does.

use crate::route::query_value;

/// Marks the app's own messages among whatever else a page receives.
pub const PREFIX: &str = "smart-sign-in-callback:";

/// Longest query a hand-back may carry; authorization responses are far
/// shorter, and anything longer is not one.
pub const MAX_QUERY_LENGTH: usize = 16 * 1024;

/// The message the popup posts: the callback query, prefixed.
pub fn handback_message(query: &str) -> String {
    format!("{PREFIX}{query}")
}

/// The callback query inside a received message, if it is one.
pub fn parse_handback(data: &str) -> Option<&str> {
    data.strip_prefix(PREFIX).filter(|query| query.len() <= MAX_QUERY_LENGTH)
}

/// Whether this page load is a sign-in popup coming back: it has an
/// opener on the app's own origin, the query carries a `state`, and no pending authorization for
/// that state was stored in this window (a redirect sign-in stores one;
/// a popup sign-in keeps it in the opener's memory).
pub fn is_handback(has_opener: bool, query: &str, pending_stored_here: impl FnOnce(&str) -> bool) -> bool {
    has_opener && query_value(query, "state").is_some_and(|state| !pending_stored_here(&state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_others_are_ignored() {
        let query = "?code=abc&state=xyz";
        assert_eq!(parse_handback(&handback_message(query)), Some(query));
        assert_eq!(parse_handback("?code=abc&state=xyz"), None);
        assert_eq!(parse_handback("another-app:?code=1"), None);
        assert_eq!(parse_handback(&handback_message(&"a".repeat(MAX_QUERY_LENGTH + 1))), None);
    }

    #[test]
    fn only_an_opened_window_without_a_stored_record_hands_back() {
        let query = "?code=abc&state=xyz";
        assert!(is_handback(true, query, |_| false));
        // A redirect sign-in in a window that happens to have an opener.
        assert!(!is_handback(true, query, |state| state == "xyz"));
        assert!(!is_handback(false, query, |_| false));
        assert!(!is_handback(true, "?code=abc", |_| false));
    }
}
