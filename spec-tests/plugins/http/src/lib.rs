//! `http`: one HTTP request through the host, described and answered as JSON.
use std::collections::BTreeMap;

use extism_pdk::*;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Request {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
}

/// Serialized in declaration order: status, body, headers (keys sorted).
#[derive(Serialize)]
struct Response {
    status: u16,
    body: String,
    headers: BTreeMap<String, String>,
}

#[plugin_fn]
pub fn http_request(Json(req): Json<Request>) -> FnResult<Json<Response>> {
    let request = HttpRequest {
        url: req.url,
        headers: req.headers,
        method: Some(req.method.unwrap_or_else(|| "GET".to_string())),
    };
    let response = http::request::<String>(&request, req.body)?;
    let body = String::from_utf8_lossy(&response.body()).into_owned();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(Json(Response {
        status: response.status_code(),
        body,
        headers,
    }))
}
