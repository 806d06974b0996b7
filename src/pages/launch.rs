//! `/launch?iss=…&launch=…`: the EHR launch. `iss` is checked against the
//! configured issuers before any request is made.

use leptos::prelude::*;
use leptos::task::spawn_local;
use smart_core::authorize::LaunchMode;
use smart_core::launch::ehr_launch;
use smart_core::route::query_value;

use crate::app::Config;
use crate::browser::{flow, navigation};
use crate::views::{ErrorView, Progress};

#[component]
pub fn LaunchPage() -> impl IntoView {
    let config = expect_context::<Config>();
    let query = navigation::current_query();
    let (iss, launch) = (query_value(&query, "iss"), query_value(&query, "launch"));
    let checked =
        ehr_launch(&config, iss.as_deref(), launch.as_deref()).map(|launch| (launch.issuer.clone(), launch.launch));
    let (issuer, launch) = match checked {
        Ok(ok) => ok,
        Err(error) => return view! { <ErrorView error/> }.into_any(),
    };

    let failure = RwSignal::new(None);
    let name = issuer.name.clone();
    spawn_local(async move {
        if let Err(error) = flow::begin(&config, &issuer, LaunchMode::Ehr { launch }).await {
            failure.set(Some(error));
        }
    });
    view! {
        {move || match failure.get() {
            Some(error) => view! { <ErrorView error/> }.into_any(),
            None => view! { <Progress label=format!("Connecting to {name}…")/> }.into_any(),
        }}
    }
    .into_any()
}
