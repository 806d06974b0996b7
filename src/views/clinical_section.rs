//! One section of the clinical summary, with its own loading, empty,
//! error and "not covered by the granted scopes" states. Every section
//! starts its request as soon as it is shown, so all run concurrently.

use leptos::prelude::*;
use leptos::task::spawn_local;
use smart_core::fhir::display::number;
use smart_core::fhir::summary::{sparkline_points, Row, Section, MAX_PAGES};
use smart_core::Error;

use crate::app::{context, EndedSlot, SessionSlot};
use crate::browser::{fhir_client, marks};

enum State {
    Loading,
    NotCovered(String),
    Failed(Error),
    Ready { rows: Vec<Row>, note: Option<Error> },
}

#[component]
pub fn ClinicalSection(section: Section, patient_id: String) -> impl IntoView {
    let session = context::<SessionSlot>();
    let ended = context::<EndedSlot>();
    let state = RwSignal::new(State::Loading);
    let plan = session.with_untracked(|s| {
        s.as_ref()
            .map(|s| (s.granted.may_search(section.resource_type()), section.search_url(&s.fhir_base, &patient_id)))
    });
    match plan {
        Some((false, _)) => state.set(State::NotCovered(format!(
            "Not covered by the granted scopes: this needs permission to search {} (for example patient/{}.rs).",
            section.resource_type(),
            section.resource_type()
        ))),
        Some((true, url)) => spawn_local(async move {
            let pages = if section.first_page_only() { 1 } else { MAX_PAGES };
            let result = fhir_client::search(session, ended, url, pages, |body| section.rows(body)).await;
            state.set(match result {
                Ok(gathered) => State::Ready { rows: section.finish(gathered.items), note: gathered.stopped },
                Err(error) => State::Failed(error),
            });
            marks::mark_when_drawn(format!("smart:section:{}", section.slug()));
        }),
        None => state.set(State::Failed(Error::SessionExpired)),
    }
    let id = format!("section-{}", section.slug());
    let heading = format!("{id}-title");
    let labelled_by = heading.clone();
    view! {
        <section class="clinical-section" id=id aria-labelledby=labelled_by aria-busy=move || state.with(|s| matches!(s, State::Loading)).to_string()>
            <h2 id=heading>{section.title()}</h2>
            {move || state.with(|state| match state {
                State::Loading => view! { <p class="section-status">"Loading…"</p> }.into_any(),
                State::NotCovered(text) => view! { <p class="section-status not-covered">{text.clone()}</p> }.into_any(),
                State::Failed(error) => {
                    let d = error.diagnosis();
                    view! { <p class="section-status section-error" role="alert">{format!("{}: {}", d.title, d.detail)}</p> }.into_any()
                }
                State::Ready { rows, .. } if rows.is_empty() => view! { <p class="section-status">"None recorded."</p> }.into_any(),
                State::Ready { rows, note } => view! {
                    <ul class="rows">
                        {rows.iter().map(|row| {
                            let trend = (row.trend.len() >= 2).then(|| view! { <Trend title=row.title.clone() values=row.trend.clone()/> });
                            view! {
                                <li class="row">
                                    <span class="row-title">{row.title.clone()}</span>
                                    <span class="row-detail">{row.detail.clone()}</span>
                                    <span class="row-date">{row.date.clone()}</span>
                                    {trend}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                    {note.as_ref().map(|n| view! { <p class="section-note">{n.diagnosis().detail}</p> })}
                }
                .into_any(),
            })}
        </section>
    }
}

/// A small trend line for a vital sign, with a text alternative.
#[component]
fn Trend(title: String, values: Vec<f64>) -> impl IntoView {
    let (low, high) = values.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let label = format!("{title}: {} readings, from {} to {}", values.len(), number(low), number(high));
    view! {
        <svg class="trend" viewBox="0 0 120 24" width="120" height="24" role="img" aria-label=label>
            <polyline points=sparkline_points(&values, 120.0, 24.0) fill="none" stroke="currentColor" stroke-width="1.5"/>
        </svg>
    }
}
