//! SCRAM-SHA-256/512 client (RFC 5802, RFC 7677), as Kafka's SASL/SCRAM uses it.
//!
//! Written here over RustCrypto's `hmac`, `sha2` and `pbkdf2` rather than taken from a crate:
//! `scram` 0.6 depends on ring 0.16 (unmaintained), and `sasl` 0.5 has no SHA-512, does not check
//! that the server's nonce extends ours (RFC 5802 section 5.1), and ignores the server's `e=`
//! error. The protocol is three messages; the crypto is the crates'.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256, Sha512};

/// Kafka refuses fewer iterations than this, and so do we (a downgrade defence).
const MIN_ITERATIONS: u32 = 4096;

/// The hash behind a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramHash {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

/// Why a SCRAM exchange failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScramError {
    /// The server's message is malformed or missing a field.
    #[error("malformed server message: {0}")]
    Malformed(String),
    /// The server's nonce does not start with ours: not our exchange, or an attack.
    #[error("server nonce does not extend the client nonce")]
    NonceMismatch,
    /// The server asked for fewer iterations than Kafka allows.
    #[error("server asked for {0} iterations, below the minimum of {MIN_ITERATIONS}")]
    TooFewIterations(u32),
    /// The server reported an error (`e=`), for example invalid credentials.
    #[error("server error: {0}")]
    Server(String),
    /// The server's signature is wrong: it does not know the password.
    #[error("server signature does not verify")]
    BadServerSignature,
    /// A step was called out of order.
    #[error("SCRAM step called out of order")]
    OutOfOrder,
}

/// One client-side SCRAM exchange.
pub struct ScramClient {
    hash: ScramHash,
    password: String,
    nonce: String,
    client_first_bare: String,
    server_signature: Option<Vec<u8>>,
}

impl ScramClient {
    /// Starts an exchange with a fresh random nonce.
    pub fn new(hash: ScramHash, username: &str, password: &str) -> Self {
        let mut raw = [0u8; 24];
        rand::rng().fill_bytes(&mut raw);
        Self::with_nonce(hash, username, password, &B64.encode(raw))
    }

    /// Starts an exchange with a given nonce (for test vectors).
    pub fn with_nonce(hash: ScramHash, username: &str, password: &str, nonce: &str) -> Self {
        // RFC 5802 saslname: '=' and ',' are escaped.
        let name = username.replace('=', "=3D").replace(',', "=2C");
        Self {
            hash,
            password: password.to_string(),
            nonce: nonce.to_string(),
            client_first_bare: format!("n={name},r={nonce}"),
            server_signature: None,
        }
    }

    /// The client-first message (no channel binding, no authzid).
    pub fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// Computes the client-final message from the server-first message.
    pub fn client_final(&mut self, server_first: &str) -> Result<String, ScramError> {
        let fields = parse(server_first)?;
        if let Some(e) = field(&fields, "e") {
            return Err(ScramError::Server(e.to_string()));
        }
        if field(&fields, "m").is_some() {
            return Err(ScramError::Malformed(
                "unsupported mandatory extension".into(),
            ));
        }
        let nonce = field(&fields, "r").ok_or_else(|| missing("r"))?;
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(ScramError::NonceMismatch);
        }
        let salt = field(&fields, "s").ok_or_else(|| missing("s"))?;
        let salt = B64
            .decode(salt)
            .map_err(|e| ScramError::Malformed(format!("salt: {e}")))?;
        let iterations: u32 = field(&fields, "i")
            .ok_or_else(|| missing("i"))?
            .parse()
            .map_err(|e| ScramError::Malformed(format!("iterations: {e}")))?;
        if iterations < MIN_ITERATIONS {
            return Err(ScramError::TooFewIterations(iterations));
        }
        // "biws" is base64("n,,"): no channel binding.
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let salted = self.salted_password(&salt, iterations);
        let client_key = self.hmac(&salted, b"Client Key");
        let stored_key = self.digest(&client_key);
        let client_signature = self.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = self.hmac(&salted, b"Server Key");
        self.server_signature = Some(self.hmac(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)))
    }

    /// Checks the server-final message: the server proves it knows the password too.
    pub fn verify_server_final(&self, server_final: &str) -> Result<(), ScramError> {
        let expected = self
            .server_signature
            .as_ref()
            .ok_or(ScramError::OutOfOrder)?;
        let fields = parse(server_final)?;
        if let Some(e) = field(&fields, "e") {
            return Err(ScramError::Server(e.to_string()));
        }
        let v = field(&fields, "v").ok_or_else(|| missing("v"))?;
        let got = B64
            .decode(v)
            .map_err(|e| ScramError::Malformed(format!("verifier: {e}")))?;
        if &got == expected {
            Ok(())
        } else {
            Err(ScramError::BadServerSignature)
        }
    }

    fn salted_password(&self, salt: &[u8], iterations: u32) -> Vec<u8> {
        let p = self.password.as_bytes();
        match self.hash {
            ScramHash::Sha256 => {
                pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(p, salt, iterations).to_vec()
            }
            ScramHash::Sha512 => {
                pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(p, salt, iterations).to_vec()
            }
        }
    }

    fn hmac(&self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so new_from_slice cannot fail; the fallback key
        // path exists only to avoid a panic path.
        match self.hash {
            ScramHash::Sha256 => {
                let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key)
                    .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            ScramHash::Sha512 => {
                let mut m = <Hmac<Sha512> as Mac>::new_from_slice(key)
                    .unwrap_or_else(|_| <Hmac<Sha512> as Mac>::new(&Default::default()));
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    fn digest(&self, data: &[u8]) -> Vec<u8> {
        match self.hash {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

fn missing(name: &str) -> ScramError {
    ScramError::Malformed(format!("no {name}= field"))
}

fn parse(msg: &str) -> Result<Vec<(&str, &str)>, ScramError> {
    msg.split(',')
        .map(|kv| {
            kv.split_once('=')
                .ok_or_else(|| ScramError::Malformed(format!("field {kv:?} has no '='")))
        })
        .collect()
}

fn field<'a>(fields: &[(&'a str, &'a str)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7677 section 3.
    const NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

    #[test]
    fn rfc7677_sha256_test_vector() {
        let mut c = ScramClient::with_nonce(ScramHash::Sha256, "user", "pencil", NONCE);
        assert_eq!(c.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let fin = c.client_final(SERVER_FIRST).unwrap();
        assert_eq!(
            fin,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        c.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert_eq!(
            c.verify_server_final("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
            Err(ScramError::BadServerSignature)
        );
    }

    #[test]
    fn sha512_proof_verifies_against_a_server_computation() {
        let mut c = ScramClient::with_nonce(ScramHash::Sha512, "u=1,x", "pw", "abc");
        assert_eq!(c.client_first(), "n,,n=u=3D1=2Cx,r=abc");
        let server_first = "r=abcdef,s=c2FsdA==,i=4096";
        let fin = c.client_final(server_first).unwrap();
        let proof = B64.decode(fin.rsplit_once(",p=").unwrap().1).unwrap();
        assert_eq!(proof.len(), 64);
        // What a server does: recover ClientKey from the proof and compare H(ClientKey) with
        // its StoredKey, computed here from the password directly.
        let salted = pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(b"pw", b"salt", 4096);
        let mut m = <Hmac<Sha512> as Mac>::new_from_slice(&salted).unwrap();
        m.update(b"Client Key");
        let stored = Sha512::digest(m.finalize().into_bytes());
        let auth = format!("n=u=3D1=2Cx,r=abc,{server_first},c=biws,r=abcdef");
        let mut m = <Hmac<Sha512> as Mac>::new_from_slice(&stored).unwrap();
        m.update(auth.as_bytes());
        let sig = m.finalize().into_bytes();
        let client_key: Vec<u8> = proof.iter().zip(sig.iter()).map(|(a, b)| a ^ b).collect();
        assert_eq!(Sha512::digest(&client_key), stored);
    }

    #[test]
    fn rejects_foreign_nonce_weak_iterations_and_server_errors() {
        let mut c = ScramClient::with_nonce(ScramHash::Sha256, "user", "pencil", NONCE);
        assert_eq!(
            c.client_final("r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"),
            Err(ScramError::NonceMismatch)
        );
        let weak = format!("r={NONCE}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1");
        assert_eq!(c.client_final(&weak), Err(ScramError::TooFewIterations(1)));
        assert_eq!(
            c.client_final("e=invalid-proof"),
            Err(ScramError::Server("invalid-proof".into()))
        );
        assert!(matches!(
            c.client_final("garbage"),
            Err(ScramError::Malformed(_))
        ));
        assert_eq!(c.verify_server_final("v=abc"), Err(ScramError::OutOfOrder));
    }

    #[test]
    fn fresh_nonces_differ() {
        let a = ScramClient::new(ScramHash::Sha256, "u", "p").client_first();
        let b = ScramClient::new(ScramHash::Sha256, "u", "p").client_first();
        assert_ne!(a, b);
    }
}
