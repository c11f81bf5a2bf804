//! The rules a request must follow before and after every hop: only absolute `http`
//! and `https` URLs, a known method, a host matching a glob of the manifest's
//! `allowed_hosts`, no `Host` header naming another host and none of the headers the
//! client manages, and on a redirect, a next hop that drops credentials when it
//! leaves the origin (and is checked against the allow-list again before it is sent).

use crate::{
    error::{bail_kind, fail, new, ErrorExt},
    manifest::HttpRequest,
    Error,
};
use std::{
    collections::BTreeMap,
    string::{String, ToString},
    vec::Vec,
};
use ureq::http::{header, HeaderMap, Method, StatusCode, Uri};

/// Headers dropped when a redirect goes to another origin.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// Headers a plug-in may not set: hop-by-hop and framing headers, which the client
/// manages (a plug-in's own could smuggle a second request or switch protocols).
const CLIENT_HEADERS: [&str; 9] = [
    "connection",
    "content-length",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

/// One request to send: the first one, or a redirect.
pub(crate) struct Hop {
    /// The URL as written (by the plug-in, the manifest or a `Location` header).
    pub(crate) url: String,
    /// The URL parsed.
    pub(crate) uri: Uri,
    /// The method.
    pub(crate) method: Method,
    /// The headers as given; [`outgoing_headers`] says which are sent.
    pub(crate) headers: BTreeMap<String, String>,
    /// The body, if any.
    pub(crate) body: Option<Vec<u8>>,
}

/// Validates a request and makes it the first hop.
///
/// # Errors
///
/// As [`parse_url`] for its URL and [`parse_method`] for its method.
pub(crate) fn first_hop(request: HttpRequest, body: Option<Vec<u8>>) -> Result<Hop, Error> {
    let uri = parse_url(&request.url)?;
    let method = parse_method(request.method.as_deref())?;
    Ok(Hop {
        url: request.url,
        uri,
        method,
        headers: request.headers,
        body,
    })
}

/// The scheme of `url` when it starts with one (`scheme:`).
fn scheme_of(url: &str) -> Option<&str> {
    let end = url.find(':')?;
    let scheme = &url[..end];
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

/// Parses an absolute `http`/`https` URL with a host.
///
/// # Errors
///
/// [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied) for another
/// scheme, [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) for a URL that is not
/// absolute, does not parse or names no host.
pub(crate) fn parse_url(url: &str) -> Result<Uri, Error> {
    match scheme_of(url) {
        Some(scheme)
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") => {}
        Some(scheme) => bail_kind!(
            PermissionDenied,
            "HTTP request to {url} refused: the scheme `{scheme}` is not allowed, only http \
             and https URLs are"
        ),
        None => {
            bail_kind!(
                Invalid,
                "invalid URL `{url}`: expected an absolute http:// or https:// URL"
            )
        }
    }
    let uri: Uri = url.parse().map_err(|e| {
        fail!(
            Invalid,
            "invalid URL `{url}`: {e}; expected an absolute http:// or https:// URL"
        )
    })?;
    if uri.host().is_none_or(str::is_empty) {
        bail_kind!(Invalid, "invalid URL `{url}`: it names no host");
    }
    Ok(uri)
}

/// The request method; GET when absent.
///
/// # Errors
///
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) when it is not a valid method
/// name.
pub(crate) fn parse_method(method: Option<&str>) -> Result<Method, Error> {
    let text = method.unwrap_or("GET").to_ascii_uppercase();
    Method::from_bytes(text.as_bytes()).map_err(|e| {
        fail!(
            Invalid,
            "invalid HTTP method `{text}` from the plug-in: {e}"
        )
    })
}

/// The host of a URI as patterns see it: lowercase, IPv6 without brackets.
fn host_of(uri: &Uri) -> String {
    let host = uri.host().unwrap_or_default();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.to_ascii_lowercase()
}

/// Fails unless the hop's host matches one of `patterns` (the manifest's
/// `allowed_hosts`); `original` is the URL the plug-in asked for.
///
/// # Errors
///
/// [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied) when
/// `patterns` is empty or none matches, [`ErrorKind::Invalid`](crate::ErrorKind::Invalid)
/// when a pattern is not a valid glob.
pub(crate) fn check_allowed(patterns: &[String], hop: &Hop, original: &str) -> Result<(), Error> {
    let via = if hop.url == original {
        String::new()
    } else {
        format!(" (redirected from {original})")
    };
    if patterns.is_empty() {
        bail_kind!(
            PermissionDenied,
            "HTTP request to {}{via} is not allowed: the manifest's allowed_hosts is absent \
             or empty, so this plug-in may not use HTTP; add the host to allowed_hosts",
            hop.url
        );
    }
    let host = host_of(&hop.uri);
    for pattern in patterns {
        if host_matches(pattern, &host)? {
            return Ok(());
        }
    }
    bail_kind!(
        PermissionDenied,
        "HTTP request to {}{via} is not allowed: host `{host}` matches no pattern of \
         allowed_hosts {patterns:?}; add it to the manifest's allowed_hosts",
        hop.url
    )
}

/// True when `host` matches the glob `pattern` (case-insensitive).
fn host_matches(pattern: &str, host: &str) -> Result<bool, Error> {
    let glob = globset::GlobBuilder::new(pattern)
        .case_insensitive(true)
        .literal_separator(false)
        .build()
        .map_err(|e| {
            fail!(
                Invalid,
                "allowed_hosts pattern `{pattern}` is not a valid glob: {e}; fix the manifest"
            )
        })?;
    Ok(glob.compile_matcher().is_match(host))
}

/// The headers of a hop as sent: the client's own are dropped, and a `Host` header
/// naming another host than the URL is refused.
///
/// # Errors
///
/// [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied) for a `Host`
/// header naming another host.
pub(crate) fn outgoing_headers(hop: &Hop) -> Result<Vec<(&str, &str)>, Error> {
    let mut headers = Vec::with_capacity(hop.headers.len());
    for (name, value) in &hop.headers {
        let lower = name.trim().to_ascii_lowercase();
        if lower == "host" {
            if !host_header_matches(&hop.uri, value) {
                return Err(fail!(
                    PermissionDenied,
                    "HTTP request to {} refused: the plug-in set the header `Host: {value}`, \
                     which names another host than the URL; allowed_hosts is checked against \
                     the URL, so put the host in the URL instead",
                    hop.url
                ));
            }
            continue;
        }
        if CLIENT_HEADERS.contains(&lower.as_str()) {
            continue;
        }
        headers.push((name.as_str(), value.as_str()));
    }
    Ok(headers)
}

/// True when a `Host` header value names the URL's own host (and port, if any).
fn host_header_matches(uri: &Uri, value: &str) -> bool {
    let value = value.trim().to_ascii_lowercase();
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    match uri.port_u16() {
        Some(port) => value == format!("{host}:{port}"),
        None => {
            value == host
                || value.strip_prefix(&host).is_some_and(|rest| {
                    let default = if uri.scheme_str() == Some("https") {
                        ":443"
                    } else {
                        ":80"
                    };
                    rest == default
                })
        }
    }
}

/// The next hop when a response with `status` and `headers` is a redirect the client
/// should follow.
///
/// # Errors
///
/// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) for a `Location` that is not
/// text, and as [`parse_url`] for the URL it resolves to.
pub(crate) fn next_hop(
    hop: &Hop,
    status: StatusCode,
    headers: &HeaderMap,
) -> Result<Option<Hop>, Error> {
    let status = status.as_u16();
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return Ok(None);
    }
    let Some(location) = headers.get(header::LOCATION) else {
        return Ok(None);
    };
    let location = location.to_str().map_err(|_| {
        fail!(
            Invalid,
            "HTTP request to {} was redirected to a Location that is not text",
            hop.url
        )
    })?;
    let url = resolve(&hop.uri, location);
    let uri = parse_url(&url).map_err(|e| {
        new(
            e.kind(),
            format!("HTTP request to {} was redirected: {e:#}", hop.url),
        )
    })?;
    let keeps_body = matches!(status, 307 | 308)
        || (hop.method != Method::POST && status != 303)
        || hop.method == Method::HEAD;
    let method = if keeps_body {
        hop.method.clone()
    } else {
        Method::GET
    };
    let mut headers = hop.headers.clone();
    if !same_origin(&hop.uri, &uri) {
        headers.retain(|name, _| !CREDENTIAL_HEADERS.contains(&name.to_ascii_lowercase().as_str()));
    }
    if !keeps_body {
        headers.retain(|name, _| {
            !matches!(
                name.to_ascii_lowercase().as_str(),
                "content-length" | "content-type"
            )
        });
    }
    Ok(Some(Hop {
        url,
        uri,
        method,
        headers,
        body: if keeps_body { hop.body.clone() } else { None },
    }))
}

/// True when both URIs have the same scheme, host and port.
fn same_origin(a: &Uri, b: &Uri) -> bool {
    a.scheme_str() == b.scheme_str() && host_of(a) == host_of(b) && a.port_u16() == b.port_u16()
}

/// `location` resolved against `base` (absolute, scheme-relative, absolute-path,
/// query or relative-path references).
fn resolve(base: &Uri, location: &str) -> String {
    if scheme_of(location).is_some() {
        return location.to_string();
    }
    let scheme = base.scheme_str().unwrap_or("http");
    if location.starts_with("//") {
        return format!("{scheme}:{location}");
    }
    let authority = base.authority().map(|a| a.as_str()).unwrap_or_default();
    let path = base.path();
    if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else if location.starts_with('?') {
        format!("{scheme}://{authority}{path}{location}")
    } else {
        let directory = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("{scheme}://{authority}{directory}{location}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> Uri {
        text.parse().expect("test URI")
    }

    #[test]
    fn resolves_redirect_locations() {
        let base = uri("http://a.test:8080/dir/page?q=1");
        assert_eq!(resolve(&base, "https://b.test/x"), "https://b.test/x");
        assert_eq!(resolve(&base, "//c.test/y"), "http://c.test/y");
        assert_eq!(resolve(&base, "/root"), "http://a.test:8080/root");
        assert_eq!(resolve(&base, "?p=2"), "http://a.test:8080/dir/page?p=2");
        assert_eq!(resolve(&base, "other"), "http://a.test:8080/dir/other");
    }

    #[test]
    fn schemes_and_urls() {
        assert!(parse_url("http://localhost/").is_ok());
        assert!(parse_url("HTTPS://example.com").is_ok());
        for bad in ["file:///etc/passwd", "ftp://host/x", "javascript:alert(1)"] {
            let message = format!("{:#}", parse_url(bad).expect_err(bad));
            assert!(message.contains("is not allowed"), "{message}");
        }
        for bad in ["not a url", "", "/relative", "http://"] {
            let message = format!("{:#}", parse_url(bad).expect_err(bad));
            assert!(message.contains("invalid URL"), "{message}");
        }
    }

    #[test]
    fn host_patterns() {
        assert!(host_matches("*.example.com", "api.example.com").unwrap_or(false));
        assert!(!host_matches("*.example.com", "example.com").unwrap_or(true));
        assert!(host_matches("LOCALHOST", "localhost").unwrap_or(false));
        assert!(host_matches("127.0.0.*", "127.0.0.1").unwrap_or(false));
        assert!(host_matches("*", "anything.test").unwrap_or(false));
        assert!(host_matches("[", "x").is_err());
        assert_eq!(host_of(&uri("http://[::1]:80/")), "::1");
        assert_eq!(host_of(&uri("http://User@Example.COM/")), "example.com");
    }
}
