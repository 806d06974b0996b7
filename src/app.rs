//! The app shell: loads `config.json`, then renders the page the address
//! names. Everything below it is provided here: the page's session handle,
//! the configuration, and a sign-in completed at start-up.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use smart_core::route::Route;
use smart_core::Error;

use crate::browser::{self, Browser};
use crate::context::Config;
use crate::pages::{CallbackPage, LaunchPage, NotFoundPage, StandalonePage, SummaryPage};
use crate::session::SessionHandle;
use crate::sign_in;
use crate::views::{ErrorView, Progress};

/// Where the runtime configuration stands.
enum ConfigState {
    Loading,
    Ready(Config),
    Failed(Error),
}

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
    let session = SessionHandle::new(Browser);
    provide_context(session);
    // A redirect back from sign-in is exchanged now, while config.json loads.
    if let Some(completing) = sign_in::complete_early(session) {
        provide_context(completing);
    }
    let state = RwSignal::new(ConfigState::Loading);
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
        <div>
            <header class="app-header">"SMART Health Summary"</header>
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
    let route = Route::for_path(&browser::navigation::current_app_path(), &config.redirect_path);
    provide_context(config);
    match route {
        Route::Standalone => view! { <StandalonePage/> }.into_any(),
        Route::Launch => view! { <LaunchPage/> }.into_any(),
        Route::Callback => view! { <CallbackPage/> }.into_any(),
        Route::Summary => view! { <SummaryPage/> }.into_any(),
        Route::NotFound => view! { <NotFoundPage/> }.into_any(),
    }
}
