//! Every parser that takes outside input, fed arbitrary and near-valid
//! input: none may panic (a panic in WebAssembly kills the app). Each
//! property reports how many inputs it ran.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use smart_core::callback::parse_callback;
use smart_core::config::{AppConfig, AuthorizationServerSource};
use smart_core::discovery::{AuthorizationServer, DiscoveryKind};
use smart_core::fhir::display::decimal;
use smart_core::id_token::Jwks;
use smart_core::jwt;
use smart_core::launch::ehr_launch;
use smart_core::popup::{handback_message, is_handback, parse_handback};
use smart_core::route::{query_value, Route};
use smart_core::scopes::ScopeSet;
use smart_core::token::{TokenAnswer, TokenResponse};
use smart_core::url::HttpUrl;

const CASES: u32 = 2000;

/// Runs a property over `CASES` inputs and prints the count.
fn run<S: Strategy>(name: &str, strategy: S, check: impl Fn(S::Value))
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(Config { cases: CASES, failure_persistence: None, ..Config::default() });
    runner
        .run(&strategy, |value| {
            check(value);
            Ok(())
        })
        .unwrap();
    println!("{name}: {CASES} inputs, no panic");
}

/// Text that looks like the input a parser expects, with noise mixed in.
fn near(fragments: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![3 => prop::sample::select(fragments).prop_map(str::to_string), 1 => any::<String>()],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

const JSON_BITS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1e999",
    "\"\\u0000\"",
    "\"x\"",
    "\"access_token\"",
    "\"token_type\"",
    "\"Bearer\"",
    "\"expires_in\"",
    "\"scope\"",
    "\"patient\"",
    "\"need_patient_banner\"",
    "\"fhirContext\"",
    "\"id_token\"",
    "\"refresh_token\"",
    "\"error\"",
    "\"authorization_endpoint\"",
    "\"token_endpoint\"",
    "\"https://a.example/x\"",
    "\"../t\"",
    "\"//h\"",
    "\"code_challenge_methods_supported\"",
    "[\"S256\"]",
    "\"issuers\"",
    "\"id\"",
    "\"fhir_base_url\"",
    "\"authorization_server\"",
    "{\"type\":\"descope\"}",
    "\"keys\"",
    "\"kty\"",
    "\"RSA\"",
];

#[test]
fn urls() {
    run(
        "HttpUrl::parse / resolve",
        (
            near(&["https://", "http://", "localhost", ":", "/", "..", ".", "?", "#", "@", "[::1]", "%", "a"]),
            near(&["/", "..", "?", "#", "//", "x:", "g"]),
        ),
        |(base, reference)| {
            if let Ok(url) = HttpUrl::parse(&base) {
                let _ = url.origin();
                let _ = url.resolve(&reference);
                let _ = url.join_path(&reference);
                let _ = url.with_query_pairs([("k", reference.as_str())]).to_string();
                // Whatever parses must re-parse to itself.
                assert_eq!(HttpUrl::parse(&url.to_string()).as_ref(), Ok(&url), "{base}");
            }
        },
    );
}

#[test]
fn callback_queries() {
    run(
        "parse_callback / query_value / Route::for_path / popup hand-back",
        near(&[
            "?",
            "&",
            "=",
            "code",
            "state",
            "error",
            "error_description",
            "iss",
            "%",
            "%zz",
            "+",
            "<b>",
            "/",
            "smart-sign-in-callback:",
        ]),
        |query| {
            let _ = parse_callback(&query);
            let _ = (query_value(&query, "state"), Route::for_path(&query, "/callback"));
            let _ = (parse_handback(&query), is_handback(true, &query, |state| state.len() % 2 == 0));
            assert_eq!(parse_handback(&handback_message(&query)), Some(query.as_str()));
        },
    );
}

#[test]
fn decimals() {
    run("fhir::display::decimal", (any::<f64>(), 0u32..12), |(value, places)| {
        let text = decimal(value, places);
        if value.is_finite() && value.abs() < 1e12 {
            let back: f64 = text.parse().unwrap_or_else(|_| panic!("{value} → {text}"));
            let unit = 10f64.powi(places.min(9) as i32);
            // Large values may lose decimals, never more than their precision.
            assert!((back - value).abs() <= 0.5 / unit + value.abs() * 1e-15, "{value} at {places} → {text}");
        }
    });
}

#[test]
fn configs() {
    run("AppConfig::parse", near(JSON_BITS), |json| {
        if let Err(error) = AppConfig::parse(&json) {
            let _ = error.diagnosis();
        }
    });
}

#[test]
fn discovery_documents() {
    let base = HttpUrl::parse("https://ehr.example.org/fhir").unwrap();
    let url = base.join_path(".well-known/smart-configuration");
    let descope = AuthorizationServerSource::Descope {
        project_id: "P2abc".into(),
        base_url: HttpUrl::parse("https://api.descope.com").unwrap(),
    };
    run("AuthorizationServer::from_response / read_discovery", (near(JSON_BITS), any::<u16>()), |(body, status)| {
        for kind in [DiscoveryKind::Smart, DiscoveryKind::OpenId] {
            let _ = AuthorizationServer::from_response(kind, &url, &base, status, &body);
        }
        let _ = descope.read_discovery(&base, status, &body);
    });
}

#[test]
fn token_responses() {
    run(
        "TokenResponse::from_response",
        (near(JSON_BITS), any::<u16>(), any::<Option<String>>()),
        |(body, status, media)| {
            let answer = TokenAnswer { status, content_type: media.as_deref(), body: &body };
            if let Err(error) = TokenResponse::from_response(answer) {
                let _ = error.to_string();
            }
        },
    );
}

#[test]
fn jwts_and_key_sets() {
    run(
        "jwt::decode / Jwks::parse",
        near(&[".", "eyJ", "e30", "-", "_", "=", "eyJhbGciOiJSUzI1NiJ9", "W10", "bnVsbA", "AAAA"]),
        |token| {
            if let Ok(decoded) = jwt::decode(&token) {
                let _ = (decoded.alg(), decoded.kid());
            }
            let _ = smart_core::id_token::decode_id_token(&token);
            let _ = Jwks::parse(&token).map(|set| set.select(Some("k")).is_ok());
        },
    );
}

#[test]
fn fhir_resources_and_bundles() {
    use smart_core::fhir::{display, models, response};
    const FHIR_BITS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"resourceType\"",
        "\"Bundle\"",
        "\"Patient\"",
        "\"Observation\"",
        "\"entry\"",
        "\"resource\"",
        "\"link\"",
        "\"next\"",
        "\"relation\"",
        "\"url\"",
        "\"name\"",
        "\"given\"",
        "\"birthDate\"",
        "\"1980-02-30\"",
        "\"component\"",
        "\"valueQuantity\"",
        "\"value\"",
        "1e308",
        "-0",
        "\"identifier\"",
        "\"OperationOutcome\"",
        "\"issue\"",
        "\"diagnostics\"",
    ];
    run("fhir::parse_bundle / parse_resource / display", (near(FHIR_BITS), any::<u16>()), |(body, status)| {
        if let Ok(patient) = models::parse_resource::<models::Patient>(&body) {
            let _ = (display::patient_name(&patient), display::banner_identifier(&patient));
            if let Some(birth) = &patient.birth_date {
                let _ = display::age_in_years(birth, (2026, 11, 29));
            }
        }
        if let Ok(page) = models::parse_bundle::<models::Observation>(&body) {
            for observation in &page.items {
                let _ = (display::observation_value(observation), display::observation_time(observation));
            }
        }
        let _ = models::outcome_text(&body);
        let _ = response::classify("https://ehr.example.org/fhir/Patient", status, &body, Some(&body));
    });
}

#[test]
fn scopes_and_launch_parameters() {
    let config = AppConfig::parse(include_str!("../../public/config.json")).unwrap();
    run(
        "ScopeSet::parse / ehr_launch",
        near(&[
            "patient/",
            "user/",
            "system/",
            "*",
            ".",
            "rs",
            "cruds",
            "read",
            "?",
            "=",
            " ",
            "launch",
            "Observation",
        ]),
        |text| {
            let _ = ScopeSet::parse_strict(&text);
            let set = ScopeSet::parse_lenient(&text);
            let _ = (set.may_search("Observation"), set.may_search_patients());
            let _ = ehr_launch(&config, Some(&text), Some(&text));
        },
    );
}

#[test]
fn style_documents() {
    const STYLE_BITS: &[&str] = &[
        "{",
        "}",
        ",",
        ":",
        "\"",
        "\"color_background\"",
        "\"color_text\"",
        "\"dim_font_size\"",
        "\"dim_spacing_size\"",
        "\"font_family_body\"",
        "\"#fff\"",
        "\"#12345678\"",
        "\"rgb(1, 2, 3)\"",
        "\"12px\"",
        "\"1.5em\"",
        "\"0\"",
        "\"Georgia, 'Times'\"",
        ";",
        "}",
        "\\\\",
        "url(",
        "/*",
        "expression(",
        "\"\\u0000\"",
    ];
    run("style::parse_style", near(STYLE_BITS), |body| {
        let Ok(style) = smart_core::style::parse_style(&body) else { return };
        // What gets through cannot leave its CSS property value.
        for (property, value) in &style.properties {
            assert!(property.starts_with("--"), "{property}");
            let breaks_out = value.contains([';', '{', '}', '\\', '<', '\n']) || value.contains("/*");
            assert!(!breaks_out && !value.contains("url(") && !value.contains("expression"), "{property}: {value}");
        }
    });
}

#[test]
fn pending_records() {
    use smart_core::authorize::{LaunchMode, PendingAuthorization};
    let config = AppConfig::parse(include_str!("../../public/config.json")).unwrap();
    let base = HttpUrl::parse("https://ehr.example.org/fhir").unwrap();
    let discovery = r#"{"issuer": "https://ehr.example.org", "authorization_endpoint": "https://ehr.example.org/authorize",
        "token_endpoint": "https://ehr.example.org/token", "code_challenge_methods_supported": ["S256"],
        "dpop_signing_alg_values_supported": ["ES256"], "authorization_response_iss_parameter_supported": true}"#;
    let url = base.join_path(".well-known/smart-configuration");
    let server = || AuthorizationServer::from_response(DiscoveryKind::Smart, &url, &base, 200, discovery).unwrap();
    let redirect = HttpUrl::parse("http://localhost:8080/callback").unwrap();
    // A record read back is the record written, whatever the launch.
    run(
        "PendingAuthorization::to_storage / from_storage round trip",
        (any::<String>(), 0u64..u64::MAX / 2),
        |(launch, now)| {
            let mode = if launch.is_empty() { LaunchMode::Standalone } else { LaunchMode::Ehr { launch } };
            let (_, pending) =
                PendingAuthorization::begin(&config.issuers[1], server(), redirect.clone(), mode, None, now).unwrap();
            let stored = pending.to_storage();
            assert_eq!(PendingAuthorization::from_storage(&stored).as_ref(), Ok(&pending), "{stored}");
        },
    );
    // A record changed in storage is read or refused, never a panic.
    let (_, pending) =
        PendingAuthorization::begin(&config.issuers[0], server(), redirect.clone(), LaunchMode::Standalone, None, 0)
            .unwrap();
    let stored = pending.to_storage();
    let fields: Vec<&'static str> = [
        "\"version\"",
        "\"state\"",
        "\"verifier\"",
        "\"server\"",
        "\"created_at\"",
        "null",
        "1",
        "\"\"",
        "{",
        "}",
        "[",
        ",",
    ]
    .to_vec();
    run(
        "PendingAuthorization::from_storage, changed records",
        (0..stored.len(), prop::sample::select(fields), 0usize..8),
        |(at, insert, cut)| {
            let mut changed = stored.clone();
            let at = (0..=at).rev().find(|i| changed.is_char_boundary(*i)).unwrap_or(0);
            changed.insert_str(at, insert);
            let end = (at + cut).min(changed.len());
            if changed.is_char_boundary(end) {
                changed.replace_range(at..end, "");
            }
            if let Err(error) = PendingAuthorization::from_storage(&changed) {
                let _ = error.diagnosis();
            }
        },
    );
}
