//! What every part of the page that loads something shows meanwhile and
//! afterwards: one state type, one way to run the load, and one line for a
//! failure (the banner, each summary section and the patient picker).

use std::future::Future;

use leptos::prelude::*;
use leptos::task::spawn_local;
use smart_core::Error;

use crate::browser::marks;

/// Where a load stands.
pub enum Loadable<T> {
    Loading,
    Failed(Error),
    Ready(T),
}

impl<T> From<Result<T, Error>> for Loadable<T> {
    fn from(result: Result<T, Error>) -> Self {
        match result {
            Ok(value) => Loadable::Ready(value),
            Err(error) => Loadable::Failed(error),
        }
    }
}

/// Runs `task` in `state`: loading now, then its outcome. `mark` names the
/// User Timing mark set when the outcome is drawn (the benchmark reads it).
pub fn load_into<T: Send + Sync + 'static>(
    state: RwSignal<Loadable<T>>,
    mark: Option<String>,
    task: impl Future<Output = Result<T, Error>> + 'static,
) {
    state.set(Loadable::Loading);
    spawn_local(async move {
        state.set(task.await.into());
        if let Some(name) = mark {
            marks::mark_when_drawn(name);
        }
    });
}

/// Starts `task` and gives the signal its outcome will be in.
pub fn load<T: Send + Sync + 'static>(
    mark: Option<String>,
    task: impl Future<Output = Result<T, Error>> + 'static,
) -> RwSignal<Loadable<T>> {
    let state = RwSignal::new(Loadable::Loading);
    load_into(state, mark, task);
    state
}

/// A failure in one line: `lead` (what could not be shown), the headline
/// and the specifics. What the grant does not cover is a plain note, not an
/// alert: the app works as granted. (A function, not a component: it reads
/// the error in place, inside the signal that holds it.)
pub fn inline_error(error: &Error, lead: Option<&'static str>) -> AnyView {
    let d = error.diagnosis();
    let text = match lead {
        Some(lead) => format!("{lead}: {}. {}", d.title, d.detail),
        None => format!("{}. {}", d.title, d.detail),
    };
    if matches!(error, Error::ScopeNotGranted { .. }) {
        view! { <p class="section-status not-covered">{text}</p> }.into_any()
    } else {
        view! { <p class="section-status section-error" role="alert">{text}</p> }.into_any()
    }
}
