//! A client certificate's proof for Microsoft Entra ID: a JWT client assertion signed with the
//! certificate's private key, as `azure_identity`'s `ClientCertificateCredential` makes it
//! (Azure/azure-sdk-for-rust `sdk/identity/azure_identity/src/client_certificate_credential.rs`
//! at 01b29f88): header `alg` RS256, `typ` JWT and `x5t`, the certificate's SHA-1 thumbprint;
//! claims `aud` (the token endpoint), `iss` and `sub` (the client id), `jti`, `nbf` and an `exp`
//! five minutes on. `x5t` is base64url without padding, as RFC 7515 §4.1.7 and Microsoft's
//! "certificate credentials" page
//! (<https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials>) write
//! it.
//!
//! The certificate is a PEM file holding the certificate and its unencrypted private key
//! (PKCS#8 or PKCS#1), as `az ad sp create-for-rbac --create-cert` writes it
//! (`AZURE_CLIENT_CERTIFICATE_PATH`). A PKCS#12 (.pfx) file is refused with the command that
//! converts it. The key and the assertion are credentials: they never reach a log or an output.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// How long an assertion is valid, in seconds (azure_identity's `DEFAULT_REFRESH_TIME`).
const LIFETIME_SECS: i64 = 300;

/// A client certificate read from its file: the key to sign with and the header naming the
/// certificate.
pub struct Certificate {
    key: aws_lc_rs::signature::RsaKeyPair,
    /// The JWT header, base64url.
    header: String,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Certificate(..)")
    }
}

impl Certificate {
    /// Reads `path` (PEM: the certificate, then or before its private key).
    pub fn read(path: &str) -> Result<Certificate, String> {
        let what = format!("AZURE_CLIENT_CERTIFICATE_PATH {path}");
        let bytes = std::fs::read(path).map_err(|e| format!("{what}: {e}"))?;
        Certificate::parse(&bytes).map_err(|e| format!("{what}: {e}"))
    }

    /// Parses a PEM certificate and key.
    pub fn parse(pem: &[u8]) -> Result<Certificate, String> {
        const CONVERT: &str = "give a PEM file with the certificate and its unencrypted private key (from a .pfx: `openssl pkcs12 -in cert.pfx -out cert.pem -nodes`)";
        if !pem.windows(11).any(|w| w == b"-----BEGIN ") {
            return Err(format!(
                "not a PEM file (a PKCS#12 .pfx is not read); {CONVERT}"
            ));
        }
        let cert = CertificateDer::pem_slice_iter(pem)
            .next()
            .ok_or_else(|| format!("no CERTIFICATE block; {CONVERT}"))?
            .map_err(|e| format!("a bad CERTIFICATE block ({e}); {CONVERT}"))?;
        let key = PrivateKeyDer::from_pem_slice(pem)
            .map_err(|e| format!("no readable private key ({e}); {CONVERT}"))?;
        let key = match &key {
            PrivateKeyDer::Pkcs8(k) => {
                aws_lc_rs::signature::RsaKeyPair::from_pkcs8(k.secret_pkcs8_der())
            }
            PrivateKeyDer::Pkcs1(k) => {
                aws_lc_rs::signature::RsaKeyPair::from_der(k.secret_pkcs1_der())
            }
            _ => return Err(format!("the private key is not an RSA key; {CONVERT}")),
        }
        .map_err(|e| format!("the private key is not a usable RSA key ({e}); {CONVERT}"))?;
        let thumbprint =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, cert.as_ref());
        let header = serde_json::json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t": URL_SAFE_NO_PAD.encode(thumbprint.as_ref()),
        });
        Ok(Certificate {
            key,
            header: URL_SAFE_NO_PAD.encode(header.to_string()),
        })
    }

    /// A signed assertion for `client_id` at the token endpoint `audience`, valid from `now`
    /// (seconds since the epoch) for five minutes; `jti` makes it unique.
    pub fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: i64,
        jti: &str,
    ) -> Result<String, String> {
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": jti,
            "nbf": now,
            "exp": now + LIFETIME_SECS,
        });
        let signed = format!(
            "{}.{}",
            self.header,
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                signed.as_bytes(),
                &mut sig,
            )
            .map_err(|e| format!("signing the client assertion failed: {e}"))?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = include_str!("../../../tests/data/azure-client-cert.pem");

    #[test]
    fn a_pfx_or_a_pem_without_its_key_is_refused_with_what_to_do() {
        let e = Certificate::parse(&[0x30, 0x82, 0x0a, 0x01, 0x02]).expect_err("pfx");
        assert!(
            e.contains("not a PEM file") && e.contains("openssl pkcs12"),
            "{e}"
        );
        let cert_only: String = PEM
            .split_inclusive('\n')
            .take_while(|l| !l.contains("PRIVATE KEY"))
            .collect();
        let e = Certificate::parse(cert_only.as_bytes()).expect_err("no key");
        assert!(
            e.contains("private key") && e.contains("openssl pkcs12"),
            "{e}"
        );
        let key_only = &PEM[PEM.find("-----BEGIN PRIVATE KEY").expect("key")..];
        let e = Certificate::parse(key_only.as_bytes()).expect_err("no cert");
        assert!(e.contains("no CERTIFICATE"), "{e}");
    }

    #[test]
    fn the_assertion_names_the_certificate_and_the_client() {
        let c = Certificate::parse(PEM.as_bytes()).expect("pem");
        let a = c
            .assertion(
                "client-1",
                "https://login.example/t/oauth2/v2.0/token",
                1_000,
                "j-1",
            )
            .expect("sign");
        let parts: Vec<&str> = a.split('.').collect();
        assert_eq!(parts.len(), 3);
        let part = |p: &str| -> serde_json::Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).expect("b64")).expect("json")
        };
        // The thumbprint `openssl x509 -fingerprint -sha1` printed for the fixture
        // (D6:1B:50:7C:...:98:48), base64url.
        assert_eq!(
            part(parts[0]),
            serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": "1htQfHGeE0Q-3R7HUK-sh8RQmEg"})
        );
        let claims = part(parts[1]);
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        assert_eq!(claims["exp"], 1_300);
        assert_eq!(claims["nbf"], 1_000);
    }
}
