//! Live Azure credentials: a managed identity's token.

use super::*;

/// `check -vv --subscription sub` against the fake, with the environment `env` (and no other
/// Azure credential: `checker_env` clears them).
async fn check_with_env(f: &Fake, sub: &str, env: &[(&str, &str)]) -> Run {
    let uri = f.server.uri();
    let args: Vec<String> = [
        "-vv",
        "check",
        "--contracts",
        &contracts(),
        "--subscription",
        sub,
        "--azure-endpoint-url",
        &uri,
    ]
    .map(str::to_string)
    .into();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        checker_env(&a, &e)
    })
    .await
    .expect("run")
}

/// With no client credential configured, a managed identity announced by `IDENTITY_ENDPOINT`
/// (App Service, Functions, Container Apps) gives the token: asked as the identity services
/// document (Metadata header, the platform's secret header, api-version, the ARM resource, the
/// user-assigned client id), a 500 retried; its token, and only it, reaches Resource Graph; the
/// header secret reaches no output. (Fails on the old code: the Azure CLI was asked instead.)
#[tokio::test(flavor = "multi_thread")]
async fn a_managed_identity_gives_the_token_when_no_client_credential_is_set() {
    use wiremock::matchers::{header, query_param};
    let rows = rows_of(&example_fleet(AZURE));
    let sub = example_sub(&rows);
    let f = fake(rows, 5, Fault::None, &[]).await;
    let mi_token = "mi-tok-s3cr3t-7731";
    let first = Arc::new(AtomicUsize::new(0));
    let seen = first.clone();
    Mock::given(method("GET"))
        .and(path("/msi/token"))
        .and(header("metadata", "true"))
        .and(header("x-identity-header", "hdr-s3cr3t-5"))
        .and(query_param("api-version", "2019-08-01"))
        .and(query_param("resource", "https://management.azure.com"))
        .and(query_param("client_id", "mi-client-1"))
        .respond_with(move |_: &Request| {
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                return ResponseTemplate::new(500);
            }
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": mi_token, "expires_on": "1900000000",
                "resource": "https://management.azure.com", "token_type": "Bearer"}))
        })
        .mount(&f.server)
        .await;
    let endpoint = format!("{}/msi/token", f.server.uri());
    let r = check_with_env(
        &f,
        &sub,
        &[
            ("IDENTITY_ENDPOINT", &endpoint),
            ("IDENTITY_HEADER", "hdr-s3cr3t-5"),
            ("AZURE_CLIENT_ID", "mi-client-1"),
            ("AZURE_TENANT_ID", ""),
            ("AZURE_CLIENT_SECRET", ""),
            ("AZURE_FEDERATED_TOKEN_FILE", ""),
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", show(&r));
    assert_eq!(first.load(Ordering::SeqCst), 2, "a 500, then the token");
    assert_eq!(f.token_calls.load(Ordering::SeqCst), 0, "no client flow");
    let graph: Vec<Request> = f
        .server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|q| q.url.path().contains("ResourceGraph"))
        .collect();
    assert!(!graph.is_empty());
    for q in &graph {
        let auth = q.headers.get("authorization").and_then(|h| h.to_str().ok());
        assert_eq!(auth, Some(format!("Bearer {mi_token}").as_str()));
    }
    for secret in [mi_token, "hdr-s3cr3t-5"] {
        assert!(
            !r.stdout.contains(secret) && !r.stderr.contains(secret),
            "{secret} leaked"
        );
    }
}

/// A client certificate (`AZURE_CLIENT_CERTIFICATE_PATH`, PEM) gives the token: the token request
/// carries a JWT client assertion (jwt-bearer), its header names the certificate by its SHA-1
/// thumbprint (`openssl x509 -fingerprint -sha1` of the fixture, base64url), its claims name the
/// client and the token endpoint, and it is signed RS256 by the certificate's key (verified here
/// with the key's public half); no client secret is sent, and neither the key nor the assertion
/// reaches an output. (Fails on the old code: certificates were not read, so the Azure CLI was
/// asked and the run failed.)
#[tokio::test(flavor = "multi_thread")]
async fn a_client_certificate_signs_the_assertion_that_gets_the_token() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let rows = rows_of(&example_fleet(AZURE));
    let sub = example_sub(&rows);
    let f = fake(rows, 5, Fault::None, &[]).await;
    let uri = f.server.uri();
    let pem = root().join("checker/tests/data/azure-client-cert.pem");
    let pem = pem.to_str().expect("utf-8").to_string();
    let r = check_with_env(
        &f,
        &sub,
        &[
            ("AZURE_TENANT_ID", "tenant-1"),
            ("AZURE_CLIENT_ID", "client-1"),
            ("AZURE_CLIENT_CERTIFICATE_PATH", &pem),
            ("AZURE_AUTHORITY_HOST", &uri),
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", show(&r));
    let token: Vec<Request> = f
        .server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|q| q.url.path() == "/tenant-1/oauth2/v2.0/token")
        .collect();
    assert_eq!(token.len(), 1, "one token request");
    let form: std::collections::HashMap<String, String> = form_urlencoded::parse(&token[0].body)
        .into_owned()
        .collect();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], "client-1");
    assert_eq!(
        form["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert!(!form.contains_key("client_secret"));
    let jwt = &form["client_assertion"];
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    let part = |p: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).expect("base64url")).expect("json")
    };
    assert_eq!(
        part(parts[0]),
        json!({"alg": "RS256", "typ": "JWT", "x5t": "1htQfHGeE0Q-3R7HUK-sh8RQmEg"})
    );
    let claims = part(parts[1]);
    assert_eq!(claims["aud"], format!("{uri}/tenant-1/oauth2/v2.0/token"));
    assert_eq!(claims["iss"], "client-1");
    assert_eq!(claims["sub"], "client-1");
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["nbf"].as_i64().expect("nbf"),
        300
    );
    assert_eq!(claims["jti"].as_str().map(str::len), Some(32));
    // The signature, checked with the public half of the fixture's key.
    use rustls_pki_types::pem::PemObject;
    let key = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_file(
        root().join("checker/tests/data/azure-client-cert.pem"),
    )
    .expect("key");
    let pair = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(key.secret_pkcs8_der()).expect("rsa");
    use aws_lc_rs::signature::KeyPair;
    let public = aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        pair.public_key().as_ref(),
    );
    let signed = format!("{}.{}", parts[0], parts[1]);
    let sig = URL_SAFE_NO_PAD.decode(parts[2]).expect("signature");
    public
        .verify(signed.as_bytes(), &sig)
        .expect("RS256 signature by the certificate's key");
    for secret in [jwt.as_str(), "PRIVATE KEY", parts[2]] {
        assert!(
            !r.stdout.contains(secret) && !r.stderr.contains(secret),
            "{secret} leaked"
        );
    }
}
