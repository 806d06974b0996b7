//! `/launch?iss=…&launch=…`: the EHR launch. `iss` is checked against the
//! configured issuers before any request is made. With a redirect the
//! sign-in starts at once; with a popup (inside the EHR's frame, whose
//! sign-in pages refuse framing) it starts from the user's click, as
//! browsers only open popups from one, and discovery runs meanwhile.

use leptos::prelude::*;
use leptos::task::spawn_local;
use smart_core::authorize::LaunchMode;
use smart_core::config::SignInWindow;
use smart_core::launch::ehr_launch;
use smart_core::route::query_value;

use crate::browser::{navigation, popup};
use crate::context::{context, Config};
use crate::session::SessionHandle;
use crate::sign_in::{self, SignIn, Step};
use crate::views::{ErrorView, SignInStatus, SignedInArea};

#[component]
pub fn LaunchPage() -> impl IntoView {
    let config = context::<Config>();
    let query = navigation::current_query();
    let (iss, launch) = (query_value(&query, "iss"), query_value(&query, "launch"));
    let (issuer, launch) = match ehr_launch(&config, iss.as_deref(), launch.as_deref()) {
        Ok(checked) => (checked.issuer.clone(), checked.launch),
        Err(error) => return view! { <ErrorView error/> }.into_any(),
    };

    let sign_in = SignIn::new(context::<SessionHandle>());
    let start = {
        let issuer = issuer.clone();
        move || sign_in.start(config.clone(), issuer.clone(), LaunchMode::Ehr { launch: launch.clone() })
    };
    let retry = Callback::new({
        let start = start.clone();
        move |()| start()
    });
    let by_click = issuer.authorization_mode.window(popup::is_framed()) == SignInWindow::Popup;
    if by_click {
        // Warm the discovery cache so the click leads straight to sign-in.
        let issuer = issuer.clone();
        spawn_local(async move {
            let _ = sign_in::discover(&issuer).await;
        });
    } else {
        start();
    }
    let name = issuer.name;
    (move || {
        if sign_in.is_done() {
            return view! { <SignedInArea/> }.into_any();
        }
        let start = start.clone();
        let prompt = (by_click && sign_in.with_step(|s| matches!(s, Step::Idle))).then(|| {
            view! {
                <section class="sign-in-prompt" aria-labelledby="sign-in-title">
                    <h1 id="sign-in-title">"Sign in to continue"</h1>
                    <p>{format!("{name} signs you in to this app in a separate window.")}</p>
                    <button type="button" class="sign-in" on:click=move |_| start()>"Sign in"</button>
                </section>
            }
        });
        view! {
            {prompt}
            <SignInStatus sign_in retry/>
        }
        .into_any()
    })
    .into_any()
}
