//! The session's rules, run natively against a scripted server and a fake
//! clock: one refresh in flight, the 401 → refresh → retry rule, bounded
//! 429/503 retries, paging bounds, the foreign-`next` rule, the timer and
//! sign-out. Virtual time makes a 25-second session take microseconds: the
//! clock moves on to the next timer only when every task is waiting.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures::executor::{LocalPool, LocalSpawner};
use futures::task::LocalSpawnExt;
use smart_core::authorize::{LaunchMode, PendingAuthorization};
use smart_core::callback::{parse_callback, Callback};
use smart_core::config::AppConfig;
use smart_core::discovery::{AuthorizationServer, DiscoveryKind};
use smart_core::dpop::{access_token_hash, DpopBinding, PublicJwk};
use smart_core::fhir::models::{parse_bundle, Patient};
use smart_core::fhir::response::{MAX_ATTEMPTS, MAX_RETRY_AFTER};
use smart_core::fhir::summary::Reading;
use smart_core::session::{Session, SignatureVerdict};
use smart_core::url::HttpUrl;
use smart_core::{Error, UnixTime};

use super::{DpopKey, EndReason, Gathered, SessionHandle};
use crate::browser::http::{Request, Response};
use crate::browser::Effects;

const FHIR: &str = "https://ehr.example.org/fhir";
const TOKEN_ENDPOINT: &str = "https://as.example.org/token";
const REVOCATION_ENDPOINT: &str = "https://as.example.org/revoke";
/// The virtual clock's start, in seconds.
const START: UnixTime = 1_800_000_000;

/// A request as the fake server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: &'static str,
    url: String,
    /// The `Authorization` header sent, if any.
    authorization: Option<String>,
    /// The DPoP proof sent, if any.
    dpop: Option<String>,
    body: Option<String>,
    /// Virtual seconds since the start when it was sent.
    at: u64,
}

impl Seen {
    fn form(&self, key: &str) -> Option<String> {
        // A form body is encoded as a query is.
        smart_core::route::query_value(self.body.as_deref()?, key)
    }
}

type Server = Box<dyn FnMut(&Seen) -> Result<Response, String>>;

/// The world a test's session lives in: virtual time, the server's script,
/// the record of requests, the sleeps asked for.
struct World {
    now_ms: Cell<u64>,
    /// Time does not move past this: where a test stops.
    horizon_ms: u64,
    /// Every sleep asked for, in ms.
    sleeps: RefCell<Vec<u32>>,
    /// Sleeps waiting: when each ends, and whom to wake then.
    timers: RefCell<Vec<(u64, Waker)>>,
    seen: RefCell<Vec<Seen>>,
    /// URLs that answer slowly, as [`SLOW`] does.
    slow: RefCell<Vec<&'static str>>,
    server: RefCell<Server>,
    spawner: LocalSpawner,
}

#[derive(Clone, Copy)]
struct Fake(&'static World);

/// Lets every other ready task run `0` times: the network takes turns.
struct Turns(u32);

impl Future for Turns {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A sleep on the virtual clock.
struct Sleep {
    world: &'static World,
    until: u64,
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.world.now_ms.get() >= self.until {
            return Poll::Ready(());
        }
        self.world.timers.borrow_mut().push((self.until, cx.waker().clone()));
        Poll::Pending
    }
}

/// Answers to URLs containing this come after many other answers: a slow
/// request, still in flight when faster ones have finished.
const SLOW: &str = "slow=1";

impl Effects for Fake {
    fn send(self, request: Request<'_>, proof: Option<(&(), &str)>) -> impl Future<Output = Result<Response, String>> {
        let seen = Seen {
            method: request.method(),
            authorization: request.authorization.map(|(scheme, token)| format!("{scheme} {token}")),
            // A fixed "signature": what the session does with proofs is
            // tested here, the signature itself in smart-core (against an
            // independent verifier) and end to end.
            dpop: proof.map(|(_, input)| format!("{input}.{}", "A".repeat(86))),
            url: request.url,
            body: request.form.map(str::to_string),
            at: self.0.now_ms.get() / 1000,
        };
        self.0.seen.borrow_mut().push(seen.clone());
        async move {
            let slow = seen.url.contains(SLOW) || self.0.slow.borrow().contains(&seen.url.as_str());
            Turns(if slow { 20 } else { 1 }).await;
            (self.0.server.borrow_mut())(&seen)
        }
    }

    fn now(self) -> UnixTime {
        START + self.0.now_ms.get() / 1000
    }

    fn sleep(self, ms: u32) -> impl Future<Output = ()> {
        self.0.sleeps.borrow_mut().push(ms);
        Sleep { world: self.0, until: self.0.now_ms.get() + u64::from(ms) }
    }

    fn spawn(self, task: impl Future<Output = ()> + 'static) {
        self.0.spawner.spawn_local(task).expect("the test's pool runs");
    }

    type Key = ();
}

/// A test's pool, world and session handle.
struct Test {
    pool: LocalPool,
    world: &'static World,
    session: SessionHandle<Fake>,
}

impl Test {
    /// A world whose server answers with `server`; time stops at `horizon_seconds`.
    fn new(horizon_seconds: u64, server: impl FnMut(&Seen) -> Result<Response, String> + 'static) -> Test {
        let pool = LocalPool::new();
        let world: &'static World = Box::leak(Box::new(World {
            now_ms: Cell::new(0),
            horizon_ms: horizon_seconds * 1000,
            sleeps: RefCell::new(Vec::new()),
            timers: RefCell::new(Vec::new()),
            seen: RefCell::new(Vec::new()),
            slow: RefCell::new(Vec::new()),
            server: RefCell::new(Box::new(server)),
            spawner: pool.spawner(),
        }));
        Test { pool, world, session: SessionHandle::new(Fake(world)) }
    }

    /// Signs in with `token_response` (a JSON token response) and installs
    /// the session, its timer included.
    fn signed_in(self, token_response: &str) -> Test {
        self.session.install(session(token_response, START, false));
        self
    }

    /// Signs in with DPoP: the page's key in the handle, then a session
    /// from a server that lists ES256 (`token_response` says whether the
    /// tokens came back bound).
    fn signed_in_with_dpop(self, token_response: &str) -> Test {
        let zero = "A".repeat(43);
        let binding = DpopBinding::new(PublicJwk::new(zero.clone(), zero).unwrap());
        self.session.use_dpop_key(Some(DpopKey { key: (), binding }));
        self.session.install(session(token_response, START, true));
        self
    }

    /// Runs `task` with everything else the pool has, moving the clock to
    /// the next timer whenever all tasks wait, until none can go on before
    /// the horizon.
    fn run<T: 'static>(&mut self, task: impl Future<Output = T> + 'static) -> T {
        let out = std::rc::Rc::new(RefCell::new(None));
        let slot = out.clone();
        self.pool.spawner().spawn_local(async move { *slot.borrow_mut() = Some(task.await) }).unwrap();
        loop {
            self.pool.run_until_stalled();
            let next = self.world.timers.borrow().iter().map(|(until, _)| *until).min();
            match next {
                Some(until) if until <= self.world.horizon_ms => {
                    self.world.now_ms.set(until);
                    let due: Vec<Waker> = {
                        let mut timers = self.world.timers.borrow_mut();
                        let (due, waiting) = timers.drain(..).partition(|(at, _)| *at <= until);
                        *timers = waiting;
                        due.into_iter().map(|(_, waker)| waker).collect()
                    };
                    due.into_iter().for_each(Waker::wake);
                }
                _ => break,
            }
        }
        let taken = out.borrow_mut().take();
        taken.expect("the task finished before time stopped")
    }

    fn seen(&self, matches: impl Fn(&Seen) -> bool) -> Vec<Seen> {
        self.world.seen.borrow().iter().filter(|s| matches(s)).cloned().collect()
    }

    fn token_requests(&self) -> Vec<Seen> {
        self.seen(|s| s.method == "POST" && s.url == TOKEN_ENDPOINT)
    }

    fn bearer(&self) -> Option<String> {
        let url = HttpUrl::parse(FHIR).unwrap();
        self.session.with_untracked(|s| s.bearer_for(&url).unwrap().to_string())
    }
}

/// A session made through the core's public flow, as sign-in makes one;
/// `dpop`: the server lists ES256 for DPoP.
fn session(token_response: &str, now: UnixTime, dpop: bool) -> Session {
    let config = AppConfig::parse(&format!(
        r#"{{"issuers": [{{"id": "ehr", "name": "EHR", "fhir_base_url": "{FHIR}",
            "authorization_server": {{"type": "smart"}}, "client_id": "app-1",
            "ehr_launch_scopes": "launch patient/*.rs offline_access", "standalone_scopes": "launch/patient patient/*.rs"}}]}}"#
    ))
    .unwrap();
    let issuer = &config.issuers[0];
    let server = AuthorizationServer::from_response(
        DiscoveryKind::Smart,
        &issuer.fhir_base_url.join_path(".well-known/smart-configuration"),
        &issuer.fhir_base_url,
        200,
        &format!(
            r#"{{"authorization_endpoint": "https://as.example.org/authorize", "token_endpoint": "{TOKEN_ENDPOINT}",
                "revocation_endpoint": "{REVOCATION_ENDPOINT}", "code_challenge_methods_supported": ["S256"],
                "grant_types_supported": ["authorization_code"], "capabilities": ["launch-ehr"]{}}}"#,
            if dpop { r#", "dpop_signing_alg_values_supported": ["ES256"]"# } else { "" }
        ),
    )
    .unwrap();
    let redirect = HttpUrl::parse("https://app.example.org/callback").unwrap();
    let mode = LaunchMode::Ehr { launch: "l-1".into() };
    let (_, pending) = PendingAuthorization::begin(issuer, server, redirect, mode, None, now).unwrap();
    let query = format!("code=c-1&state={}", pending.state().as_str());
    let Ok(Callback::Authorized(response)) = parse_callback(&query) else { panic!("a callback") };
    let grant = pending
        .accept(response, now)
        .unwrap()
        .finish(smart_core::token::TokenAnswer::json(200, token_response), now)
        .unwrap();
    grant.into_session(SignatureVerdict::NoIdToken).unwrap()
}

fn tokens(access: &str, refresh: Option<&str>, expires_in: u64) -> String {
    tokens_of_type("Bearer", access, refresh, expires_in)
}

fn tokens_of_type(token_type: &str, access: &str, refresh: Option<&str>, expires_in: u64) -> String {
    let refresh = refresh.map(|r| format!(r#", "refresh_token": "{r}""#)).unwrap_or_default();
    format!(
        r#"{{"access_token": "{access}", "token_type": "{token_type}", "expires_in": {expires_in},
            "scope": "launch patient/*.rs offline_access", "patient": "p1"{refresh}}}"#
    )
}

fn answer(status: u16, body: &str) -> Result<Response, String> {
    Ok(Response { status, body: body.into(), headers: Vec::new() })
}

fn answer_with(status: u16, body: &str, header: (&'static str, &str)) -> Result<Response, String> {
    Ok(Response { status, body: body.into(), headers: vec![(header.0, header.1.into())] })
}

const PATIENT: &str = r#"{"resourceType": "Patient", "id": "p1"}"#;

fn url(path: &str) -> HttpUrl {
    HttpUrl::parse(&format!("{FHIR}/{path}")).unwrap()
}

/// A token endpoint that rotates: access token `at-N`, refresh token `rt-N`.
fn rotating_token_endpoint(seen: &Seen, lifetime: u64) -> Result<Response, String> {
    let presented = seen.form("refresh_token").unwrap_or_default();
    let next: u32 = presented.trim_start_matches("rt-").parse::<u32>().unwrap_or(0) + 1;
    answer(200, &tokens(&format!("at-{next}"), Some(&format!("rt-{next}")), lifetime))
}

// ── 401 → one refresh → retry ──────────────────────────────────────────

/// Signed in with `at-1`, which the FHIR server refuses; refreshing `rt-1`
/// gives `at-2`, which it accepts.
fn refused_until_refreshed() -> Test {
    Test::new(5, |seen| match seen.url.as_str() {
        TOKEN_ENDPOINT => rotating_token_endpoint(seen, 3600),
        _ if seen.authorization.as_deref() == Some("Bearer at-2") => answer(200, PATIENT),
        _ => answer(401, ""),
    })
    .signed_in(&tokens("at-1", Some("rt-1"), 3600))
}

/// Reads a patient, its conditions and its observations at once; each
/// must end with the patient's record.
fn three_reads_at_once_succeed(test: &mut Test) {
    let session = test.session;
    let outcomes = test.run(async move {
        let reads = ["Patient/p1", "Condition?patient=p1", "Observation?patient=p1"].map(url);
        let [a, b, c] = &reads;
        let (a, b, c) = futures::join!(session.get(a), session.get(b), session.get(c));
        [a, b, c]
    });
    for outcome in outcomes {
        assert_eq!(outcome.unwrap(), PATIENT);
    }
}

#[test]
fn concurrent_401s_share_one_refresh() {
    let mut test = refused_until_refreshed();
    three_reads_at_once_succeed(&mut test);
    let refreshes = test.token_requests();
    assert_eq!(refreshes.len(), 1, "one refresh for three refused requests: {refreshes:?}");
    assert_eq!(refreshes[0].form("refresh_token").as_deref(), Some("rt-1"));
    assert_eq!(test.seen(|s| s.url.starts_with(FHIR)).len(), 6, "each read sent twice: refused, then retried");
    assert_eq!(test.bearer().as_deref(), Some("at-2"));
}

#[test]
fn a_401_after_another_request_refreshed_is_retried_without_a_second_refresh() {
    // Both reads go out with at-1. The fast one's 401 starts the refresh,
    // which finishes before the slow one's 401 arrives: that one retries
    // with the new token instead of refreshing again (a second refresh
    // would present rt-1, already rotated out).
    let mut test = refused_until_refreshed();
    let session = test.session;
    let (fast, slow) = test.run(async move {
        let (fast, slow) = (url("Patient/p1"), url(&format!("Condition?{SLOW}")));
        futures::join!(session.get(&fast), session.get(&slow))
    });
    assert_eq!((fast.unwrap(), slow.unwrap()), (PATIENT.to_string(), PATIENT.to_string()));
    assert_eq!(test.token_requests().len(), 1, "{:?}", test.token_requests());
    let slow_reads = test.seen(|s| s.url.contains(SLOW));
    let tokens: Vec<_> = slow_reads.iter().map(|s| s.authorization.clone().unwrap()).collect();
    assert_eq!(tokens, ["Bearer at-1", "Bearer at-2"]);
}

#[test]
fn a_401_is_refreshed_once_and_then_reported() {
    let mut test = Test::new(5, |seen| match seen.url.as_str() {
        TOKEN_ENDPOINT => rotating_token_endpoint(seen, 3600),
        _ => answer_with(401, "", ("WWW-Authenticate", r#"Bearer error="invalid_token""#)),
    })
    .signed_in(&tokens("at-1", Some("rt-1"), 3600));
    let session = test.session;
    let outcome = test.run(async move { session.get(&url("Patient/p1")).await });
    match outcome {
        Err(Error::FhirUnauthorized { fhir_base, www_authenticate, .. }) => {
            assert_eq!(fhir_base, FHIR);
            assert_eq!(www_authenticate.as_deref(), Some(r#"Bearer error="invalid_token""#));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(test.token_requests().len(), 1, "exactly one refresh");
    assert_eq!(test.seen(|s| s.url.starts_with(FHIR)).len(), 2, "the read and its one retry");
}

#[test]
fn a_401_without_a_refresh_token_is_reported_at_once() {
    let mut test = Test::new(5, |_| answer(401, "")).signed_in(&tokens("at-1", None, 3600));
    let session = test.session;
    let outcome = test.run(async move { session.get(&url("Patient/p1")).await });
    assert!(matches!(outcome, Err(Error::FhirUnauthorized { .. })), "{outcome:?}");
    assert!(test.token_requests().is_empty());
    assert_eq!(test.seen(|_| true).len(), 1);
}

#[test]
fn a_failed_refresh_ends_the_session_and_every_caller_gets_its_reason() {
    let mut test = Test::new(5, |seen| match seen.url.as_str() {
        TOKEN_ENDPOINT => answer(400, r#"{"error": "invalid_grant", "error_description": "refresh token reused"}"#),
        _ => answer(401, ""),
    })
    .signed_in(&tokens("at-1", Some("rt-1"), 3600));
    let session = test.session;
    let (a, b) = test.run(async move {
        let (first, second) = (url("Patient/p1"), url("Condition"));
        futures::join!(session.get(&first), session.get(&second))
    });
    for outcome in [a, b] {
        match outcome {
            Err(Error::RefreshFailed { detail }) => assert!(detail.contains("refresh token reused"), "{detail}"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(test.token_requests().len(), 1);
    assert!(test.session.with_untracked(|_| ()).is_none(), "the tokens are gone");
    test.session.with_ended(|ended| match ended.map(|e| &e.reason) {
        Some(EndReason::Failed(Error::RefreshFailed { detail })) => assert!(detail.contains("invalid_grant")),
        other => panic!("{other:?}"),
    });
}

#[test]
fn an_unreachable_token_endpoint_leaves_a_valid_session_to_a_later_try() {
    let mut test = Test::new(5, |seen| match seen.url.as_str() {
        TOKEN_ENDPOINT => Err("the browser could not complete the request".into()),
        _ => answer(401, ""),
    })
    .signed_in(&tokens("at-1", Some("rt-1"), 3600));
    let session = test.session;
    let failed = || Error::RefreshFailed { detail: "the browser could not complete the request".into() };
    assert_eq!(test.run(async move { session.refresh().await }), Err(failed()));
    assert!(test.session.with_untracked(|_| ()).is_some(), "the token is good for an hour yet");
    // A 401 while backing off gets the same reason, and sends nothing.
    assert_eq!(test.run(async move { session.get(&url("Patient/p1")).await }), Err(failed()));
    assert_eq!(test.token_requests().len(), 1);
}

// ── the refresh timer ─────────────────────────────────────────────────

/// Signed in with 10-second tokens (`at-0`, `rt-0`) from a token endpoint
/// that rotates them; time stops at `horizon_seconds`.
fn ten_second_tokens_for(horizon_seconds: u64) -> Test {
    Test::new(horizon_seconds, |seen| match seen.url.as_str() {
        TOKEN_ENDPOINT => rotating_token_endpoint(seen, 10),
        _ => answer(200, PATIENT),
    })
    .signed_in(&tokens("at-0", Some("rt-0"), 10))
}

#[test]
fn the_timer_refreshes_before_expiry_and_presents_each_rotated_token() {
    // 10-second tokens are refreshed when a fifth of their life remains:
    // at 8, 16 and 24 seconds of a 25-second run.
    let mut test = ten_second_tokens_for(25);
    test.run(async {});
    let refreshes = test.token_requests();
    let presented: Vec<_> = refreshes.iter().map(|r| r.form("refresh_token").unwrap()).collect();
    assert_eq!(presented, ["rt-0", "rt-1", "rt-2"], "each refresh presents the token the last one issued");
    assert_eq!(refreshes.iter().map(|r| r.at).collect::<Vec<_>>(), [8, 16, 24]);
    assert!(refreshes.iter().all(|r| r.form("grant_type").as_deref() == Some("refresh_token")));
    assert_eq!(test.bearer().as_deref(), Some("at-3"), "the newest access token is in use");
    assert!(test.world.sleeps.borrow().iter().all(|ms| *ms <= 30_000), "no wait longer than 30 s");
}

#[test]
fn two_second_tokens_are_refreshed_at_most_once_in_five_seconds_and_the_session_lives() {
    let mut test = Test::new(20, |seen| match seen.url.as_str() {
        TOKEN_ENDPOINT => rotating_token_endpoint(seen, 2),
        _ => answer(200, PATIENT),
    })
    .signed_in(&tokens("at-0", Some("rt-0"), 2));
    test.run(async {});
    let at: Vec<u64> = test.token_requests().iter().map(|r| r.at).collect();
    assert_eq!(at, [5, 10, 15, 20], "one refresh per five seconds, each presenting the last rotated token");
    assert!(test.session.with_untracked(|_| ()).is_some(), "the session is still there");
}

#[test]
fn the_timer_wakes_at_least_every_30_seconds() {
    let test = Test::new(100, |_| answer(200, PATIENT));
    let mut test = test.signed_in(&tokens("at-1", Some("rt-1"), 3600));
    test.run(async {});
    // At 30, 60 and 90 s it wakes to read the clock again; the fourth wait
    // would end past the test's 100 s.
    assert_eq!(*test.world.sleeps.borrow(), [30_000; 4]);
    assert_eq!(test.world.now_ms.get(), 90_000);
    assert!(test.token_requests().is_empty(), "not due within 100 s of a one-hour token");
}

#[test]
fn without_a_refresh_token_the_session_ends_when_the_token_expires() {
    let test = Test::new(60, |_| answer(200, PATIENT));
    let mut test = test.signed_in(&tokens("at-1", None, 10));
    test.run(async {});
    assert!(test.token_requests().is_empty());
    assert_eq!(test.world.now_ms.get(), 10_000, "ended at the expiry, not later");
    test.session.with_ended(|ended| {
        assert!(matches!(ended.map(|e| &e.reason), Some(EndReason::Failed(Error::SessionExpired))), "{ended:?}")
    });
}

#[test]
fn a_refresh_that_fails_on_the_timer_ends_the_session_and_the_timer() {
    let test = Test::new(60, |seen| match seen.url.as_str() {
        TOKEN_ENDPOINT => answer(400, r#"{"error": "invalid_grant"}"#),
        _ => answer(200, PATIENT),
    });
    let mut test = test.signed_in(&tokens("at-1", Some("rt-1"), 10));
    test.run(async {});
    assert_eq!(test.token_requests().len(), 1, "no retry loop after a refused refresh");
    test.session.with_ended(|ended| {
        assert!(matches!(ended.map(|e| &e.reason), Some(EndReason::Failed(Error::RefreshFailed { .. }))))
    });
}

#[test]
fn a_token_endpoint_that_is_down_is_tried_again_backed_off_until_it_answers() {
    let calls = Cell::new(0);
    let test = Test::new(3580, move |seen| match seen.url.as_str() {
        TOKEN_ENDPOINT => {
            calls.set(calls.get() + 1);
            match calls.get() {
                1 => Err("the browser could not complete the request".into()),
                2 | 3 => answer(503, "{}"),
                _ => rotating_token_endpoint(seen, 3600),
            }
        }
        _ => answer(200, PATIENT),
    });
    let mut test = test.signed_in(&tokens("at-1", Some("rt-1"), 3600));
    test.run(async {});
    let at: Vec<u64> = test.token_requests().iter().map(|r| r.at).collect();
    assert_eq!(at, [3540, 3545, 3555, 3575], "5, 10 and 20 seconds apart");
    assert_eq!(test.bearer().as_deref(), Some("at-2"), "the session lives on with the new token");
}

#[test]
fn a_token_endpoint_down_until_the_token_expires_ends_the_session() {
    let test = Test::new(600, |seen| match seen.url.as_str() {
        TOKEN_ENDPOINT => answer(502, "{}"),
        _ => answer(200, PATIENT),
    });
    let mut test = test.signed_in(&tokens("at-1", Some("rt-1"), 60));
    test.run(async {});
    let at: Vec<u64> = test.token_requests().iter().map(|r| r.at).collect();
    assert_eq!(at, [48, 53, 59, 60], "the last try at the expiry, then no more");
    test.session.with_ended(|ended| {
        assert!(matches!(ended.map(|e| &e.reason), Some(EndReason::Failed(Error::RefreshFailed { .. }))), "{ended:?}")
    });
}

#[test]
fn a_session_put_in_place_of_another_has_the_only_timer() {
    let mut test = ten_second_tokens_for(25);
    test.session.install(session(&tokens("at-10", Some("rt-10"), 10), START, false));
    test.run(async {});
    let presented: Vec<_> = test.token_requests().iter().map(|r| r.form("refresh_token").unwrap()).collect();
    assert_eq!(presented, ["rt-10", "rt-11", "rt-12"]);
    assert_eq!(test.world.sleeps.borrow().len(), 4, "one timer's waits, not two: {:?}", test.world.sleeps.borrow());
}

// ── 429 and 503 ───────────────────────────────────────────────────────

#[test]
fn retry_after_is_honoured_up_to_its_bound() {
    let calls = Cell::new(0);
    let mut test = Test::new(600, move |_| {
        calls.set(calls.get() + 1);
        match calls.get() {
            1 => answer_with(429, "", ("Retry-After", "120")),
            2 => answer_with(503, "", ("Retry-After", "2")),
            _ => answer(200, PATIENT),
        }
    })
    .signed_in(&tokens("at-1", Some("rt-1"), 3600));
    let session = test.session;
    let outcome = test.run(async move { session.get(&url("Patient/p1")).await });
    assert_eq!(outcome.unwrap(), PATIENT);
    let sleeps: Vec<u32> = test.world.sleeps.borrow().iter().copied().filter(|ms| *ms != 30_000).collect();
    assert_eq!(sleeps, [MAX_RETRY_AFTER as u32 * 1000, 2000], "120 s capped; 2 s as asked");
}

#[test]
fn a_server_that_stays_busy_is_reported_after_the_last_attempt() {
    let mut test = Test::new(600, |_| answer(503, "")).signed_in(&tokens("at-1", Some("rt-1"), 3600));
    let session = test.session;
    let outcome = test.run(async move { session.get(&url("Patient/p1")).await });
    assert_eq!(outcome, Err(Error::FhirBusy { status: 503 }));
    assert_eq!(test.seen(|s| s.url.starts_with(FHIR)).len(), MAX_ATTEMPTS as usize);
    let retries: Vec<u32> = test.world.sleeps.borrow().iter().copied().filter(|ms| *ms != 30_000).collect();
    assert_eq!(retries, vec![1000; MAX_ATTEMPTS as usize - 1], "no Retry-After: one second between attempts");
}

// ── paging ────────────────────────────────────────────────────────────

/// A Bundle page of one patient, `p{n}`, with `next` when given.
fn page(n: u32, next: Option<&str>) -> String {
    let link = next.map(|n| format!(r#", "link": [{{"relation": "next", "url": "{n}"}}]"#)).unwrap_or_default();
    format!(
        r#"{{"resourceType": "Bundle", "entry": [{{"resource": {{"resourceType": "Patient", "id": "p{n}"}}}}]{link}}}"#
    )
}

#[test]
fn paging_follows_next_links_up_to_the_page_limit() {
    let mut test = Test::new(5, |seen| {
        let n: u32 = seen.url.rsplit('=').next().unwrap().parse().unwrap();
        answer(200, &page(n, Some(&format!("{FHIR}/Patient?page={}", n + 1))))
    })
    .signed_in(&tokens("at-1", Some("rt-1"), 3600));
    let session = test.session;
    let gathered = test.run(async move {
        session.search(url("Patient?page=1"), None, Reading::pages(3), parse_bundle::<Patient>, &|_| {}).await
    });
    let gathered = gathered.unwrap();
    let ids: Vec<_> = gathered.items.iter().map(|p| p.id.clone().unwrap()).collect();
    assert_eq!(ids, ["p1", "p2", "p3"]);
    assert!(gathered.stopped.is_none());
    assert!(gathered.more, "the server had more");
    assert_eq!(test.seen(|_| true).len(), 3, "the fourth page is not asked for");
}

#[test]
fn a_search_reports_what_it_has_before_each_further_page() {
    let mut test = Test::new(5, |seen| {
        let n: u32 = seen.url.rsplit('=').next().unwrap().parse().unwrap();
        let next = format!("{FHIR}/Patient?page={}", n + 1);
        answer(200, &page(n, (n < 3).then_some(next.as_str())))
    })
    .signed_in(&tokens("at-1", Some("rt-1"), 3600));
    let session = test.session;
    let reported = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let seen = reported.clone();
    let gathered = test.run(async move {
        let progress = move |so_far: &[Patient]| seen.borrow_mut().push(so_far.len());
        session.search(url("Patient?page=1"), None, Reading::pages(5), parse_bundle::<Patient>, &progress).await
    });
    assert_eq!(gathered.unwrap().items.len(), 3);
    // After the first and the second page; the last page's rows come with the outcome.
    assert_eq!(*reported.borrow(), [1, 2]);
}

/// A page of one patient with a `self` link, and `next` when given.
fn page_with_self(n: u32, self_link: &str, next: Option<&str>) -> String {
    let next = next.map(|url| format!(r#", {{"relation": "next", "url": "{url}"}}"#)).unwrap_or_default();
    format!(
        r#"{{"resourceType": "Bundle", "entry": [{{"resource": {{"resourceType": "Patient", "id": "p{n}"}}}}],
            "link": [{{"relation": "self", "url": "{self_link}"}}{next}]}}"#
    )
}

/// A dated section's reading with room for 5 pages and 100 records.
const DATED: Reading = Reading { max_pages: 5, max_records: 100 };

/// A server of pages `Patient?page=n` (patient p{n}, `next` up to page
/// `last`) whose search sorted newest first (`_sort` in the URL) is
/// answered by `sorted` (status, self link) as patient p100.
fn paged_with_sort(last: u32, sorted: (u16, &'static str)) -> Test {
    Test::new(5, move |seen| {
        if seen.url.contains("_sort=") {
            let (status, self_link) = sorted;
            return answer(status, &page_with_self(100, self_link, Some(&format!("{FHIR}/Patient?sorted=2"))));
        }
        let n: u32 = seen.url.rsplit('=').next().unwrap().parse().unwrap();
        let next = format!("{FHIR}/Patient?page={}", n + 1);
        answer(200, &page_with_self(n, &seen.url, (n < last).then_some(next.as_str())))
    })
    .signed_in(&tokens("at-1", Some("rt-1"), 3600))
}

fn dated_search(test: &mut Test) -> Gathered<Patient> {
    let session = test.session;
    let sorted = Some(url("Patient?page=1&_sort=-date"));
    test.run(
        async move { session.search(url("Patient?page=1"), sorted, DATED, parse_bundle::<Patient>, &|_| {}).await },
    )
    .unwrap()
}

fn ids(gathered: &Gathered<Patient>) -> Vec<String> {
    gathered.items.iter().map(|p| p.id.clone().unwrap()).collect()
}

#[test]
fn a_record_of_one_page_is_read_without_asking_for_a_sort() {
    let mut test = paged_with_sort(1, (200, "https://fhir.example.org/Patient?_sort=-date"));
    let gathered = dated_search(&mut test);
    assert_eq!(ids(&gathered), ["p1"]);
    assert!(!gathered.more);
    assert_eq!(test.seen(|_| true).len(), 1, "no sorted search: the one page holds the whole record");
}

#[test]
fn a_longer_record_is_asked_for_sorted_beside_its_second_page() {
    // The server applied the sort: its page holds the newest records, and
    // the rest is noted as unread.
    let mut test = paged_with_sort(5, (200, "https://fhir.example.org/Patient?page=1&_sort=-date"));
    let gathered = dated_search(&mut test);
    assert_eq!(ids(&gathered), ["p100"], "the sorted page replaces the unsorted one");
    assert!(gathered.newest_first && gathered.more);
    let asked: Vec<String> = test.seen(|_| true).iter().map(|r| r.url.clone()).collect();
    assert_eq!(asked.len(), 3, "the first page, then the sorted search and the second page together: {asked:?}");
    assert!(asked[1..].iter().any(|u| u.contains("_sort=-date")) && asked[1..].iter().any(|u| u.ends_with("page=2")));
}

#[test]
fn a_server_that_ignores_or_refuses_the_sort_is_read_page_by_page_to_the_bound() {
    for sorted in [(200, "https://fhir.example.org/Patient?page=1"), (400, "")] {
        let mut test = paged_with_sort(9, sorted);
        let gathered = dated_search(&mut test);
        assert_eq!(ids(&gathered), ["p1", "p2", "p3", "p4", "p5"], "{sorted:?}");
        assert!(!gathered.newest_first && gathered.more, "{sorted:?}");
        assert_eq!(test.seen(|_| true).len(), 6, "five pages and the sorted search: {sorted:?}");
    }
    // The record bound stops it too.
    let mut test = paged_with_sort(9, (200, "https://fhir.example.org/Patient?page=1"));
    let session = test.session;
    let few = Reading { max_records: 3, ..DATED };
    let sorted = Some(url("Patient?page=1&_sort=-date"));
    let gathered = test
        .run(async move { session.search(url("Patient?page=1"), sorted, few, parse_bundle::<Patient>, &|_| {}).await })
        .unwrap();
    assert_eq!(gathered.items.len(), 3);
    assert!(gathered.more);
}

#[test]
fn a_next_link_back_to_a_page_already_read_ends_the_search_with_a_note() {
    let mut test = Test::new(5, |seen| {
        let n: u32 = seen.url.rsplit('=').next().unwrap().parse().unwrap();
        // Page 3 links back to page 1.
        answer(200, &page(n, Some(&format!("{FHIR}/Patient?page={}", n % 3 + 1))))
    })
    .signed_in(&tokens("at-1", Some("rt-1"), 3600));
    let session = test.session;
    let gathered = test.run(async move {
        session.search(url("Patient?page=1"), None, Reading::pages(10), parse_bundle::<Patient>, &|_| {}).await
    });
    let gathered = gathered.unwrap();
    assert_eq!(gathered.items.len(), 3, "each page once");
    assert_eq!(test.seen(|_| true).len(), 3);
    assert!(matches!(&gathered.stopped, Some(Error::FhirMalformed { detail }) if detail.contains("leads back")));
}

#[test]
fn a_next_link_to_another_origin_is_never_followed() {
    let mut test = Test::new(5, |seen| match seen.url.as_str() {
        u if u.starts_with(FHIR) => answer(200, &page(1, Some("https://evil.example.org/fhir/Patient?page=2"))),
        _ => answer(200, &page(2, None)),
    })
    .signed_in(&tokens("at-1", Some("rt-1"), 3600));
    let session = test.session;
    let gathered = test.run(async move {
        session.search(url("Patient?page=1"), None, Reading::pages(5), parse_bundle::<Patient>, &|_| {}).await
    });
    let gathered = gathered.unwrap();
    assert_eq!(gathered.items.len(), 1, "what the FHIR server gave is kept");
    assert!(matches!(&gathered.stopped, Some(Error::TokenWouldLeak { url }) if url.contains("evil.example.org")));
    assert!(test.seen(|s| !s.url.starts_with(FHIR)).is_empty(), "nothing was sent to the other host");
}

#[test]
fn a_next_link_that_is_not_a_url_ends_the_search_with_a_note() {
    let mut test =
        Test::new(5, |_| answer(200, &page(1, Some("not a url")))).signed_in(&tokens("at-1", Some("rt-1"), 3600));
    let session = test.session;
    let gathered = test.run(async move {
        session.search(url("Patient"), None, Reading::pages(5), parse_bundle::<Patient>, &|_| {}).await
    });
    let gathered = gathered.unwrap();
    assert_eq!(gathered.items.len(), 1);
    assert!(matches!(gathered.stopped, Some(Error::FhirMalformed { .. })));
}

#[test]
fn the_bearer_token_goes_only_to_the_fhir_origin() {
    let mut test = Test::new(5, |_| answer(200, PATIENT)).signed_in(&tokens("at-1", Some("rt-1"), 3600));
    let session = test.session;
    let outcome = test.run(async move {
        let elsewhere = HttpUrl::parse("https://ehr.example.org:8443/fhir/Patient/p1").unwrap();
        session.get(&elsewhere).await
    });
    assert!(matches!(outcome, Err(Error::TokenWouldLeak { .. })), "{outcome:?}");
    assert!(test.seen(|_| true).is_empty());
}

// ── ending ────────────────────────────────────────────────────────────

#[test]
fn sign_out_revokes_both_tokens_and_stops_the_timer() {
    let test = Test::new(60, |seen| match seen.url.as_str() {
        REVOCATION_ENDPOINT => answer(200, ""),
        TOKEN_ENDPOINT => rotating_token_endpoint(seen, 10),
        _ => answer(200, PATIENT),
    });
    let mut test = test.signed_in(&tokens("at-1", Some("rt-1"), 10));
    let session = test.session;
    test.run(async move { session.sign_out().await });
    assert_eq!(revoked(&test), [("rt-1".into(), "refresh_token".into()), ("at-1".into(), "access_token".into())]);
    assert!(test.token_requests().is_empty(), "no refresh after signing out, though the token was due");
    test.session.with_ended(|ended| {
        assert!(matches!(ended.map(|e| &e.reason), Some(EndReason::SignedOut { revoked: Some(true) })))
    });
    let after = test.run(async move { session.get(&url("Patient/p1")).await });
    assert_eq!(after, Err(Error::NoSession));
}

/// The tokens revoked, in order, with their hints.
fn revoked(test: &Test) -> Vec<(String, String)> {
    let revocations = test.seen(|s| s.url == REVOCATION_ENDPOINT);
    revocations.iter().map(|r| (r.form("token").unwrap(), r.form("token_type_hint").unwrap())).collect()
}

#[test]
fn sign_out_during_a_refresh_revokes_what_the_refresh_brought() {
    let test = Test::new(60, |seen| match seen.url.as_str() {
        REVOCATION_ENDPOINT => answer(200, ""),
        TOKEN_ENDPOINT => rotating_token_endpoint(seen, 3600),
        _ => answer(200, PATIENT),
    });
    let mut test = test.signed_in(&tokens("at-1", Some("rt-1"), 3600));
    let session = test.session;
    // The refresh is on the wire when sign-out starts.
    test.run(async move { futures::join!(session.refresh(), session.sign_out()) }).0.unwrap();
    assert_eq!(revoked(&test), [("rt-2".into(), "refresh_token".into()), ("at-2".into(), "access_token".into())]);
    assert_eq!(test.token_requests().len(), 1);
}

#[test]
fn no_refresh_starts_while_signing_out() {
    let test = Test::new(60, |seen| match seen.url.as_str() {
        REVOCATION_ENDPOINT => answer(200, ""),
        TOKEN_ENDPOINT => rotating_token_endpoint(seen, 3600),
        _ => answer(401, ""),
    });
    let mut test = test.signed_in(&tokens("at-1", Some("rt-1"), 3600));
    let session = test.session;
    // A 401 arrives while the revocation is on the wire.
    test.world.slow.borrow_mut().push(REVOCATION_ENDPOINT);
    let (_, read) = test.run(async move {
        let patient = url("Patient/p1");
        futures::join!(session.sign_out(), session.get(&patient))
    });
    assert!(read.is_err());
    assert!(test.token_requests().is_empty(), "a refresh would rotate a token being revoked");
    assert_eq!(revoked(&test)[0], ("rt-1".into(), "refresh_token".into()));
}

// ── DPoP (RFC 9449) ───────────────────────────────────────────────────

/// The claims of the proof a request carried.
fn proof_claims(seen: &Seen) -> serde_json::Map<String, serde_json::Value> {
    let proof = seen.dpop.as_deref().unwrap_or_else(|| panic!("no proof on {}", seen.url));
    smart_core::jwt::decode(proof).expect("a proof is a JWT").claims
}

fn nonce_of(seen: &Seen) -> Option<String> {
    proof_claims(seen).get("nonce").and_then(|n| n.as_str()).map(str::to_string)
}

/// The FHIR server's 401 asking for a proof with `nonce` (RFC 9449 §9).
fn nonce_challenge(nonce: &str) -> Result<Response, String> {
    Ok(Response {
        status: 401,
        body: String::new(),
        headers: vec![
            ("WWW-Authenticate", r#"DPoP error="use_dpop_nonce", error_description="nonce required""#.into()),
            ("DPoP-Nonce", nonce.into()),
        ],
    })
}

fn dpop_tokens(access: &str, refresh: &str) -> String {
    tokens_of_type("DPoP", access, Some(refresh), 3600)
}

/// Signed in with DPoP-bound `at-1`; the FHIR server wants nonce "n-1" in
/// every proof and asks for it (401) when a proof lacks it.
fn fhir_wanting_nonce() -> Test {
    Test::new(5, |seen| match nonce_of(seen).as_deref() {
        Some("n-1") => answer(200, PATIENT),
        _ => nonce_challenge("n-1"),
    })
    .signed_in_with_dpop(&dpop_tokens("at-1", "rt-1"))
}

#[test]
fn bound_tokens_go_with_a_proof_and_a_nonce_challenge_costs_one_retry_once() {
    // The first read is challenged and retried with the nonce; later reads
    // carry it from the start.
    let mut test = fhir_wanting_nonce();
    let session = test.session;
    let (first, second) = test.run(async move {
        let first = session.get(&url("Patient/p1")).await;
        (first, session.get(&url("Condition?patient=p1&_count=50")).await)
    });
    assert_eq!((first.unwrap(), second.unwrap()), (PATIENT.to_string(), PATIENT.to_string()));
    let reads = test.seen(|s| s.url.starts_with(FHIR));
    assert_eq!(reads.len(), 3, "one retry for the first read, none for the second: {reads:?}");
    assert!(test.token_requests().is_empty(), "a nonce challenge is not a reason to refresh");
    for read in &reads {
        assert_eq!(read.authorization.as_deref(), Some("DPoP at-1"));
        let claims = proof_claims(read);
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["ath"], access_token_hash("at-1").as_str());
    }
    assert_eq!(proof_claims(&reads[2])["htu"], format!("{FHIR}/Condition"), "no query in htu");
    assert_eq!(nonce_of(&reads[0]), None);
    assert_eq!(nonce_of(&reads[1]).as_deref(), Some("n-1"));
    let jtis: std::collections::HashSet<_> = reads.iter().map(|r| proof_claims(r)["jti"].to_string()).collect();
    assert_eq!(jtis.len(), 3, "every proof is new");
}

#[test]
fn reads_in_flight_together_are_all_challenged_and_each_retries_once() {
    let mut test = fhir_wanting_nonce();
    three_reads_at_once_succeed(&mut test);
    assert_eq!(test.seen(|s| s.url.starts_with(FHIR)).len(), 6, "each read challenged once, retried once");
}

#[test]
fn a_nonce_challenge_that_repeats_is_reported_not_retried_forever() {
    let mut test =
        Test::new(5, |_| nonce_challenge("always-the-same")).signed_in_with_dpop(&dpop_tokens("at-1", "rt-1"));
    let session = test.session;
    let outcome = test.run(async move { session.get(&url("Patient/p1")).await });
    assert_eq!(outcome, Err(Error::DpopNonceRepeated { url: format!("{FHIR}/Patient/p1") }));
    assert_eq!(test.seen(|_| true).len(), 2, "the read and one retry");
}

#[test]
fn a_refused_proof_is_reported_without_a_refresh() {
    let mut test = Test::new(5, |_| {
        answer_with(401, "", ("WWW-Authenticate", r#"DPoP error="invalid_dpop_proof", error_description="jti reused""#))
    })
    .signed_in_with_dpop(&dpop_tokens("at-1", "rt-1"));
    let session = test.session;
    let outcome = test.run(async move { session.get(&url("Patient/p1")).await });
    assert!(matches!(outcome, Err(Error::DpopProofRefused { .. })), "{outcome:?}");
    assert!(test.token_requests().is_empty());
}

#[test]
fn refresh_and_revocation_carry_proofs_and_answer_the_token_endpoints_nonce() {
    // The token endpoint wants nonce "as-1" (400 use_dpop_nonce, RFC 9449 §8).
    let mut test = Test::new(5, |seen| match seen.url.as_str() {
        TOKEN_ENDPOINT if nonce_of(seen).as_deref() != Some("as-1") => Ok(Response {
            status: 400,
            body: r#"{"error": "use_dpop_nonce", "error_description": "Authorization server requires nonce in DPoP proof"}"#
                .into(),
            headers: vec![("DPoP-Nonce", "as-1".into())],
        }),
        TOKEN_ENDPOINT => answer(200, &dpop_tokens("at-2", "rt-2")),
        REVOCATION_ENDPOINT => answer(200, "{}"),
        _ => answer(200, PATIENT),
    })
    .signed_in_with_dpop(&dpop_tokens("at-1", "rt-1"));
    let session = test.session;
    test.run(async move { session.refresh().await }).unwrap();
    let refreshes = test.token_requests();
    assert_eq!(refreshes.len(), 2, "the challenged refresh and its retry: {refreshes:?}");
    for refresh in &refreshes {
        let claims = proof_claims(refresh);
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], TOKEN_ENDPOINT);
        assert!(claims.get("ath").is_none(), "no access token goes to the token endpoint");
        assert_eq!(refresh.authorization, None);
    }
    assert_eq!(test.bearer().as_deref(), Some("at-2"));
    assert!(test.session.with_untracked(|s| s.is_dpop_bound()).unwrap());
    test.run(async move { session.sign_out().await });
    let revocations = test.seen(|s| s.url == REVOCATION_ENDPOINT);
    assert_eq!(revocations.len(), 2, "the refresh token, then the access token");
    assert!(revocations.iter().all(|r| proof_claims(r)["htu"] == REVOCATION_ENDPOINT));
    assert!(!test.session.holds_dpop_key(), "the key goes with the session");
}

#[test]
fn bearer_tokens_from_a_dpop_sign_in_go_without_proofs_to_the_fhir_server() {
    // The server ignored the proof and issued bearer tokens (RFC 9449 §5):
    // FHIR reads are plain bearer requests; refreshes still carry a proof.
    let mut test = Test::new(5, |seen| match seen.url.as_str() {
        TOKEN_ENDPOINT => rotating_token_endpoint(seen, 3600),
        _ => answer(200, PATIENT),
    })
    .signed_in_with_dpop(&tokens("at-1", Some("rt-1"), 3600));
    let session = test.session;
    test.run(async move { session.get(&url("Patient/p1")).await }).unwrap();
    let read = &test.seen(|s| s.url.starts_with(FHIR))[0];
    assert_eq!(read.authorization.as_deref(), Some("Bearer at-1"));
    assert_eq!(read.dpop, None);
    test.run(async move { session.refresh().await }).unwrap();
    assert!(test.token_requests()[0].dpop.is_some());
}
