//! `/`: the standalone start. The user picks their provider from the
//! configured issuers, then signs in there.

use leptos::prelude::*;
use leptos::task::spawn_local;
use smart_core::authorize::LaunchMode;
use smart_core::config::IssuerConfig;

use crate::app::Config;
use crate::browser::flow;
use crate::views::{ErrorView, Progress};

#[component]
pub fn StandalonePage() -> impl IntoView {
    let config = expect_context::<Config>();
    let failure = RwSignal::new(None);
    let leaving = RwSignal::new(None::<String>);

    let choose = move |issuer: IssuerConfig| {
        let config = config.clone();
        leaving.set(Some(issuer.name.clone()));
        failure.set(None);
        spawn_local(async move {
            if let Err(error) = flow::begin(&config, &issuer, LaunchMode::Standalone).await {
                leaving.set(None);
                failure.set(Some(error));
            }
        });
    };

    let providers = expect_context::<Config>().issuers.clone();
    view! {
        <section class="standalone" aria-labelledby="standalone-title">
            <h1 id="standalone-title">"See your health record"</h1>
            <p>"Choose your healthcare provider to sign in."</p>
            <ul class="provider-list">
                {providers
                    .into_iter()
                    .map(|issuer| {
                        let name = issuer.name.clone();
                        let choose = choose.clone();
                        view! {
                            <li>
                                <button
                                    class="provider"
                                    type="button"
                                    disabled=move || leaving.get().is_some()
                                    on:click=move |_| choose(issuer.clone())
                                >
                                    {name}
                                </button>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            {move || leaving.get().map(|name| view! { <Progress label=format!("Connecting to {name}…")/> })}
            {move || failure.get().map(|error| view! { <ErrorView error/> })}
        </section>
    }
}
