//! One section of the clinical summary, with its own loading, empty,
//! error and "not covered by the granted scopes" states; its rows appear
//! with the first page and are refined as further pages arrive. Every section
//! starts its request as soon as it is shown, so all run concurrently.

use leptos::prelude::*;
use smart_core::fhir::summary::{trend_text, Row, Section, Standing};
use smart_core::Error;

use super::loadable::{inline_error, load_into, Loadable};
use crate::browser::marks;
use crate::context::context;
use crate::session::SessionHandle;

#[component]
pub fn ClinicalSection(section: Section, patient_id: String) -> impl IntoView {
    let session = context::<SessionHandle>();
    let first = session.with_untracked(|s| {
        let first = s.granted.require_search(section.resource_type());
        let urls = first
            .map(|()| (section.search_url(&s.fhir_base, &patient_id), section.sorted_url(&s.fhir_base, &patient_id)));
        (urls, s.context.encounter.clone())
    });
    // Ready with `true` while more pages are coming: the rows so far are
    // shown (and refined) as each page arrives.
    let state = RwSignal::new(Loadable::Loading);
    load_into(state, Some(format!("smart:section:{}", section.slug())), async move {
        let (first, encounter) = first.ok_or(Error::NoSession)?;
        let encounter = encounter.map(|e| e.value);
        // The first rows' own mark: the benchmark times the first rows of
        // a long read (a section read in one page has only its own mark).
        let first_rows = std::cell::Cell::new(true);
        let progress = |so_far: &[Row]| {
            if first_rows.replace(false) {
                marks::mark_when_drawn(format!("smart:rows:{}", section.slug()));
            }
            state.set(Loadable::Ready((section.finish(so_far.to_vec()), None, None, true)))
        };
        let parse = |body: &str| section.rows(body, encounter.as_deref());
        let (first, sorted) = first?;
        let gathered = session.search(first, sorted, section.reading(), parse, &progress).await?;
        let coverage = gathered.more.then(|| section.coverage(gathered.items.len(), gathered.newest_first));
        Ok((section.finish(gathered.items), gathered.stopped, coverage, false))
    });
    let busy = move || state.with(|s| matches!(s, Loadable::Loading | Loadable::Ready((_, _, _, true)))).to_string();
    let id = format!("section-{}", section.slug());
    let heading = format!("{id}-title");
    let labelled_by = heading.clone();
    view! {
        <section class="clinical-section" id=id aria-labelledby=labelled_by aria-busy=busy>
            <h2 id=heading>{section.title()}</h2>
            {move || state.with(|state| match state {
                Loadable::Loading => view! { <p class="section-status">"Loading…"</p> }.into_any(),
                Loadable::Failed(error) => inline_error(error, None),
                Loadable::Ready((rows, _, _, false)) if rows.is_empty() => view! { <p class="section-status">"None recorded."</p> }.into_any(),
                Loadable::Ready((rows, note, coverage, more)) => view! {
                    <ul class="rows">
                        {rows.iter().map(row_view).collect_view()}
                    </ul>
                    {more.then(|| view! { <p class="section-status">"Loading more…"</p> })}
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
