//! One section of the clinical summary, with its own loading, empty,
//! error and "not covered by the granted scopes" states. Every section
//! starts its request as soon as it is shown, so all run concurrently.

use leptos::prelude::*;
use smart_core::fhir::summary::{trend_text, Row, Section, Standing};
use smart_core::Error;

use super::loadable::{inline_error, load, Loadable};
use crate::context::context;
use crate::session::SessionHandle;

#[component]
pub fn ClinicalSection(section: Section, patient_id: String) -> impl IntoView {
    let session = context::<SessionHandle>();
    let first = session.with_untracked(|s| {
        let first = s.granted.require_search(section.resource_type());
        (first.map(|()| section.search_url(&s.fhir_base, &patient_id)), s.context.encounter.clone())
    });
    let state = load(Some(format!("smart:section:{}", section.slug())), async move {
        let (first, encounter) = first.ok_or(Error::NoSession)?;
        let encounter = encounter.map(|e| e.value);
        let gathered =
            session.search(first?, section.reading(), |body| section.rows(body, encounter.as_deref())).await?;
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
    // A vital sign's earlier values, as a line of text with words for
    // screen readers.
    let trend = trend_text(&row.title, &row.trend)
        .map(|(blocks, label)| view! { <span class="trend" role="img" aria-label=label>{blocks}</span> });
    view! {
        <li class=if row.standing == Standing::Past { "row past" } else { "row" }>
            <span class="row-title">{row.title.clone()}</span>
            <span class="row-detail">{row.detail.clone()}</span>
            <strong class="row-mark">{row.mark.unwrap_or_default()}</strong>
            <span class="row-date">{row.date.clone()}</span>
            {trend}
        </li>
    }
}
