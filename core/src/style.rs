//! SMART styling (`smart_style_url`): the EHR's style document, validated
//! value by value into CSS custom properties the app's theme is built on.
//!
//! Only colours, lengths and font-family lists get through; anything that
//! could break out of a property value (`;`, braces, `url(`, comments,
//! backslashes, `expression`) is refused and reported.

use serde_json::Value;

/// What kind of value a style field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Color,
    Length,
    Font,
}

/// The SMART style fields and the custom property each one sets.
const FIELDS: &[(&str, &str, Kind)] = &[
    ("color_background", "--color-background", Kind::Color),
    ("color_error", "--color-error", Kind::Color),
    ("color_highlight", "--color-highlight", Kind::Color),
    ("color_modal_backdrop", "--color-modal-backdrop", Kind::Color),
    ("color_success", "--color-success", Kind::Color),
    ("color_text", "--color-text", Kind::Color),
    ("dim_border_radius", "--dim-border-radius", Kind::Length),
    ("dim_font_size", "--dim-font-size", Kind::Length),
    ("dim_spacing_size", "--dim-spacing-size", Kind::Length),
    ("font_family_body", "--font-family-body", Kind::Font),
    ("font_family_heading", "--font-family-heading", Kind::Font),
];

/// The outcome of reading a style document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Style {
    /// `(custom property, value)` pairs to apply.
    pub properties: Vec<(&'static str, String)>,
    /// Fields refused, with why (for the diagnostics).
    pub rejected: Vec<String>,
}

fn valid_color(v: &str) -> bool {
    if let Some(hex) = v.strip_prefix('#') {
        return matches!(hex.len(), 3 | 4 | 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    if let Some(args) = ["rgb(", "rgba(", "hsl(", "hsla("].iter().find_map(|f| v.strip_prefix(f)) {
        return args.strip_suffix(')').is_some_and(|inner| {
            inner.bytes().all(|b| b.is_ascii_digit() || matches!(b, b' ' | b',' | b'.' | b'%' | b'/'))
        });
    }
    // A named colour: letters only (`rebeccapurple`, `transparent`).
    (3..=20).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphabetic())
}

fn valid_length(v: &str) -> bool {
    let number_end = v.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(v.len());
    // Checked, though `find` gives a char boundary: `split_at`'s panic
    // path is large in the wasm (see url.rs).
    let (number, unit) = v.split_at_checked(number_end).unwrap_or((v, ""));
    // Digits with at most one '.' (a float parse would pull its tables into the wasm).
    number.bytes().any(|b| b.is_ascii_digit())
        && number.bytes().filter(|&b| b == b'.').count() <= 1
        && (matches!(unit, "px" | "em" | "rem" | "%" | "pt" | "vh" | "vw") || (unit.is_empty() && number == "0"))
}

fn valid_font(v: &str) -> bool {
    // Letters and digits of any script (non-ASCII ones cannot end a CSS
    // value), spaces, commas, quotes, '-' and '_'.
    v.len() <= 200
        && v.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || (!c.is_ascii() && !c.is_control())
                || matches!(c, ' ' | ',' | '-' | '\'' | '"' | '_')
        })
}

/// Parses a style document. Empty values and unknown fields are skipped.
pub fn parse_style(body: &str) -> Result<Style, String> {
    let value = crate::json::parse(body.as_bytes()).map_err(|e| format!("the style document {e}"))?;
    let Value::Object(doc) = value else { return Err("the style document is not a JSON object".into()) };
    let mut style = Style::default();
    for (field, property, kind) in FIELDS {
        let Some(raw) = doc.get(*field) else { continue };
        let Some(text) = raw.as_str().map(str::trim) else {
            style.rejected.push(format!("{field}: not a string"));
            continue;
        };
        if text.is_empty() {
            continue;
        }
        let ok = match kind {
            Kind::Color => valid_color(text),
            Kind::Length => valid_length(text),
            Kind::Font => valid_font(text),
        };
        if ok {
            style.properties.push((property, text.to_string()));
        } else {
            style.rejected.push(format!(
                "{field}: \"{text}\" is not a valid {}",
                match kind {
                    Kind::Color => "colour",
                    Kind::Length => "length",
                    Kind::Font => "font list",
                }
            ));
        }
    }
    Ok(style)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_the_smart_example_style() {
        let style = parse_style(
            r##"{"color_background": "#edeae3", "color_error": "#9e2d2d", "color_highlight": "#69b5ce",
                "color_modal_backdrop": "", "color_success": "#498e49", "color_text": "#303030",
                "dim_border_radius": "6px", "dim_font_size": "13px", "dim_spacing_size": "20px",
                "font_family_body": "Georgia, Times, 'Times New Roman', serif",
                "font_family_heading": "'HelveticaNeue-Light', Helvetica, Arial, 'Lucida Grande', sans-serif",
                "unknown": "x"}"##,
        )
        .unwrap();
        assert_eq!(style.properties.len(), 10, "{style:?}");
        assert!(style.properties.contains(&("--dim-font-size", "13px".into())));
        assert!(style.rejected.is_empty());
    }

    #[test]
    fn refuses_values_that_could_escape_a_property() {
        let style = parse_style(
            r#"{"color_background": "red; background-image: url(https://evil.example/x.png)",
                "color_text": "expression(alert(1))", "color_error": "rgb(1,2,3);x:y",
                "dim_font_size": "12px}body{display:none", "dim_spacing_size": "calc(1px)",
                "font_family_body": 42, "font_family_heading": "a/*b*/", "color_success": "rgba(0, 128, 0, 0.5)"}"#,
        )
        .unwrap();
        assert_eq!(style.properties, [("--color-success", "rgba(0, 128, 0, 0.5)".to_string())]);
        assert_eq!(style.rejected.len(), 7, "{:?}", style.rejected);
        assert!(parse_style("not json").is_err());
        assert!(parse_style("[]").is_err());
    }

    #[test]
    fn value_grammars() {
        for ok in ["#fff", "#ffffff80", "rebeccapurple", "hsl(120, 50%, 50%)"] {
            assert!(valid_color(ok), "{ok}");
        }
        for bad in ["#ggg", "#12345", "url(x)", "red blue", "rgb(1,2,3"] {
            assert!(!valid_color(bad), "{bad}");
        }
        for ok in ["0", "1.5rem", "20px", "100%", ".5em", "2.px"] {
            assert!(valid_length(ok), "{ok}");
        }
        for bad in ["12", "px", "1e3px", "-1px", "12px ", ".px", "1.2.3px", "0.0"] {
            assert!(!valid_length(bad), "{bad}");
        }
        for ok in ["Helvetica, Arial, sans-serif", "'Segoe UI', \"Noto Sans\"", "微软雅黑, Zoë Grotesk"] {
            assert!(valid_font(ok), "{ok}");
        }
        for bad in ["a;b", "x} body {color:red", "url(x)", "a\u{85}b", "a\nb", &"a".repeat(201)] {
            assert!(!valid_font(bad), "{bad}");
        }
    }
}
