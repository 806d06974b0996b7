//! Reads from the FHIR API as the session: the access token goes only to
//! the FHIR base's origin (`Session::bearer_for` refuses anything else),
//! with a DPoP proof when it is bound (a nonce challenge is answered once),
//! 429/503 are retried a bounded number of times honouring `Retry-After`,
//! a 401 gets one refresh and one retry (none if another request already
//! replaced the refused token), and paging follows `next` links up to a
//! limit, never to another origin and never back to a page already read.

use smart_core::dpop::{resource_refused_proof, TokenType};
use smart_core::fhir::models::{Page, ParseError};
use smart_core::fhir::response::{classify, Verdict, MAX_ATTEMPTS};
use smart_core::fhir::summary::{applied_newest_first, Reading};
use smart_core::url::HttpUrl;
use smart_core::Error;

use super::dpop::Proven;
use super::SessionHandle;
use crate::browser::http::Request;
use crate::browser::Effects;

/// What a paged search gathered.
#[derive(Debug)]
pub struct Gathered<T> {
    pub items: Vec<T>,
    /// Why paging stopped early, when it did (a note for the user).
    pub stopped: Option<Error>,
    /// Whether the server had more pages when reading stopped (at its
    /// bound, or on one page of records it sorted newest first).
    pub more: bool,
    /// Whether the items are the page of the sorted search, which the
    /// server (its `self` link says) sorted newest first.
    pub newest_first: bool,
}

impl<E: Effects> SessionHandle<E> {
    /// GETs `url` and returns the body of a successful answer.
    pub async fn get(self, url: &HttpUrl) -> Result<String, Error> {
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (token, token_type) = self.token_for(url)?;
            let bound = token_type == TokenType::Dpop;
            let what = bound.then_some(Proven { method: "GET", target: url, access_token: Some(&token) });
            let target = url.to_string();
            let response =
                self.send_proven(Request::fhir(url, token_type.scheme(), &token), what).await.map_err(|failure| {
                    match failure {
                        Ok(detail) => Error::FhirUnreachable { url: target.clone(), detail },
                        Err(error) => error,
                    }
                })?;
            if bound && resource_refused_proof(response.status, response.header("WWW-Authenticate")) {
                return Err(Error::DpopProofRefused { url: target, description: None });
            }
            match classify(&target, response.status, &response.body, response.header("Retry-After")) {
                Verdict::Success => return Ok(response.body),
                Verdict::Unauthorized
                    if !refreshed && self.with_untracked(|s| s.has_refresh_token()).unwrap_or(false) =>
                {
                    refreshed = true;
                    // Another request may have refreshed while this one was
                    // in flight: then retry with its token, no second refresh.
                    if self.token_for(url).is_ok_and(|(now, _)| now == token) {
                        self.refresh().await?;
                    }
                }
                Verdict::Unauthorized => {
                    let challenge = response.header("WWW-Authenticate").map(str::to_string);
                    return Err(self
                        .with_untracked(|s| Error::FhirUnauthorized {
                            fhir_base: s.fhir_base.to_string(),
                            token_aud: s.context.access_token_audience.clone(),
                            www_authenticate: challenge,
                            descope_project_as_aud: s.descope_project_as_audience().map(str::to_string),
                        })
                        .unwrap_or(Error::NoSession));
                }
                Verdict::RetryAfter(seconds) if attempt < MAX_ATTEMPTS => {
                    self.effects.sleep(seconds as u32 * 1000).await;
                }
                Verdict::RetryAfter(_) => return Err(Error::FhirBusy { status: response.status }),
                Verdict::Failed(error) => return Err(error),
            }
        }
    }

    /// Runs a search from `first` and follows `next` links as `reading`
    /// allows, parsing each page with `parse`; `progress` is given what
    /// has been gathered whenever another page is about to be asked for,
    /// so a view can show the first rows while the rest arrive. A `next`
    /// link that is not a URL, leaves the FHIR server's origin, or leads
    /// back to a page already read ends the search with what was gathered
    /// and a note.
    ///
    /// `sorted` (a dated section's search sorted newest first) is asked
    /// when the first page has a `next`, side by side with that second
    /// page, so it costs no round trip: when the server applied the sort,
    /// its page holds the newest records and reading ends there; when it
    /// ignored it (or refused the search), the unsorted pages go on.
    pub async fn search<T>(
        self,
        first: HttpUrl,
        mut sorted: Option<HttpUrl>,
        reading: Reading,
        parse: impl Fn(&str) -> Result<Page<T>, ParseError>,
        progress: &dyn Fn(&[T]),
    ) -> Result<Gathered<T>, Error> {
        let mut gathered = Gathered { items: Vec::new(), stopped: None, more: false, newest_first: false };
        let mut read = vec![first.to_string()];
        let mut body = self.get(&first).await?;
        loop {
            let page = parse(&body).map_err(|e| Error::FhirMalformed { detail: e.0 })?;
            gathered.items.extend(page.items);
            let Some(next) = page.next else { break };
            if read.len() >= reading.max_pages || gathered.items.len() >= reading.max_records {
                gathered.more = true;
                break;
            }
            let next = match HttpUrl::parse(&next) {
                Err(e) => Err(Error::FhirMalformed { detail: format!("the next link is not a URL: {e}") }),
                // Never hand the token to another host, whatever the link says.
                Ok(next) => match self.token_for(&next) {
                    Err(error) => Err(error),
                    Ok(_) if read.contains(&next.to_string()) => {
                        Err(Error::FhirMalformed { detail: "the next link leads back to a page already read".into() })
                    }
                    Ok(_) => Ok(next),
                },
            };
            let next = match next {
                Ok(next) => next,
                Err(error) => {
                    gathered.stopped = Some(error);
                    break;
                }
            };
            read.push(next.to_string());
            progress(&gathered.items);
            body = match sorted.take() {
                None => self.get(&next).await?,
                Some(sorted) => {
                    let (by_date, next) = futures::future::join(self.get(&sorted), self.get(&next)).await;
                    let by_date = by_date.ok().and_then(|body| parse(&body).ok());
                    if let Some(page) = by_date.filter(|page| applied_newest_first(page.self_link.as_deref())) {
                        gathered =
                            Gathered { items: page.items, more: page.next.is_some(), newest_first: true, ..gathered };
                        break;
                    }
                    next?
                }
            };
        }
        Ok(gathered)
    }
}
