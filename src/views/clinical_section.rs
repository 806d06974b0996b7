//! One section of the clinical summary, with its own loading, empty,
//! error and "not covered by the granted scopes" states. Every section
//! starts its request as soon as it is shown, so all run concurrently.

use leptos::prelude::*;
use smart_core::fhir::display::number;
use smart_core::fhir::summary::{sparkline_points, Row, Section};
use smart_core::Error;

use super::loadable::{inline_error, load, Loadable};
use crate::context::context;
use crate::session::SessionHandle;

#[component]
pub fn ClinicalSection(section: Section, patient_id: String) -> impl IntoView {
    let session = context::<SessionHandle>();
    let first = session.with_untracked(|s| {
        s.granted.require_search(section.resource_type()).map(|()| section.search_url(&s.fhir_base, &patient_id))
    });
    let state = load(Some(format!("smart:section:{}", section.slug())), async move {
        let gathered =
            session.search(first.ok_or(Error::NoSession)??, section.reading(), |body| section.rows(body)).await?;
        let coverage = gathered.more.then(|| section.coverage(gathered.items.len(), gathered.newest_first));
        Ok((section.finish(gathered.items), gathered.stopped, coverage))
    });
    let id = format!("section-{}", section.slug());
    let heading = format!("{id}-title");
    let labelled_by = heading.clone();
    view! {
        <section class="clinical-section" id=id aria-labelledby=labelled_by aria-busy=move || state.with(Loadable::is_loading).to_string()>
            <h2 id=heading>{section.title()}</h2>
            {move || state.with(|state| match state {
                Loadable::Loading => view! { <p class="section-status">"Loading…"</p> }.into_any(),
                Loadable::Failed(error) => inline_error(error, None),
                Loadable::Ready((rows, _, _)) if rows.is_empty() => view! { <p class="section-status">"None recorded."</p> }.into_any(),
                Loadable::Ready((rows, note, coverage)) => view! {
                    <ul class="rows">
                        {rows.iter().map(row_view).collect_view()}
                    </ul>
                    {coverage.clone().map(|text| view! { <p class="section-note" data-testid="coverage">{text}</p> })}
                    {note.as_ref().map(|n| view! { <p class="section-note">{n.diagnosis().detail}</p> })}
                }
                .into_any(),
            })}
        </section>
    }
}

fn row_view(row: &Row) -> impl IntoView {
    let trend = (row.trend.len() >= 2).then(|| view! { <Trend title=row.title.clone() values=row.trend.clone()/> });
    view! {
        <li class="row">
            <span class="row-title">{row.title.clone()}</span>
            <span class="row-detail">{row.detail.clone()}</span>
            <span class="row-date">{row.date.clone()}</span>
            {trend}
        </li>
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
