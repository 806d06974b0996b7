//! Requests with DPoP proofs (RFC 9449): the page's key signs one proof per
//! request, the latest nonce each server gave goes in the next proof, and a
//! nonce challenge (§8, §9) gets exactly one retry with the new nonce.
//!
//! The key is held by the session handle from before the token request
//! (sign-in puts it there) until the session ends; nothing else holds it,
//! and it is never stored.

use leptos::prelude::*;
use smart_core::dpop::{is_nonce_challenge, DpopBinding, UnsignedProof};
use smart_core::url::HttpUrl;
use smart_core::Error;

use super::SessionHandle;
use crate::browser::http::{Request, Response};
use crate::browser::Effects;

/// The page's DPoP key: the private key (a non-extractable WebCrypto key
/// in the browser) and what the protocol knows of it.
#[derive(Clone)]
pub struct DpopKey<K> {
    pub key: K,
    pub binding: DpopBinding,
}

/// A proof to send: the key signs it on the way out (`Effects::send`).
struct Proof<K> {
    key: K,
    unsigned: UnsignedProof,
}

/// What a request with a proof is for.
pub(super) struct Proven<'a> {
    pub method: &'static str,
    pub target: &'a HttpUrl,
    /// The access token a resource request carries (its hash goes in `ath`).
    pub access_token: Option<&'a str>,
}

impl<E: Effects> SessionHandle<E> {
    /// Holds the DPoP key for the sign-in under way and the session it
    /// starts (`None`: no DPoP).
    pub fn use_dpop_key(self, key: Option<DpopKey<E::Key>>) {
        self.local.update_value(|local| local.dpop = key);
    }

    /// Whether the page holds a DPoP key (token and revocation requests
    /// then carry proofs).
    pub fn holds_dpop_key(self) -> bool {
        self.local.try_with_value(|local| local.dpop.is_some()).unwrap_or(false)
    }

    /// The proof for one request, or `None` when the page holds no key.
    fn proof(self, what: &Proven<'_>) -> Result<Option<Proof<E::Key>>, Error> {
        let prepared = self.local.try_with_value(|local| {
            local.dpop.as_ref().map(|dpop| {
                let unsigned = dpop.binding.proof(what.method, what.target, what.access_token, self.effects.now());
                (dpop.key.clone(), unsigned)
            })
        });
        let Some((key, unsigned)) = prepared.flatten() else { return Ok(None) };
        Ok(Some(Proof { key, unsigned: unsigned? }))
    }

    /// Keeps the nonce a response carried.
    fn note_nonce(self, target: &HttpUrl, response: &Response) {
        let nonce = response.header("DPoP-Nonce");
        self.local.update_value(|local| {
            if let Some(dpop) = local.dpop.as_mut() {
                dpop.binding.note_nonce(target, nonce);
            }
        });
    }

    /// Sends `request` with a proof when `what` is given and the page holds
    /// a key; a nonce challenge is answered once with the nonce it gave
    /// (requests in flight together may all be challenged for the same one,
    /// and each retries), a second challenge, or one without a new nonce,
    /// is [`Error::DpopNonceRepeated`]. `Err(Ok(detail))` is a failure to
    /// get any answer (network, CORS, timeout).
    pub(super) async fn send_proven(
        self,
        request: Request<'_>,
        what: Option<Proven<'_>>,
    ) -> Result<Response, Result<String, Error>> {
        let mut retried = false;
        loop {
            let proof = match &what {
                Some(what) => self.proof(what).map_err(Err)?,
                None => None,
            };
            let proven = proof.is_some();
            let signing = proof.as_ref().map(|p| (&p.key, p.unsigned.signing_input()));
            let response = self.effects.send(request.clone(), signing).await.map_err(Ok)?;
            let sent_nonce = proof.as_ref().and_then(|p| p.unsigned.nonce());
            let (Some(what), true) = (&what, proven) else { return Ok(response) };
            self.note_nonce(what.target, &response);
            if !is_nonce_challenge(response.status, &response.body, response.header("WWW-Authenticate")) {
                return Ok(response);
            }
            let given = response.header("DPoP-Nonce").map(str::trim);
            if retried || given.is_none() || given == sent_nonce {
                return Err(Err(Error::DpopNonceRepeated { url: what.target.to_string() }));
            }
            retried = true;
        }
    }
}
