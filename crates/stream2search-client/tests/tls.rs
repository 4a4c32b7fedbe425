//! TLS against a local server whose certificate comes from a private CA made here: trusted with
//! `extra_ca_pem`, refused (as a configuration error, not retried) without it.

mod common;

use std::io::Read as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use stream2search::checkpoint::RecordOutcome;
use stream2search::outcome::Applied;
use stream2search_client::{Client, Config};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A CA (as PEM) and a leaf certificate for 127.0.0.1 that it signed.
fn private_pki() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "stream2search test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &*ca)
        .unwrap();
    (
        ca.pem(),
        leaf.der().clone(),
        PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
}

/// An HTTPS `_bulk` endpoint answering 201 for every item; counts TCP connections.
async fn https_server(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> (String, Arc<AtomicUsize>) {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 16 * 1024];
                let (head_end, length) = loop {
                    let n = tls.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&request[..end]).to_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse().unwrap());
                        break (end + 4, length);
                    }
                };
                while request.len() < head_end + length {
                    let n = tls.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                let mut ndjson = Vec::new();
                flate2::read::GzDecoder::new(&request[head_end..])
                    .read_to_end(&mut ndjson)
                    .unwrap();
                let items: Vec<_> = actions(&ndjson)
                    .into_iter()
                    .map(|(action, id)| (action, id, 201))
                    .collect();
                let body = bulk_answer(&items).to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (base, connections)
}

fn https_config(base: &str) -> Config {
    let mut config = common::config(base);
    config.allow_http = false;
    config
}

#[tokio::test]
async fn an_extra_ca_makes_a_private_cluster_trusted() {
    let (ca_pem, cert, key) = private_pki();
    let (base, _) = https_server(cert, key).await;
    let mut config = https_config(&base);
    config.extra_ca_pem = Some(ca_pem.into_bytes());

    let report = Client::new(config)
        .unwrap()
        .send(&inserts(2), Instant::now() + Duration::from_secs(30))
        .await
        .unwrap();

    assert_eq!(
        report.finals,
        vec![RecordOutcome::Applied(Applied::Indexed); 2]
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_configuration_error_and_not_retried() {
    let (_, cert, key) = private_pki();
    let (base, connections) = https_server(cert, key).await;

    let err = Client::new(https_config(&base))
        .unwrap()
        .send(&inserts(2), Instant::now() + Duration::from_secs(30))
        .await
        .unwrap_err();

    assert!(err.is_configuration(), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}
