//! `/`: the standalone start. The user picks their provider from the
//! configured issuers, then signs in there (in this window, or in a popup
//! when the app is framed or the issuer is configured so).

use leptos::prelude::*;
use smart_core::authorize::LaunchMode;
use smart_core::config::IssuerConfig;

use crate::context::{context, Config};
use crate::session::SessionHandle;
use crate::sign_in::SignIn;
use crate::views::{SignInStatus, SignedInArea};

#[component]
pub fn StandalonePage() -> impl IntoView {
    let config = context::<Config>();
    let sign_in = SignIn::new(context::<SessionHandle>());
    let chosen = RwSignal::new(None::<IssuerConfig>);
    let start = {
        let config = config.clone();
        move |issuer: IssuerConfig| {
            chosen.set(Some(issuer.clone()));
            sign_in.start(config.clone(), issuer, LaunchMode::Standalone);
        }
    };
    let retry = {
        let start = start.clone();
        Callback::new(move |()| {
            if let Some(issuer) = chosen.get_untracked() {
                start(issuer);
            }
        })
    };
    let providers = config.issuers.clone();
    move || {
        if sign_in.is_done() {
            return view! { <SignedInArea/> }.into_any();
        }
        let start = start.clone();
        view! {
            <section class="standalone" aria-labelledby="standalone-title">
                <h1 id="standalone-title">"See your health record"</h1>
                <p>"Choose your healthcare provider to sign in."</p>
                <ul class="provider-list">
                    {providers
                        .iter()
                        .cloned()
                        .map(|issuer| {
                            let name = issuer.name.clone();
                            let start = start.clone();
                            view! {
                                <li>
                                    <button
                                        class="provider"
                                        type="button"
                                        disabled=move || sign_in.is_busy()
                                        on:click=move |_| start(issuer.clone())
                                    >
                                        {name}
                                    </button>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
                <SignInStatus sign_in retry/>
            </section>
        }
        .into_any()
    }
}
