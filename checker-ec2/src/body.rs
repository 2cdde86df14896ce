//! Response bodies: the stash that keeps a DescribeInstances page for the fast reader, the
//! in-flight next page, and the check that refuses a cut-off XML document.

use super::*;

/// Hands the SDK an empty document for a successful DescribeInstances response and keeps the
/// real body for [`fastxml`]; error responses go to the SDK untouched.
#[derive(Debug)]
pub(crate) struct StashBody(pub(crate) Arc<std::sync::Mutex<Option<Stashed>>>);

/// A kept body and its announced length.
#[derive(Debug)]
pub(crate) struct Stashed {
    pub(crate) body: aws_smithy_types::body::SdkBody,
    pub(crate) content_length: Option<usize>,
}

pub(crate) const EMPTY_DESCRIBE_INSTANCES: &str = "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><reservationSet/></DescribeInstancesResponse>";

impl aws_sdk_ec2::config::Intercept for StashBody {
    fn name(&self) -> &'static str {
        "StashBody"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut aws_sdk_ec2::config::interceptors::BeforeDeserializationInterceptorContextMut<
            '_,
        >,
        _rc: &aws_sdk_ec2::config::RuntimeComponents,
        _cfg: &mut aws_sdk_ec2::config::ConfigBag,
    ) -> Result<(), aws_sdk_ec2::error::BoxError> {
        let resp = context.response_mut();
        if resp.status().is_success() {
            let content_length = resp
                .headers()
                .get("content-length")
                .and_then(|v| v.parse::<usize>().ok());
            let body = std::mem::replace(
                resp.body_mut(),
                aws_smithy_types::body::SdkBody::from(EMPTY_DESCRIBE_INSTANCES),
            );
            if let Ok(mut slot) = self.0.lock() {
                *slot = Some(Stashed {
                    body,
                    content_length,
                });
            }
        }
        Ok(())
    }
}

/// A DescribeInstances response: the raw body for [`fastxml`], or (should the body not have
/// been kept) what the SDK parsed.
pub(crate) enum Fetched {
    Body(Vec<u8>),
    Parsed(Vec<RawInstance>, Option<String>),
}

/// Reads a body into one buffer sized from its Content-Length. (The SDK's `collect()` grows its
/// buffer chunk by chunk while copying: a profile of a 10,000-instance scan showed it, with the
/// page faults of each regrown buffer, at 12% of the scan's CPU.)
pub(crate) async fn read_body(
    body: aws_smithy_types::body::SdkBody,
    content_length: Option<usize>,
) -> Result<Vec<u8>, aws_smithy_types::byte_stream::error::Error> {
    // A lying Content-Length only costs a reallocation; cap what it can reserve up front.
    let mut buf = Vec::with_capacity(content_length.unwrap_or(0).min(256 << 20));
    let mut stream = aws_smithy_types::byte_stream::ByteStream::new(body);
    while let Some(chunk) = stream.next().await {
        buf.extend_from_slice(&chunk?);
    }
    Ok(buf)
}

/// A page request running in its own task; dropping it aborts the request.
pub(crate) struct InFlight(pub(crate) tokio::task::JoinHandle<Result<Fetched, Ec2Error>>);

impl InFlight {
    pub(crate) async fn join(mut self) -> Result<Fetched, Ec2Error> {
        match (&mut self.0).await {
            Ok(r) => r,
            Err(e) => Err(Ec2Error::Other(format!("a page request failed: {e}"))),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Refuses a successful response whose XML document is cut off. The SDK's XML reader accepts a
/// body that ends in the middle of an element and returns what it read so far: a truncated page
/// would look like a smaller, clean fleet. Checking that the root element is closed turns that
/// into an error (and a failed region) instead.
#[derive(Debug)]
pub(crate) struct CompleteXml;

impl aws_sdk_ec2::config::Intercept for CompleteXml {
    fn name(&self) -> &'static str {
        "CompleteXml"
    }

    fn read_after_deserialization(
        &self,
        context: &aws_sdk_ec2::config::interceptors::AfterDeserializationInterceptorContextRef<'_>,
        _rc: &aws_sdk_ec2::config::RuntimeComponents,
        _cfg: &mut aws_sdk_ec2::config::ConfigBag,
    ) -> Result<(), aws_sdk_ec2::error::BoxError> {
        let resp = context.response();
        if !resp.status().is_success() {
            return Ok(());
        }
        let Some(body) = resp.body().bytes() else {
            return Ok(());
        };
        if xml_is_complete(body) {
            Ok(())
        } else {
            Err(format!(
                "the response body is truncated: its XML root element is never closed ({} bytes)",
                body.len()
            )
            .into())
        }
    }
}

/// Whether the XML document's root element is closed at the end of the body.
pub(crate) fn xml_is_complete(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    let mut rest = text.trim();
    // Skip the declaration and comments to find the root element's name.
    while let Some(r) = rest
        .strip_prefix("<?")
        .or_else(|| rest.strip_prefix("<!--"))
    {
        let end = if rest.starts_with("<?") { "?>" } else { "-->" };
        match r.find(end) {
            Some(i) => rest = r[i + end.len()..].trim_start(),
            None => return false,
        }
    }
    let Some(r) = rest.strip_prefix('<') else {
        return false;
    };
    let name: String = r
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
        .collect();
    if name.is_empty() {
        return false;
    }
    let end = text.trim_end();
    end.ends_with(&format!("</{name}>")) || (end.ends_with("/>") && !r[name.len()..].contains('<'))
}

#[cfg(test)]
mod tests {
    use super::xml_is_complete;

    #[test]
    fn complete_and_truncated_documents_are_told_apart() {
        assert!(xml_is_complete(
            b"<?xml version=\"1.0\"?>\n<A xmlns=\"x\"><b/></A>\n"
        ));
        assert!(xml_is_complete(b"<A/>"));
        assert!(!xml_is_complete(b"<A><b>1</b>"));
        assert!(!xml_is_complete(b"<?xml version=\"1.0\"?><A><B></B></A"));
        assert!(!xml_is_complete(b""));
    }
}
