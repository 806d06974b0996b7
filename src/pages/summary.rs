//! `/summary`: where a signed-in page stays. It is entered from outside only
//! by a reload, which ends the session (memory only, by design); the
//! signed-in area then says how to come back.

use leptos::prelude::*;

use crate::views::SignedInArea;

#[component]
pub fn SummaryPage() -> impl IntoView {
    view! { <SignedInArea/> }
}
