//! Starting a sign-in from a page that stays open: the provider picker and
//! the EHR launch. With a redirect the page leaves for the authorization
//! server; with a popup it opens the sign-in window from the user's click,
//! keeps the verifier and state in memory, takes the response the popup
//! hands back, and exchanges the code itself.

use leptos::prelude::*;
use leptos::task::spawn_local;
use smart_core::authorize::{CodeExchange, LaunchMode};
use smart_core::callback::{parse_callback, Callback as AuthorizationCallback};
use smart_core::config::{IssuerConfig, SignInWindow};
use smart_core::Error;

use crate::app::Config;
use crate::browser::{flow, now, popup};
use crate::pages::{finish_sign_in, Completion};
use crate::views::{ErrorView, Progress};

/// Where a sign-in started from this page stands.
#[derive(Default)]
pub enum Step {
    #[default]
    Idle,
    /// Leaving for the authorization server (redirect).
    Leaving(String),
    /// The sign-in window is open (popup).
    Waiting(String),
    /// The popup handed back a code; it is being exchanged here.
    Exchanging,
    Failed(Error),
}

/// Starts a sign-in with `issuer`. Call it from a click handler: a popup
/// opened later than the click is blocked by the browser.
pub fn sign_in(config: Config, issuer: IssuerConfig, mode: LaunchMode, step: RwSignal<Step>, completion: Completion) {
    completion.failure.set(None);
    let name = issuer.name.clone();
    match issuer.authorization_mode.window(popup::is_framed()) {
        SignInWindow::Redirect => {
            step.set(Step::Leaving(name));
            spawn_local(async move {
                if let Err(error) = flow::begin(&config, &issuer, mode).await {
                    step.set(Step::Failed(error));
                }
            });
        }
        SignInWindow::Popup => {
            let window = match popup::open_blank() {
                Ok(window) => window,
                Err(error) => return step.set(Step::Failed(error)),
            };
            step.set(Step::Waiting(name));
            spawn_local(async move {
                match through_popup(&config, &issuer, mode, window).await {
                    Ok(exchange) => {
                        step.set(Step::Exchanging);
                        finish_sign_in(exchange, completion);
                    }
                    Err(error) => step.set(Step::Failed(error)),
                }
            });
        }
    }
}

async fn through_popup(
    config: &Config,
    issuer: &IssuerConfig,
    mode: LaunchMode,
    window: web_sys::Window,
) -> Result<CodeExchange, Error> {
    let (url, pending) = match flow::prepare(config, issuer, mode).await {
        Ok(prepared) => prepared,
        Err(error) => {
            popup::close(&window);
            return Err(error);
        }
    };
    popup::navigate(&window, &url);
    let query = popup::wait_for_callback(window).await?;
    match parse_callback(&query)? {
        AuthorizationCallback::Refused { error, .. } => Err(Error::AuthorizationRefused { error }),
        AuthorizationCallback::Authorized(response) => pending.accept(response, now()),
    }
}

/// The sign-in's progress or failure, with a way to try again.
#[component]
pub fn SignInStatus(step: RwSignal<Step>, completion: Completion, retry: Callback<()>) -> impl IntoView {
    let done = completion.done;
    move || {
        step.with(|step| {
            completion.failure.with(|failure| {
                let failed = match (step, failure) {
                    (_, Some(error)) | (Step::Failed(error), None) => error,
                    (Step::Leaving(name), None) => {
                        return view! { <Progress label=format!("Connecting to {name}…")/> }.into_any();
                    }
                    (Step::Waiting(name), None) => {
                        let label = format!("Sign in to {name} in the window that opened…");
                        return view! { <Progress label/> }.into_any();
                    }
                    (Step::Exchanging, None) if !done.get() => {
                        return view! { <Progress label="Completing sign-in…"/> }.into_any();
                    }
                    (Step::Idle | Step::Exchanging, None) => return ().into_any(),
                };
                view! {
                    <ErrorView error=failed/>
                    <p>
                        <button type="button" class="try-again" on:click=move |_| retry.run(())>"Try again"</button>
                    </p>
                }
                .into_any()
            })
        })
    }
}
