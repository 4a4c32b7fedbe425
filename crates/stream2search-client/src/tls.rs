//! TLS: rustls with the ring provider, the webpki root set, and optionally one more CA bundle.

use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::config::Setting;
use crate::error::Error;

/// Builds the rustls configuration. The ring provider is chosen explicitly so that rustls never
/// has to guess (with aws-lc-rs also compiled in, guessing panics).
pub(crate) fn client_config(extra_ca_pem: Option<&[u8]>) -> Result<ClientConfig, Error> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = extra_ca_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|_| {
                Error::invalid(Setting::ExtraCaPem, "the extra CA is not valid PEM")
            })?;
            roots.add(cert).map_err(|_| {
                Error::invalid(
                    Setting::ExtraCaPem,
                    "the extra CA certificate cannot be used as a root",
                )
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(Error::invalid(
                Setting::ExtraCaPem,
                "the extra CA PEM holds no certificate",
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| Error::config("no TLS protocol version is available"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_with_webpki_roots_alone() {
        let config = client_config(None).unwrap();
        assert!(config.alpn_protocols.is_empty());
    }

    #[test]
    fn refuses_an_extra_ca_that_holds_no_certificate() {
        let err = client_config(Some(b"not a pem")).unwrap_err();
        assert!(err.is_configuration());
    }

    #[test]
    fn refuses_a_broken_pem_certificate() {
        let pem = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(client_config(Some(pem)).is_err());
    }
}
