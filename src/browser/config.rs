//! Loads `config.json` from beside `index.html` at start-up, so a
//! deployment changes issuers and client ids without a rebuild.

use smart_core::config::AppConfig;
use smart_core::Error;

use super::http::{fetch, Request};
use super::navigation::app_base_url;

pub async fn load() -> Result<AppConfig, Error> {
    let url = format!("{}config.json", app_base_url());
    let response = fetch(Request::json(url.clone()))
        .await
        .map_err(|detail| Error::ConfigUnavailable { url: url.clone(), detail })?;
    if response.status != 200 {
        return Err(Error::ConfigUnavailable { url, detail: format!("HTTP status {}", response.status) });
    }
    AppConfig::parse(&response.body)
}
