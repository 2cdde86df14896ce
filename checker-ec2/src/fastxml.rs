//! A fast reader for successful DescribeInstances responses.
//!
//! Profiling showed over 60% of a scan's CPU in the SDK's generic XML deserializer (every child
//! element compared by name against every field of the model), and then, with quick-xml, still
//! about 60 ns per XML event: a realistic instance is ~120 elements and ~4.3 KB, so reading the
//! page cost more than everything else checker does with it. checker needs a dozen fields.
//!
//! Two readers feed one field extractor ([`Extract`]):
//! - [`scan`], the fast path, walks from tag to tag, eight bytes at a time (the text between them
//!   is only looked at when it is a field checker keeps; entities are decoded by quick-xml). It
//!   jumps over the subtrees nobody reads without looking inside (see [`SKIPPED`]). It accepts the
//!   shape EC2 sends: an XML declaration, elements without attributes (the root's `xmlns`
//!   excepted), text and `&..;` references. On anything else (comments, CDATA, DOCTYPE,
//!   prefixed names, attributes, carriage returns in a kept field) or anything malformed it
//!   gives up, and
//! - [`reference`], quick-xml's full reader, reads the page instead and produces the error
//!   message when the page is malformed.
//!
//! Tests check on generated pages that both readers return the same result, that neither accepts
//! a page cut anywhere (a truncated page must never look like a smaller fleet), and that on a
//! damaged page the fast path declines or agrees (markup damaged inside a jumped-over subtree is
//! not seen, and then the result is the undamaged page's).
//! Everything else (signing, credentials, retries, endpoints, error responses) stays with the SDK.

use crate::RawInstance;
use quick_xml::events::Event;

/// A page: its instances and its nextToken.
pub type Page = (Vec<RawInstance>, Option<String>);

/// Parses one page. A document that ends before its root element closes is an error.
pub fn describe_instances(body: &[u8]) -> Result<Page, String> {
    match scan(body) {
        Some(page) => Ok(page),
        None => {
            tracing::debug!(bytes = body.len(), "page declined by the fast reader");
            reference(body)
        }
    }
}

/// The page's `nextToken`, found cheaply at the end of the body so the next request can be sent
/// before this page is read. Only a hint: the caller checks it against the full read. `None`
/// when the last element before the root's end tag is not a plain `<nextToken>`.
pub fn next_token_hint(body: &[u8]) -> Option<String> {
    let end = memchr::memmem::rfind(body, b"</DescribeInstancesResponse>")?;
    let before = body[..end].trim_ascii_end();
    let before = before.strip_suffix(b"</nextToken>")?;
    let start = memchr::memmem::rfind(before, b"<nextToken>")? + b"<nextToken>".len();
    let token = &before[start..];
    if token.is_empty() || token.contains(&b'<') || token.contains(&b'&') {
        return None;
    }
    String::from_utf8(token.to_vec()).ok()
}

/// Where an element sits, as far as the extractor cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Root,
    ReservationSet,
    Reservation,
    InstancesSet,
    Instance,
    InstanceState,
    Placement,
    IamInstanceProfile,
    MetadataOptions,
    GroupSet,
    Group,
    TagSet,
    Tag,
    /// A field whose text is kept.
    Field(Field),
    NextToken,
    /// Anything else: its text and children are ignored.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Image,
    Key,
    Type,
    Launch,
    Subnet,
    Vpc,
    Lifecycle,
    State,
    Zone,
    Profile,
    HttpTokens,
    HttpEndpoint,
    HopLimit,
    PublicIp,
    GroupId,
    TagKey,
    TagValue,
}

/// The field extractor both readers drive with start tags, text and end tags.
#[derive(Default)]
struct Extract {
    stack: Vec<Kind>,
    text: String,
    out: Vec<RawInstance>,
    cur: RawInstance,
    tag_key: Option<String>,
    tag_value: Option<String>,
    next: Option<String>,
    seen_root: bool,
}

impl Extract {
    /// [`Extract::start`] for the fast path: `None` for a name the full reader would read
    /// differently (a prefixed name where a field could be).
    fn start_fast(&mut self, name: &[u8]) -> Option<()> {
        if let Some(Kind::Other) = self.stack.last() {
            // Inside something nobody reads (network interfaces, block devices...).
            self.stack.push(Kind::Other);
            return Some(());
        }
        self.start(name).ok()?;
        if self.stack.last() == Some(&Kind::Other) && find(name, b':').is_some() {
            return None;
        }
        Some(())
    }

    fn start(&mut self, name: &[u8]) -> Result<(), String> {
        let parent = self.stack.last().copied();
        let kind = match (parent, name) {
            (None, b"DescribeInstancesResponse") => Kind::Root,
            (None, _) => {
                return Err(format!(
                    "the response is a <{}>, not a DescribeInstancesResponse",
                    String::from_utf8_lossy(name)
                ));
            }
            (Some(Kind::Root), b"reservationSet") => Kind::ReservationSet,
            (Some(Kind::Root), b"nextToken") => Kind::NextToken,
            (Some(Kind::ReservationSet), b"item") => Kind::Reservation,
            (Some(Kind::Reservation), b"instancesSet") => Kind::InstancesSet,
            (Some(Kind::InstancesSet), b"item") => {
                self.cur = RawInstance::default();
                Kind::Instance
            }
            (Some(Kind::Instance), n) => match n {
                b"instanceId" => Kind::Field(Field::Id),
                b"imageId" => Kind::Field(Field::Image),
                b"keyName" => Kind::Field(Field::Key),
                b"instanceType" => Kind::Field(Field::Type),
                b"launchTime" => Kind::Field(Field::Launch),
                b"subnetId" => Kind::Field(Field::Subnet),
                b"vpcId" => Kind::Field(Field::Vpc),
                b"instanceLifecycle" => Kind::Field(Field::Lifecycle),
                b"ipAddress" => Kind::Field(Field::PublicIp),
                b"metadataOptions" => Kind::MetadataOptions,
                b"groupSet" => Kind::GroupSet,
                b"instanceState" => Kind::InstanceState,
                b"placement" => Kind::Placement,
                b"iamInstanceProfile" => Kind::IamInstanceProfile,
                b"tagSet" => Kind::TagSet,
                _ => Kind::Other,
            },
            (Some(Kind::InstanceState), b"name") => Kind::Field(Field::State),
            (Some(Kind::Placement), b"availabilityZone") => Kind::Field(Field::Zone),
            (Some(Kind::IamInstanceProfile), b"arn") => Kind::Field(Field::Profile),
            (Some(Kind::MetadataOptions), b"httpTokens") => Kind::Field(Field::HttpTokens),
            (Some(Kind::MetadataOptions), b"httpEndpoint") => Kind::Field(Field::HttpEndpoint),
            (Some(Kind::MetadataOptions), b"httpPutResponseHopLimit") => {
                Kind::Field(Field::HopLimit)
            }
            (Some(Kind::GroupSet), b"item") => Kind::Group,
            (Some(Kind::Group), b"groupId") => Kind::Field(Field::GroupId),
            (Some(Kind::TagSet), b"item") => {
                self.tag_key = None;
                self.tag_value = None;
                Kind::Tag
            }
            (Some(Kind::Tag), b"key") => Kind::Field(Field::TagKey),
            (Some(Kind::Tag), b"value") => Kind::Field(Field::TagValue),
            _ => Kind::Other,
        };
        self.seen_root = true;
        self.text.clear();
        self.stack.push(kind);
        Ok(())
    }

    /// Whether the current element's text is kept.
    fn capturing(&self) -> bool {
        matches!(self.stack.last(), Some(Kind::Field(_) | Kind::NextToken))
    }

    fn text(&mut self, t: &str) {
        self.text.push_str(t);
    }

    fn end(&mut self) {
        let Some(kind) = self.stack.pop() else {
            return;
        };
        let text = std::mem::take(&mut self.text);
        let cur = &mut self.cur;
        match kind {
            Kind::Instance => self.out.push(std::mem::take(cur)),
            Kind::Tag => {
                if let Some(k) = self.tag_key.take() {
                    cur.tags
                        .push((k, self.tag_value.take().unwrap_or_default()));
                }
            }
            Kind::NextToken => self.next = Some(text).filter(|t| !t.is_empty()),
            Kind::Field(f) => {
                let slot = match f {
                    Field::Id => {
                        cur.id = text;
                        return;
                    }
                    Field::Image => &mut cur.image_id,
                    Field::Key => &mut cur.key_name,
                    Field::Type => &mut cur.instance_type,
                    Field::Launch => &mut cur.launch_time,
                    Field::Subnet => &mut cur.subnet_id,
                    Field::Vpc => &mut cur.vpc_id,
                    Field::Lifecycle => &mut cur.instance_lifecycle,
                    Field::State => &mut cur.state,
                    Field::Zone => &mut cur.availability_zone,
                    Field::Profile => &mut cur.iam_instance_profile,
                    Field::HttpTokens => &mut cur.http_tokens,
                    Field::HttpEndpoint => &mut cur.http_endpoint,
                    Field::HopLimit => &mut cur.hop_limit,
                    Field::PublicIp => &mut cur.public_ip,
                    Field::GroupId => {
                        cur.security_groups.push(text);
                        return;
                    }
                    Field::TagKey => &mut self.tag_key,
                    Field::TagValue => &mut self.tag_value,
                };
                *slot = Some(text);
            }
            _ => {}
        }
    }

    fn finish(self, body: &[u8]) -> Result<Page, String> {
        if !self.stack.is_empty() {
            return Err(format!(
                "the response body is truncated: {} element(s) never closed ({} bytes)",
                self.stack.len(),
                body.len()
            ));
        }
        if !self.seen_root {
            return Err("the response body is empty".into());
        }
        Ok((self.out, self.next))
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Instance fields nobody reads that make up most of a page (an instance's network interfaces
/// and block devices are over half its bytes): the fast path jumps over them whole.
const SKIPPED: [&str; 4] = [
    "networkInterfaceSet",
    "blockDeviceMapping",
    "cpuOptions",
    "capacityReservationSpecification",
];

/// End-tag finders for [`SKIPPED`], built once per process.
struct Skips {
    /// `(name, finder of "</name>", finder of "<name")`.
    finders: Vec<(
        &'static [u8],
        memchr::memmem::Finder<'static>,
        memchr::memmem::Finder<'static>,
    )>,
}

fn skips() -> &'static Skips {
    static SKIPS: std::sync::OnceLock<Skips> = std::sync::OnceLock::new();
    SKIPS.get_or_init(|| Skips {
        finders: SKIPPED
            .iter()
            .map(|n| {
                let close = format!("</{n}>").into_bytes();
                let open = format!("<{n}").into_bytes();
                (
                    n.as_bytes(),
                    memchr::memmem::Finder::new(&close).into_owned(),
                    memchr::memmem::Finder::new(&open).into_owned(),
                )
            })
            .collect(),
    })
}

impl Skips {
    /// Where element `name`, whose start tag ends at `from`, ends (just after its end tag), when
    /// it is one of [`SKIPPED`] and holds neither an element of its own name nor a `!` or `?`
    /// (comments, CDATA and processing instructions hold text that could fake the end tag; the
    /// characters are rare enough in EC2's values that declining on them costs nothing).
    /// Otherwise the element is walked tag by tag.
    fn end_of(&self, name: &[u8], body: &[u8], from: usize) -> Option<usize> {
        let (_, close, open) = self.finders.iter().find(|(n, _, _)| *n == name)?;
        let rest = &body[from..];
        let end = close.find(rest)?;
        let inside = &rest[..end];
        if open.find(inside).is_some() || memchr::memchr2(b'!', b'?', inside).is_some() {
            return None;
        }
        Some(from + end + close.needle().len())
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Where `b` first occurs in `hay`, looking eight bytes at a time. Between two tags of a page
/// there are a few dozen bytes at most: `memchr`'s vector loop only pays off on long runs, and
/// its set-up per call cost more than the search here.
#[inline(always)]
fn find(hay: &[u8], b: u8) -> Option<usize> {
    let splat = ONES * u64::from(b);
    let mut words = hay.chunks_exact(8);
    let mut base = 0;
    for w in &mut words {
        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]) ^ splat;
        // The high bit of each byte that was `b` (the lowest one is exact; the others do not matter).
        let hit = w.wrapping_sub(ONES) & !w & HIGH;
        if hit != 0 {
            return Some(base + (hit.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&c| c == b)
        .map(|i| base + i)
}

/// The next `<`: [`find`] over the first bytes, `memchr` for long text.
#[inline(always)]
fn next_lt(hay: &[u8]) -> Option<usize> {
    if hay.len() <= 128 {
        return find(hay, b'<');
    }
    find(&hay[..64], b'<').or_else(|| memchr::memchr(b'<', &hay[64..]).map(|i| i + 64))
}

/// The fast path: `None` when the page has anything it does not handle, or is malformed.
///
/// Every `<` starts markup (text and attribute values cannot hold one, and comments and CDATA
/// are declined). An end tag must be exactly `</name>` of the open element, so it is checked in
/// place; a start tag ends at the first `>` and may not hold a `<`. Per tag the work is that
/// check (end tags) or a lookup in [`Extract`] (start tags); text is only looked at in the
/// fields checker keeps. The big subtrees nobody reads ([`SKIPPED`]) are jumped over with one
/// `memmem` each.
fn scan(body: &[u8]) -> Option<Page> {
    let skips = skips();
    let mut x = Extract::default();
    let mut names: Vec<&[u8]> = Vec::with_capacity(16);
    let mut pos = 0; // just after the previous tag's '>'
    while let Some(off) = next_lt(&body[pos..]) {
        let lt = pos + off;
        if x.seen_root && names.is_empty() {
            return None; // markup after the root
        }
        let text = &body[pos..lt];
        if x.capturing() {
            if memchr::memchr2(b'&', b'\r', text).is_some() {
                if memchr::memchr(b'\r', text).is_some() {
                    return None;
                }
                let s = std::str::from_utf8(text).ok()?;
                x.text(&quick_xml::escape::unescape(s).ok()?);
            } else {
                x.text(std::str::from_utf8(text).ok()?);
            }
        } else if names.is_empty() && !text.iter().all(|&b| is_space(b)) {
            return None; // text outside the root element
        }
        match *body.get(lt + 1)? {
            b'/' => {
                let name = names.pop()?;
                let end = lt + 2 + name.len();
                if body.get(lt + 2..end)? != name || *body.get(end)? != b'>' {
                    return None;
                }
                pos = end + 1;
                x.end();
            }
            b'!' => return None, // comment, CDATA, DOCTYPE
            _ => {
                let gt = lt + 1 + find(&body[lt + 1..], b'>')?;
                let tag = &body[lt + 1..gt];
                if tag.is_empty() || find(tag, b'<').is_some() {
                    return None;
                }
                pos = gt + 1;
                if tag.first() == Some(&b'?') {
                    // The XML declaration, before the root only.
                    if x.seen_root || !tag.ends_with(b"?") {
                        return None;
                    }
                    continue;
                }
                let (mut name, empty) = match tag.strip_suffix(b"/") {
                    Some(t) => (t, true),
                    None => (tag, false),
                };
                if !x.seen_root {
                    // The root may carry attributes (its xmlns).
                    name = name.split(|&b| is_space(b)).next()?;
                }
                // Elsewhere a tag with attributes has a "name" its end tag does not match, so
                // such pages are declined when that end tag comes.
                let parent = x.stack.last().copied();
                x.start_fast(name)?;
                if empty {
                    x.end();
                } else if parent == Some(Kind::Instance)
                    && x.stack.last() == Some(&Kind::Other)
                    && let Some(end) = skips.end_of(name, body, pos)
                {
                    x.end();
                    pos = end;
                } else {
                    names.push(name);
                }
            }
        }
    }
    // Only whitespace may follow the root; nothing may be left open.
    if !x.seen_root || !names.is_empty() || !body[pos..].iter().all(|&b| is_space(b)) {
        return None;
    }
    x.finish(body).ok()
}

/// quick-xml's full reader: every page the fast path declines, and the error messages.
fn reference(body: &[u8]) -> Result<Page, String> {
    let mut reader = quick_xml::Reader::from_reader(body);
    reader.config_mut().trim_text(false);
    let mut x = Extract::default();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => x.start(e.local_name().as_ref())?,
            Ok(Event::Empty(e)) => {
                x.start(e.local_name().as_ref())?;
                x.end();
            }
            Ok(Event::Text(t)) if x.capturing() => x.text(&t.decode().map_err(|e| e.to_string())?),
            Ok(Event::CData(t)) if x.capturing() => x.text(&t.decode().map_err(|e| e.to_string())?),
            Ok(Event::GeneralRef(r)) if x.capturing() => {
                let name = r.decode().map_err(|e| e.to_string())?;
                let c = match name.as_ref() {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => match r.resolve_char_ref() {
                        Ok(Some(c)) => c,
                        _ => return Err(format!("unknown entity &{name};")),
                    },
                };
                x.text(c.encode_utf8(&mut [0; 4]));
            }
            Ok(Event::End(_)) => x.end(),
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(format!(
                    "invalid XML at byte {}: {e}",
                    reader.buffer_position()
                ));
            }
        }
    }
    x.finish(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><reservationSet><item><reservationId>r-1</reservationId><instancesSet><item><instanceId>i-1</instanceId><imageId>ami-1</imageId><instanceState><code>16</code><name>running</name></instanceState><keyName>a:b&amp;c</keyName><instanceType>c5.large</instanceType><launchTime>2018-02-14T01:00:00.000Z</launchTime><placement><availabilityZone>us-east-1a</availabilityZone></placement><subnetId>subnet-1</subnetId><vpcId>vpc-1</vpcId><networkInterfaceSet><item><subnetId>subnet-OTHER</subnetId><status>in-use</status></item></networkInterfaceSet><iamInstanceProfile><arn>arn:aws:iam::1:instance-profile/x</arn></iamInstanceProfile><tagSet><item><key>Name</key><value>w</value></item><item><key>Empty</key><value></value></item></tagSet></item></instancesSet></item></reservationSet><nextToken>tok</nextToken></DescribeInstancesResponse>"#;

    fn check_page(v: &[RawInstance], next: Option<&str>) {
        assert_eq!(next, Some("tok"));
        assert_eq!(v.len(), 1);
        let i = &v[0];
        assert_eq!(i.id, "i-1");
        assert_eq!(i.key_name.as_deref(), Some("a:b&c"));
        assert_eq!(
            i.subnet_id.as_deref(),
            Some("subnet-1"),
            "not the network interface's"
        );
        assert_eq!(i.state.as_deref(), Some("running"));
        assert_eq!(i.availability_zone.as_deref(), Some("us-east-1a"));
        assert_eq!(
            i.iam_instance_profile.as_deref(),
            Some("arn:aws:iam::1:instance-profile/x")
        );
        assert_eq!(
            i.tags,
            vec![("Name".into(), "w".into()), ("Empty".into(), String::new())]
        );
    }

    #[test]
    fn reads_the_fields_at_their_own_level_only() {
        let (v, next) = scan(PAGE.as_bytes()).expect("the fast path reads EC2's shape");
        check_page(&v, next.as_deref());
        let (v, next) = reference(PAGE.as_bytes()).unwrap();
        check_page(&v, next.as_deref());
    }

    #[test]
    fn the_next_token_hint_is_the_token_or_nothing() {
        assert_eq!(next_token_hint(PAGE.as_bytes()).as_deref(), Some("tok"));
        let last = PAGE.replace("<nextToken>tok</nextToken>", "");
        assert_eq!(next_token_hint(last.as_bytes()), None);
        let escaped = PAGE.replace("<nextToken>tok<", "<nextToken>a&amp;b<");
        assert_eq!(
            next_token_hint(escaped.as_bytes()),
            None,
            "left to the full read"
        );
        assert_eq!(next_token_hint(&PAGE.as_bytes()[..PAGE.len() - 3]), None);
    }

    #[test]
    fn unusual_documents_go_to_the_full_reader() {
        let commented = PAGE.replace("<requestId>", "<!-- c --><requestId>");
        assert!(scan(commented.as_bytes()).is_none());
        let (v, next) = describe_instances(commented.as_bytes()).unwrap();
        check_page(&v, next.as_deref());
        let cdata = PAGE.replace("<keyName>a:b&amp;c", "<keyName><![CDATA[a:b&c]]>");
        assert!(scan(cdata.as_bytes()).is_none());
        let (v, next) = describe_instances(cdata.as_bytes()).unwrap();
        check_page(&v, next.as_deref());
    }

    #[test]
    fn a_comment_inside_a_skipped_subtree_cannot_fake_its_end() {
        // Were the jump to stop at the commented end tag, "evil" would become the key name.
        let tricky = PAGE.replace(
            "<networkInterfaceSet>",
            "<networkInterfaceSet><!-- </networkInterfaceSet><keyName>evil</keyName><networkInterfaceSet> -->",
        );
        let (v, _) = describe_instances(tricky.as_bytes()).unwrap();
        assert_eq!(v[0].key_name.as_deref(), Some("a:b&c"));
        assert_eq!(
            Some((v, Some("tok".to_string()))),
            reference(tricky.as_bytes()).ok()
        );
    }

    #[test]
    fn a_cut_off_page_is_an_error() {
        for cut in 0..PAGE.len() {
            let err = describe_instances(&PAGE.as_bytes()[..cut])
                .expect_err(&format!("cut at byte {cut} was accepted"));
            assert!(!err.is_empty());
        }
        let err = describe_instances(&PAGE.as_bytes()[..PAGE.len() / 2]).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
        assert!(describe_instances(b"<html>502</html>").is_err());
        assert!(describe_instances(b"").is_err());
        let mismatched = PAGE.replace("</vpcId>", "</vpcid>");
        assert!(describe_instances(mismatched.as_bytes()).is_err());
    }

    /// A value as EC2 might send it: escaped, sometimes with entities and non-ASCII text.
    fn value() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a-zA-Z0-9:/&<>\"' é.-]{0,12}").unwrap()
    }

    fn esc(s: &str) -> String {
        quick_xml::escape::escape(s).into_owned()
    }

    prop_compose! {
        fn instance()(id in "[a-f0-9]{1,17}", key in proptest::option::of(value()), state in proptest::option::of(value()),
                      zone in proptest::option::of(value()), tags in proptest::collection::vec((value(), proptest::option::of(value())), 0..4),
                      noise in proptest::collection::vec(0usize..7, 0..5), pretty in any::<bool>()) -> String {
            let nl = if pretty { "\n  " } else { "" };
            let mut s = format!("<item>{nl}<instanceId>i-{id}</instanceId>{nl}");
            for n in &noise {
                s.push_str(match n {
                    0 => "<networkInterfaceSet><item><subnetId>subnet-x</subnetId><groupSet><item><groupName>g</groupName></item></groupSet></item></networkInterfaceSet>",
                    1 => "<productCodes/>",
                    2 => "<blockDeviceMapping><item><ebs><status>attached</status></ebs></item></blockDeviceMapping>",
                    3 => "<monitoring><state>disabled</state></monitoring>",
                    4 => "<item><keyName>not-this-one</keyName></item>",
                    // A skippable name nested in itself: walked tag by tag, not jumped over.
                    5 => "<groupSet><item><groupSet><item><keyName>nested</keyName></item></groupSet></item></groupSet>",
                    _ => "<reason></reason><groupSet/>",
                });
                s.push_str(nl);
            }
            if let Some(k) = key { s += &format!("<keyName>{}</keyName>{nl}", esc(&k)); }
            if let Some(st) = state { s += &format!("<instanceState><code>16</code><name>{}</name></instanceState>", esc(&st)); }
            if let Some(z) = zone { s += &format!("<placement><availabilityZone>{}</availabilityZone><tenancy>default</tenancy></placement>", esc(&z)); }
            s += "<tagSet>";
            for (k, v) in tags {
                match v {
                    Some(v) => s += &format!("<item><key>{}</key>{nl}<value>{}</value></item>", esc(&k), esc(&v)),
                    None => s += &format!("<item><key>{}</key><value/></item>", esc(&k)),
                }
            }
            s += "</tagSet></item>";
            s
        }
    }

    prop_compose! {
        fn page()(reservations in proptest::collection::vec(proptest::collection::vec(instance(), 0..3), 0..4),
                  token in proptest::option::of("[a-zA-Z0-9]{0,8}"), decl in any::<bool>()) -> String {
            let mut s = String::new();
            if decl { s += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"; }
            s += "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>x</requestId><reservationSet>";
            for r in reservations {
                s += "<item><reservationId>r-1</reservationId><groupSet/><instancesSet>";
                for i in r { s += &i; }
                s += "</instancesSet></item>";
            }
            s += "</reservationSet>";
            if let Some(t) = token { s += &format!("<nextToken>{t}</nextToken>"); }
            s += "</DescribeInstancesResponse>\n";
            s
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// The fast path reads every page EC2 could send exactly as quick-xml does.
        #[test]
        fn fast_and_full_readers_agree(p in page()) {
            let full = reference(p.as_bytes());
            prop_assert!(full.is_ok(), "{:?}", full);
            let fast = scan(p.as_bytes());
            prop_assert!(fast.is_some(), "the fast path declined a page in EC2's shape:\n{}", p);
            prop_assert_eq!(fast, full.ok());
        }

        /// The hint never names a token the page does not have.
        #[test]
        fn the_hint_agrees_with_the_full_read(p in page()) {
            if let Some(hint) = next_token_hint(p.as_bytes()) {
                prop_assert_eq!(Some(hint), reference(p.as_bytes()).unwrap().1);
            }
        }

        /// On a damaged page (a byte of markup inserted or deleted), the fast path declines or
        /// reads what the full reader reads, with one allowance: markup inside a subtree it jumps
        /// over ([`SKIPPED`]) is not looked at, so damage there may be accepted, and then the
        /// result must be the undamaged page's. It never returns a fleet neither page holds.
        #[test]
        fn the_fast_path_never_disagrees_on_a_damaged_page(
            p in page(),
            at in 0.0f64..1.0,
            what in 0usize..12,
        ) {
            // One edit per page: with two, one could break a skipped subtree (so the full reader
            // rejects the page) while the other changes a value legitimately.
            let mut b = p.clone().into_bytes();
            let i = ((b.len() as f64) * at) as usize;
            let insert: &[u8] = match what {
                0 => b"<",
                1 => b">",
                2 => b"/",
                3 => b"!",
                4 => b"?",
                5 => b" ",
                6 => b":",
                7 => b"<x>",
                8 => b"</x>",
                9 => b"\r",
                _ => b"",
            };
            if insert.is_empty() {
                if i < b.len() {
                    b.remove(i);
                }
            } else {
                b.splice(i..i, insert.iter().copied());
            }
            if let Some(fast) = scan(&b) {
                let expected = match reference(&b) {
                    Ok(full) => full,
                    Err(_) => reference(p.as_bytes()).unwrap(),
                };
                prop_assert_eq!(fast, expected, "{}", String::from_utf8_lossy(&b));
            }
        }

        /// Neither reader accepts a page cut short.
        #[test]
        fn no_cut_is_accepted(p in page(), at in 0.0f64..1.0) {
            let cut = ((p.trim_end().len() as f64) * at) as usize;
            prop_assert!(describe_instances(&p.as_bytes()[..cut]).is_err());
        }
    }
}
