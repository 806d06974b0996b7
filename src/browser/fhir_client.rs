//! Calls to the FHIR API: the bearer token goes only to the FHIR base's
//! origin (`Session::bearer_for` refuses anything else), `Accept:
//! application/fhir+json`, 429/503 retried a bounded number of times
//! honouring Retry-After, one refresh and retry on 401 (none if another
//! request already replaced the refused token), paging through `next`
//! links up to a limit.

use leptos::prelude::*;
use smart_core::fhir::models::{Page, ParseError};
use smart_core::fhir::response::{classify, Verdict, MAX_ATTEMPTS};
use smart_core::url::HttpUrl;
use smart_core::Error;

use super::http::{fetch, Fetch};
use super::refresh::refresh;
use super::timer::sleep_ms;
use crate::app::{EndedSlot, SessionSlot};
use web_sys::RequestCache;

/// GETs `url` and returns the body of a successful answer.
pub async fn get(session: SessionSlot, ended: EndedSlot, url: &HttpUrl) -> Result<String, Error> {
    let mut refreshed = false;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let token = session
            .with_untracked(|s| s.as_ref().map(|s| s.bearer_for(url).map(str::to_string)))
            .ok_or(Error::SessionExpired)??;
        let target = url.to_string();
        let authorization = format!("Bearer {token}");
        let headers = [("Authorization", authorization.as_str()), ("Accept", "application/fhir+json")];
        let response =
            fetch(Fetch { method: "GET", url: &target, headers: &headers, body: None, cache: RequestCache::NoStore })
                .await
                .map_err(|detail| Error::FhirUnreachable { url: target.clone(), detail })?;
        let status = response.status;
        let retry_after = response.header("Retry-After");
        let challenge = response.header("WWW-Authenticate");
        let body = response.body;
        match classify(&target, status, &body, retry_after.as_deref()) {
            Verdict::Success => return Ok(body),
            Verdict::Unauthorized
                if !refreshed && session.with_untracked(|s| s.as_ref().is_some_and(|s| s.has_refresh_token())) =>
            {
                refreshed = true;
                // Another request may have refreshed while this one was in
                // flight: then retry with the new token instead of
                // refreshing again.
                let unchanged = session
                    .with_untracked(|s| s.as_ref().and_then(|s| s.bearer_for(url).ok()).is_some_and(|t| t == token));
                if unchanged {
                    refresh(session, ended).await?;
                }
            }
            Verdict::Unauthorized => {
                return Err(session.with_untracked(|s| Error::FhirUnauthorized {
                    fhir_base: s.as_ref().map(|s| s.fhir_base.to_string()).unwrap_or_default(),
                    token_aud: s.as_ref().and_then(|s| s.context.access_token_audience.clone()),
                    www_authenticate: challenge,
                }))
            }
            Verdict::RetryAfter(seconds) if attempt < MAX_ATTEMPTS => sleep_ms(seconds as u32 * 1000).await,
            Verdict::RetryAfter(_) => return Err(Error::FhirBusy { status }),
            Verdict::Failed(error) => return Err(error),
        }
    }
}

/// What a paged search gathered.
pub struct Gathered<T> {
    pub items: Vec<T>,
    /// Why paging stopped early, when it did (a note for the user).
    pub stopped: Option<Error>,
}

/// Runs a search and follows `next` links (at most `max_pages` pages),
/// parsing each page with `parse`.
pub async fn search<T>(
    session: SessionSlot,
    ended: EndedSlot,
    first: HttpUrl,
    max_pages: usize,
    parse: impl Fn(&str) -> Result<Page<T>, ParseError>,
) -> Result<Gathered<T>, Error> {
    let mut items = Vec::new();
    let mut url = first;
    for page_number in 1..=max_pages {
        let body = get(session, ended, &url).await?;
        let page = parse(&body).map_err(|e| Error::FhirMalformed { detail: e.0 })?;
        items.extend(page.items);
        let Some(next) = page.next else { break };
        if page_number == max_pages {
            break;
        }
        match HttpUrl::parse(&next) {
            Ok(next) => url = next,
            Err(e) => {
                return Ok(Gathered {
                    items,
                    stopped: Some(Error::FhirMalformed { detail: format!("the next link is not a URL: {e}") }),
                })
            }
        }
        // Never hand the token to another host, whatever the link says.
        let leaves = session.with_untracked(|s| s.as_ref().map(|s| s.bearer_for(&url).err()));
        if let Some(Some(error)) = leaves {
            return Ok(Gathered { items, stopped: Some(error) });
        }
    }
    Ok(Gathered { items, stopped: None })
}
