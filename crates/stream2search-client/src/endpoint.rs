//! Where bulk requests go: `https://host[:port][/prefix]` + `/_bulk`.

use http::{HeaderValue, Uri};

use crate::error::Error;

/// A validated endpoint: the bulk URI and the `Host` header that is both signed and sent.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    pub(crate) bulk: Uri,
    /// `prefix + "/"`: where AWS JSON-protocol calls go (SQS, DynamoDB Streams).
    pub(crate) root: Uri,
    pub(crate) host: HeaderValue,
    pub(crate) https: bool,
}

impl Endpoint {
    /// Parses `url`. Plain `http` is refused unless `allow_http` is set (as for a local test node).
    pub(crate) fn parse(url: &str, allow_http: bool) -> Result<Endpoint, Error> {
        let uri: Uri = url
            .trim()
            .parse()
            .map_err(|_| Error::config("the endpoint is not a valid URL"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") if allow_http => false,
            Some("http") => {
                return Err(Error::config(
                    "the endpoint uses plain http; use https, or allow http explicitly (local test nodes only)",
                ));
            }
            _ => return Err(Error::config("the endpoint must start with https://")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| Error::config("the endpoint has no host"))?;
        if authority.as_str().contains('@') {
            // Never echo it: it holds a password.
            return Err(Error::config(
                "the endpoint must not contain user info; use Auth::basic instead",
            ));
        }
        if uri.query().is_some() {
            return Err(Error::config("the endpoint must not have a query string"));
        }
        let default_port = if https { 443 } else { 80 };
        let host = match authority.port_u16() {
            Some(port) if port != default_port => format!("{}:{port}", authority.host()),
            _ => authority.host().to_owned(),
        };
        let prefix = uri.path().trim_end_matches('/');
        let bulk = Uri::builder()
            .scheme(uri.scheme_str().unwrap_or("https"))
            .authority(authority.as_str())
            .path_and_query(format!("{prefix}/_bulk"))
            .build()
            .map_err(|_| Error::config("the endpoint is not a valid URL"))?;
        let root = Uri::builder()
            .scheme(uri.scheme_str().unwrap_or("https"))
            .authority(authority.as_str())
            .path_and_query(format!("{prefix}/"))
            .build()
            .map_err(|_| Error::config("the endpoint is not a valid URL"))?;
        let host = HeaderValue::from_str(&host)
            .map_err(|_| Error::config("the endpoint host is not a valid header value"))?;
        Ok(Endpoint {
            bulk,
            root,
            host,
            https,
        })
    }
}

/// The endpoint as it may be shown in `Debug` output: any user info is replaced.
pub(crate) fn redacted(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://<redacted>@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_endpoint_gets_bulk_path_and_bare_host() {
        let e = Endpoint::parse("https://search-x.eu-west-1.es.amazonaws.com", false).unwrap();
        assert_eq!(
            e.bulk.to_string(),
            "https://search-x.eu-west-1.es.amazonaws.com/_bulk"
        );
        assert_eq!(e.host, "search-x.eu-west-1.es.amazonaws.com");
        assert!(e.https);
    }

    #[test]
    fn keeps_a_path_prefix_and_a_non_default_port() {
        let e = Endpoint::parse("https://proxy.example:8443/opensearch/", false).unwrap();
        assert_eq!(
            e.bulk.to_string(),
            "https://proxy.example:8443/opensearch/_bulk"
        );
        assert_eq!(e.host, "proxy.example:8443");
    }

    #[test]
    fn default_port_is_left_out_of_the_host_header() {
        let e = Endpoint::parse("https://node.example:443", false).unwrap();
        assert_eq!(e.host, "node.example");
    }

    #[test]
    fn refuses_plain_http_unless_allowed() {
        let err = Endpoint::parse("http://127.0.0.1:9200", false).unwrap_err();
        assert!(err.is_configuration());
        let e = Endpoint::parse("http://127.0.0.1:9200", true).unwrap();
        assert_eq!(e.bulk.to_string(), "http://127.0.0.1:9200/_bulk");
        assert!(!e.https);
    }

    #[test]
    fn refuses_user_info_without_echoing_it() {
        let err = Endpoint::parse("https://admin:hunter2@node.example", false).unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
        assert!(!format!("{err:?}").contains("hunter2"));
    }

    #[test]
    fn refuses_other_schemes_and_missing_hosts() {
        assert!(Endpoint::parse("ftp://node.example", true).is_err());
        assert!(Endpoint::parse("node.example:9200", true).is_err());
        assert!(Endpoint::parse("https://node.example/?pretty", true).is_err());
    }

    #[test]
    fn redaction_hides_user_info() {
        assert_eq!(
            redacted("https://admin:hunter2@node.example"),
            "https://<redacted>@node.example"
        );
        assert_eq!(redacted("https://node.example"), "https://node.example");
    }
}
