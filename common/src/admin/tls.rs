//! The admin client's TLS configuration (rustls), built from [`TlsSettings`]. rdkafka gets the
//! same settings through [`ConnectionSettings::rdkafka_properties`] and does its own TLS.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::connection::{ConnectionSettings, Error, Result, TlsSettings};

impl ConnectionSettings {
    /// The rustls client configuration for SSL and SASL_SSL, built from [`TlsSettings`].
    pub fn tls_client_config(&self) -> Result<rustls::ClientConfig> {
        let tls = self.tls.clone().unwrap_or(TlsSettings {
            ca_file: None,
            cert_file: None,
            key_file: None,
            verify_hostname: true,
        });
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        match &tls.ca_file {
            Some(ca) => {
                let pem_err = |detail: String| Error::Pem {
                    what: "CA certificates",
                    path: ca.clone(),
                    detail,
                };
                let certs = CertificateDer::pem_file_iter(ca)
                    .map_err(|e| pem_err(e.to_string()))?
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| pem_err(e.to_string()))?;
                if certs.is_empty() {
                    return Err(pem_err("no certificate in the file".into()));
                }
                for c in certs {
                    roots.add(c)?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = if tls.verify_hostname {
            builder.with_root_certificates(roots)
        } else {
            let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| Error::Invalid(format!("TLS verifier: {e}")))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoHostnameVerifier { inner }))
        };
        match (&tls.cert_file, &tls.key_file) {
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
                    .map_err(|e| Error::Pem {
                        what: "client certificate",
                        path: cert.clone(),
                        detail: e.to_string(),
                    })?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| Error::Pem {
                    what: "client key",
                    path: key.clone(),
                    detail: e.to_string(),
                })?;
                Ok(builder.with_client_auth_cert(chain, key)?)
            }
            _ => Ok(builder.with_no_client_auth()),
        }
    }
}

/// Verifies the chain like the default verifier but accepts a certificate that does not name
/// the host (`verify_hostname = false`).
#[derive(Debug)]
struct NoHostnameVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for NoHostnameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
