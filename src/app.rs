//! The app shell: loads `config.json`, then routes.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use smart_core::authorize::LaunchKind;
use smart_core::config::AppConfig;
use smart_core::route::Page;
use smart_core::session::Session;
use smart_core::Error;

use crate::browser;
use crate::pages::{CallbackPage, LaunchPage, NotFoundPage, SignedInArea, StandalonePage};
use crate::views::{ErrorView, Progress};

/// Where the runtime configuration stands.
enum ConfigState {
    Loading,
    Ready(Arc<AppConfig>),
    Failed(Error),
}

/// A context `App` (or `Routed`) provides before any page or view is
/// created. Not Leptos's `expect_context`: its message formats the type
/// name with `Debug`, which links the string-escaping tables into the wasm.
pub fn context<T: Clone + 'static>() -> T {
    use_context::<T>().expect("a context that App provides")
}

/// The validated configuration, provided to every page once loaded.
pub type Config = Arc<AppConfig>;

/// The signed-in session, in memory only: a reload ends it by design.
pub type SessionSlot = RwSignal<Option<Session>>;

/// Why a session ended, while the page still shows it.
pub enum EndReason {
    /// The user signed out; `revoked` says whether the server confirmed the
    /// revocation (`None`: the server has no revocation endpoint).
    SignedOut { revoked: Option<bool> },
    /// The token expired or could not be refreshed.
    Failed(Error),
}

pub struct Ended {
    pub reason: EndReason,
    pub kind: LaunchKind,
}

pub type EndedSlot = RwSignal<Option<Ended>>;

/// What became of the EHR's `smart_style_url`, for the diagnostics.
#[derive(Clone, Copy)]
pub struct StyleNote(pub RwSignal<Option<String>>);

#[component]
pub fn App() -> impl IntoView {
    // A sign-in popup coming back hands the response to its opener and
    // closes; it never loads the configuration or exchanges the code.
    if browser::popup::hand_back() {
        return view! {
            <main id="main" class="handback">
                <p role="status">"Returning to the app. This window closes by itself; close it if it stays open."</p>
            </main>
        }
        .into_any();
    }
    let state = RwSignal::new(ConfigState::Loading);
    provide_context::<SessionSlot>(RwSignal::new(None));
    provide_context::<EndedSlot>(RwSignal::new(None));
    provide_context(StyleNote(RwSignal::new(None)));
    // A redirect back from sign-in is exchanged now, while config.json loads.
    if let Some(completion) = crate::pages::start_callback_early() {
        provide_context(completion);
    }
    spawn_local(async move {
        state.set(match browser::config::load().await {
            Ok(config) => {
                browser::http::set_timeout_seconds(config.request_timeout_seconds);
                ConfigState::Ready(Arc::new(config))
            }
            Err(error) => ConfigState::Failed(error),
        });
    });

    view! {
        <div class="shell">
            <header class="app-header">
                <span class="app-name">"SMART Health Summary"</span>
            </header>
            <main id="main">
                {move || state.with(|state| match state {
                    ConfigState::Loading => view! { <Progress label="Loading configuration…"/> }.into_any(),
                    ConfigState::Failed(error) => view! { <ErrorView error/> }.into_any(),
                    ConfigState::Ready(config) => view! { <Routed config=config.clone()/> }.into_any(),
                })}
            </main>
        </div>
    }
    .into_any()
}

/// The page the address names, rendered once the configuration is known.
/// Pages are only ever entered from outside (the EHR, the authorization
/// server, a reload), so the choice is made once per page load.
#[component]
fn Routed(config: Config) -> impl IntoView {
    let page = Page::for_path(&browser::navigation::current_app_path(), &config.redirect_path);
    provide_context(config);
    match page {
        Page::Standalone => view! { <StandalonePage/> }.into_any(),
        Page::Launch => view! { <LaunchPage/> }.into_any(),
        Page::Callback => view! { <CallbackPage/> }.into_any(),
        Page::Summary => view! { <SignedInArea/> }.into_any(),
        Page::NotFound => view! { <NotFoundPage/> }.into_any(),
    }
}
