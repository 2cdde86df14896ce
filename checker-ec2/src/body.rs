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

/// A DescribeInstances response: the raw body for [`fastxml`] with its share of the
/// [`BODY_BUDGET`], or (should the body not have been kept) what the SDK parsed.
pub(crate) enum Fetched {
    Body(Vec<u8>, BodyShare),
    Parsed(Vec<RawInstance>, Option<String>),
}

/// How many bytes of DescribeInstances bodies the process holds in memory at once, read and
/// not yet parsed. Pages are asked for early (a shard's next page while its current one is
/// read), and at 30 regions about 90 pages of 4.3 MB answer in the same instant: received as
/// they came, they were most of a 1,000,000-instance check's 495 MB, although the two cores
/// parse them one at a time each. A body that does not fit waits, unread, in the socket (TCP
/// holds the sender back) until parsed pages return their share: its request went out early
/// all the same, so its latency still overlaps the reading of others. 64 MiB is about 15
/// pages, 80 ms of reading on two cores, far more than the cores can use while the rest
/// arrives (bench/RESULTS-check-memory.md).
pub(crate) const BODY_BUDGET: usize = 64 << 20;

/// What a body of unknown length is counted as: a full page of 1,000 instances.
const UNKNOWN_BODY: usize = 4 << 20;

/// The budget, in KiB, shared by every client of the process (like the API buckets).
static BODIES: std::sync::LazyLock<Arc<Semaphore>> =
    std::sync::LazyLock::new(|| Arc::new(Semaphore::new(BODY_BUDGET >> 10)));

/// A body's share of [`BODY_BUDGET`], given back when dropped (with the body: after parsing).
pub(crate) struct BodyShare {
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// Waits until a body of `content_length` bytes fits in [`BODY_BUDGET`]. A body larger than the
/// whole budget takes all of it, so it is read alone rather than never.
pub(crate) async fn body_share(content_length: Option<usize>) -> BodyShare {
    let kib = content_length
        .unwrap_or(UNKNOWN_BODY)
        .div_ceil(1024)
        .clamp(1, BODY_BUDGET >> 10);
    let kib = u32::try_from(kib).unwrap_or(u32::MAX);
    // The semaphore is never closed; should it be, the body is read without a share.
    BodyShare {
        _permit: BODIES.clone().acquire_many_owned(kib).await.ok(),
    }
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
    use super::{BODY_BUDGET, body_share, xml_is_complete};
    use futures::FutureExt;

    /// A body is read only when the process's budget has room for it; one larger than the
    /// whole budget is read alone rather than never.
    #[tokio::test]
    async fn a_body_waits_until_the_budget_has_room() {
        let whole = body_share(Some(BODY_BUDGET)).await;
        assert!(
            body_share(Some(1)).now_or_never().is_none(),
            "a body is read while the budget is spent"
        );
        drop(whole);
        assert!(
            body_share(Some(1)).now_or_never().is_some(),
            "the budget came back with the body"
        );
        let huge = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            body_share(Some(4 * BODY_BUDGET)),
        )
        .await;
        assert!(huge.is_ok(), "a body larger than the budget never fits");
    }

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
