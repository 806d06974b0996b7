//! Response helpers shared by the sandbox's roles.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

pub fn json_response(status: StatusCode, value: &Value) -> Response {
    with_type(status, "application/json", value.to_string())
}

pub fn fhir_response(status: StatusCode, value: &Value) -> Response {
    with_type(status, "application/fhir+json", value.to_string())
}

pub fn html_response(status: StatusCode, html: String) -> Response {
    with_type(status, "text/html; charset=utf-8", html)
}

pub fn with_type(status: StatusCode, content_type: &str, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 307 Temporary Redirect: the client is to repeat the same request, body
/// and all, at `location` (RFC 9110 §15.4.8).
pub fn temporary_redirect(location: &str) -> Response {
    let mut response = redirect(location);
    *response.status_mut() = StatusCode::TEMPORARY_REDIRECT;
    response
}

pub fn redirect(location: &str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::FOUND;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// An OAuth error body (RFC 6749 §5.2).
pub fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(status, &json!({"error": error, "error_description": description}))
}

/// A FHIR OperationOutcome with one issue.
pub fn outcome(status: StatusCode, code: &str, diagnostics: &str) -> Response {
    fhir_response(
        status,
        &json!({"resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}]}),
    )
}

/// Escapes text for HTML (patient names hold markup on purpose).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// A query string from pairs, percent-encoded.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        serializer.append_pair(k, v);
    }
    serializer.finish()
}

/// The page frame shared by the EHR simulator and the consent page.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:0;background:#eef1f5;color:#1b1f24}}\
         header{{background:#2d3e50;color:#fff;padding:.6rem 1rem;font-weight:600}}\
         main{{padding:1rem;max-width:70rem;margin:auto}} label{{display:block;margin:.4rem 0}}\
         fieldset{{border:1px solid #c8ced6;margin:.6rem 0;background:#fff}}\
         .banner{{background:#fff;border-left:4px solid #2d3e50;padding:.5rem 1rem;margin-bottom:.5rem}}\
         iframe{{width:100%;height:75vh;border:1px solid #c8ced6;background:#fff}}\
         button{{font:inherit;padding:.4rem 1rem;margin-right:.5rem}}</style></head>\
         <body><header>{}</header><main>{}</main></body></html>",
        escape(title),
        escape(title),
        body
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("<b>\"x\" & 'y'</b>"), "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;");
    }
}
