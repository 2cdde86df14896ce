//! Live Azure credentials: a managed identity's token.

use super::*;

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
    let uri = f.server.uri();
    let c = contracts();
    let args = [
        "-vv",
        "check",
        "--contracts",
        &c,
        "--subscription",
        &sub,
        "--azure-endpoint-url",
        &uri,
    ]
    .map(str::to_string);
    let endpoint = format!("{uri}/msi/token");
    let r = tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        checker_env(
            &a,
            &[
                ("IDENTITY_ENDPOINT", &endpoint),
                ("IDENTITY_HEADER", "hdr-s3cr3t-5"),
                ("AZURE_CLIENT_ID", "mi-client-1"),
                ("AZURE_TENANT_ID", ""),
                ("AZURE_CLIENT_SECRET", ""),
                ("AZURE_FEDERATED_TOKEN_FILE", ""),
            ],
        )
    })
    .await
    .expect("run");
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
