//! Reads from the FHIR API as the session: the access token goes only to
//! the FHIR base's origin (`Session::bearer_for` refuses anything else),
//! with a DPoP proof when it is bound (a nonce challenge is answered once),
//! 429/503 are retried a bounded number of times honouring `Retry-After`,
//! a 401 gets one refresh and one retry (none if another request already
//! replaced the refused token), and paging follows `next` links up to a
//! limit and never to another origin.

use smart_core::dpop::{resource_refused_proof, TokenType};
use smart_core::fhir::models::{Page, ParseError};
use smart_core::fhir::response::{classify, Verdict, MAX_ATTEMPTS};
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

    /// Runs a search from `first` and follows `next` links, at most
    /// `max_pages` pages, parsing each page with `parse`. A `next` link that
    /// is not a URL, or that leaves the FHIR server's origin, ends the
    /// search with what was gathered and a note saying why.
    pub async fn search<T>(
        self,
        first: HttpUrl,
        max_pages: usize,
        parse: impl Fn(&str) -> Result<Page<T>, ParseError>,
    ) -> Result<Gathered<T>, Error> {
        let mut items = Vec::new();
        let mut url = first;
        let mut pages = 0;
        loop {
            let body = self.get(&url).await?;
            pages += 1;
            let page = parse(&body).map_err(|e| Error::FhirMalformed { detail: e.0 })?;
            items.extend(page.items);
            let Some(next) = page.next.filter(|_| pages < max_pages) else { break };
            url = match HttpUrl::parse(&next) {
                Ok(next) => next,
                Err(e) => {
                    let detail = format!("the next link is not a URL: {e}");
                    return Ok(Gathered { items, stopped: Some(Error::FhirMalformed { detail }) });
                }
            };
            // Never hand the token to another host, whatever the link says.
            if let Err(error) = self.token_for(&url) {
                return Ok(Gathered { items, stopped: Some(error) });
            }
        }
        Ok(Gathered { items, stopped: None })
    }
}
