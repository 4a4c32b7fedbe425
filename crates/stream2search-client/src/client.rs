//! The client: built once per process from a [`Config`], cloned freely, reused for every call.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, header};

use crate::auth::{Auth, Service, Signer};
use crate::config::{Config, Setting};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::gzip;
use crate::tls;
use crate::transport::{self, Answer, Http};

/// A bulk transport to one OpenSearch endpoint.
///
/// Holds one pool of keep-alive connections; clones share it. Build it once (in Lambda: outside
/// the handler) and reuse it.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: Http,
    pub(crate) endpoint: Endpoint,
    pub(crate) signer: Signer,
    pub(crate) config: Config,
}

/// A request body as prepared for sending.
pub(crate) struct Prepared {
    pub(crate) request: Request<Bytes>,
    pub(crate) ndjson_bytes: usize,
    pub(crate) sent_bytes: usize,
}

impl Client {
    /// Validates `config` and builds the connection pool. Needs no network and no runtime;
    /// requests need a Tokio runtime.
    pub fn new(config: Config) -> Result<Client, Error> {
        let endpoint = Endpoint::parse(&config.endpoint, config.allow_http)
            .map_err(|e| e.about(Setting::Endpoint))?;
        let tls = tls::client_config(config.extra_ca_pem.as_deref())?;
        let signer = Signer::new(&config.auth).map_err(|e| e.about(Setting::Auth))?;
        if config.connect_timeout.is_zero() {
            return Err(Error::invalid(
                Setting::ConnectTimeout,
                "connect_timeout must be longer than zero",
            ));
        }
        if config.request_timeout.is_zero() {
            return Err(Error::invalid(
                Setting::RequestTimeout,
                "request_timeout must be longer than zero",
            ));
        }
        if config.max_attempts == 0 {
            return Err(Error::invalid(
                Setting::MaxAttempts,
                "max_attempts must be at least 1",
            ));
        }
        crate::send::check(&config)?;
        // An https endpoint never follows a connection to plain http.
        let http = transport::build(
            tls,
            !endpoint.https,
            config.connect_timeout,
            config.pool_idle_timeout,
        );
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                endpoint,
                signer,
                config,
            }),
        })
    }

    /// The exact request [`send`](Client::send) would make for this NDJSON body: `POST …/_bulk`,
    /// gzip-compressed unless turned off, and signed over the bytes that go on the wire.
    ///
    /// Useful to inspect what is sent, and to measure signing and compression alone.
    ///
    /// ```
    /// use aws_credential_types::Credentials;
    /// use stream2search_client::{Auth, Client, Config, Service, SigV4};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "example");
    /// let mut config = Config::new("https://collection-id.eu-west-1.aoss.amazonaws.com");
    /// config.auth = Auth::SigV4(SigV4::new(Service::Aoss, "eu-west-1", creds));
    /// let client = Client::new(config)?;
    ///
    /// let request = client
    ///     .bulk_request(b"{\"delete\":{\"_index\":\"products\",\"_id\":\"p-1\"}}\n")
    ///     .await?;
    /// assert_eq!(request.method(), "POST");
    /// assert_eq!(request.uri().path(), "/_bulk");
    /// assert_eq!(request.headers()["content-encoding"], "gzip");
    /// assert!(request.headers().contains_key("x-amz-content-sha256"));
    /// let auth = request.headers()["authorization"].to_str()?;
    /// assert!(auth.contains("/eu-west-1/aoss/aws4_request"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn bulk_request(&self, ndjson: &[u8]) -> Result<Request<Bytes>, Error> {
        Ok(self.prepare(ndjson, SystemTime::now()).await?.request)
    }

    pub(crate) async fn prepare(&self, ndjson: &[u8], now: SystemTime) -> Result<Prepared, Error> {
        let inner = &*self.inner;
        let body = if inner.config.gzip {
            Bytes::from(gzip::compress(ndjson))
        } else {
            Bytes::copy_from_slice(ndjson)
        };
        let sent_bytes = body.len();
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(inner.endpoint.bulk.clone())
            .header(header::HOST, inner.endpoint.host.clone())
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            )
            .header(header::CONTENT_LENGTH, HeaderValue::from(sent_bytes));
        if inner.config.gzip {
            builder = builder.header(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        let mut request = builder
            .body(body)
            .map_err(|_| Error::config("could not build the bulk request"))?;
        inner.signer.sign(&mut request, now).await?;
        Ok(Prepared {
            request,
            ndjson_bytes: ndjson.len(),
            sent_bytes,
        })
    }

    /// One call of an AWS JSON-protocol API at the endpoint's root (`POST /`, `x-amz-target:
    /// TARGET`, `content-type: application/x-amz-json-1.0`, or `1.1` when the client signs for
    /// [`Service::Kinesis`]), signed like every request of this client and sent on its
    /// connection pool, within `limit`. Returns the HTTP status and body.
    ///
    /// This is how dead letters reach SQS (`AmazonSQS.SendMessageBatch`, [`Service::Sqs`]) and
    /// how streams are read (`DynamoDBStreams_20120810.GetRecords`, [`Service::DynamoDb`];
    /// `Kinesis_20131202.GetRecords`, [`Service::Kinesis`]).
    ///
    /// [`Service::Sqs`]: crate::Service::Sqs
    /// [`Service::DynamoDb`]: crate::Service::DynamoDb
    /// [`Service::Kinesis`]: crate::Service::Kinesis
    pub async fn call_aws_json(
        &self,
        target: &str,
        body: Vec<u8>,
        limit: Duration,
    ) -> Result<(u16, Bytes), Error> {
        let inner = &*self.inner;
        let target = HeaderValue::from_str(target)
            .map_err(|_| Error::config("the x-amz-target is not a valid header value"))?;
        let content_type = match &inner.config.auth {
            Auth::SigV4(sigv4) => sigv4.service().json_content_type(),
            _ => Service::DynamoDb.json_content_type(),
        };
        let body = Bytes::from(body);
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(inner.endpoint.root.clone())
            .header(header::HOST, inner.endpoint.host.clone())
            .header(header::CONTENT_TYPE, HeaderValue::from_static(content_type))
            .header("x-amz-target", target)
            .header(header::CONTENT_LENGTH, HeaderValue::from(body.len()))
            .body(body)
            .map_err(|_| Error::config("could not build the request"))?;
        inner.signer.sign(&mut request, SystemTime::now()).await?;
        let answer = self.exchange(request, limit).await?;
        Ok((answer.status, answer.body))
    }

    /// One OpenSearch REST call: `METHOD {prefix}/{path}` with an optional JSON body, signed like
    /// every request of this client and sent on its connection pool, within `limit`, without
    /// retries. Returns the HTTP status and body. `path` may hold a query string
    /// (`products-000001/_count`, `_alias/products?ignore_unavailable=true`).
    ///
    /// This is how `stream2search index` creates indexes and aliases and reads their state.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
        limit: Duration,
    ) -> Result<(u16, Bytes), Error> {
        let inner = &*self.inner;
        let uri = self.uri(path)?;
        let body = body.map_or_else(Bytes::new, Bytes::copy_from_slice);
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, inner.endpoint.host.clone())
            .header(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        if !body.is_empty() {
            builder = builder.header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        let mut request = builder
            .body(body)
            .map_err(|_| Error::config("could not build the request"))?;
        inner.signer.sign(&mut request, SystemTime::now()).await?;
        let answer = self.exchange(request, limit).await?;
        Ok((answer.status, answer.body))
    }

    /// One `GET {prefix}/{path}` with `headers` added (and signed), signed like every request of
    /// this client and sent on its connection pool, within `limit`, without retries. Returns the
    /// HTTP status, the answer's headers and its body.
    ///
    /// `path` is sent as given: percent-encode it the way the service signs it (for
    /// [`Service::S3`], every byte of a key but `A-Z a-z 0-9 - _ . ~ /`). It may hold a query
    /// string. This is how exports are read from S3 (ListObjectsV2, and GetObject with a
    /// `range` header).
    ///
    /// [`Service::S3`]: crate::Service::S3
    pub async fn get(
        &self,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
        limit: Duration,
    ) -> Result<(u16, HeaderMap, Bytes), Error> {
        let inner = &*self.inner;
        let mut builder = Request::builder()
            .method(Method::GET)
            .uri(self.uri(path)?)
            .header(header::HOST, inner.endpoint.host.clone());
        for (name, value) in headers {
            builder = builder.header(name, value.clone());
        }
        let mut request = builder
            .body(Bytes::new())
            .map_err(|_| Error::config("could not build the request"))?;
        inner.signer.sign(&mut request, SystemTime::now()).await?;
        let answer = self.exchange(request, limit).await?;
        Ok((answer.status, answer.headers, answer.body))
    }

    /// `{prefix}/{path}` at the endpoint.
    fn uri(&self, path: &str) -> Result<http::Uri, Error> {
        let root = &self.inner.endpoint.root;
        let base = root.path().trim_end_matches('/');
        http::Uri::builder()
            .scheme(root.scheme_str().unwrap_or("https"))
            .authority(root.authority().map_or("", |a| a.as_str()))
            .path_and_query(format!("{base}/{}", path.trim_start_matches('/')))
            .build()
            .map_err(|_| Error::config("the request path is not valid in a URL"))
    }

    /// Stops dynamic mapping on `index` when its mapping asks for that at the field limit
    /// ([`stream2search::outcome::stops_dynamic_mapping`]). True when it is stopped now.
    pub(crate) async fn stop_dynamic_mapping(
        &self,
        index: &str,
        limit: Duration,
    ) -> Result<bool, Error> {
        let path = format!("{index}/_mapping");
        let (status, body) = self.call(Method::GET, &path, None, limit).await?;
        if status != 200 || !stream2search::outcome::stops_dynamic_mapping(&body) {
            return Ok(false);
        }
        let stop = stream2search::outcome::STOP_DYNAMIC_MAPPING;
        let (status, _) = self.call(Method::PUT, &path, Some(stop), limit).await?;
        Ok((200..300).contains(&status))
    }

    pub(crate) async fn exchange(
        &self,
        request: Request<Bytes>,
        limit: Duration,
    ) -> Result<Answer, Error> {
        transport::exchange(&self.inner.http, request, limit).await
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("bulk", &self.inner.endpoint.bulk)
            .field("signer", &self.inner.signer)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}
