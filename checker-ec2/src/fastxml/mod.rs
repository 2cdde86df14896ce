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

use crate::{Ec2Field, RawInstance, group_list};
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
    /// An element inside the instance that holds fields (`placement`, `metadataOptions`...):
    /// the first name of their [`Ec2Field`] rows' XML paths.
    Sub(&'static str),
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
    /// A field of the rows ([`Ec2Field::spec`]).
    Ec2(Ec2Field),
    GroupId,
    TagKey,
    TagValue,
    Owner,
}

/// The element names of the instance's fields, from the rows: at the instance's level (a field,
/// or the element holding fields), and one level down.
struct Names {
    /// By name length: an instance has some 50 child elements, and a scan of one list of every
    /// name for each was a sixth of a live scan's CPU (callgrind, bench/RESULTS-eval.md); two
    /// names at most share a length.
    top: Vec<Vec<(&'static [u8], Kind)>>,
    sub: Vec<(&'static str, &'static [u8], Ec2Field)>,
}

impl Names {
    /// The kind of an instance's child element `n`.
    #[inline]
    fn top(&self, n: &[u8]) -> Kind {
        let (Some(same), Some(first)) = (self.top.get(n.len()), n.first()) else {
            return Kind::Other;
        };
        for (k, kind) in same {
            // The first byte tells most names of a length apart without a memcmp call.
            if k.first() == Some(first) && *k == n {
                return *kind;
            }
        }
        Kind::Other
    }
}

fn names() -> &'static Names {
    static NAMES: std::sync::OnceLock<Names> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        let mut top: Vec<(&'static [u8], Kind)> = vec![
            (b"instanceId", Kind::Field(Field::Id)),
            (b"groupSet", Kind::GroupSet),
            (b"tagSet", Kind::TagSet),
        ];
        let mut sub = Vec::new();
        for f in Ec2Field::all() {
            match f.spec().at.xml() {
                Some([name]) => top.push((name.as_bytes(), Kind::Field(Field::Ec2(f)))),
                Some([outer, name]) => {
                    if !top.iter().any(|(n, _)| *n == outer.as_bytes()) {
                        top.push((outer.as_bytes(), Kind::Sub(outer)));
                    }
                    sub.push((*outer, name.as_bytes(), f));
                }
                // Deeper paths are not read (the rows' test keeps them out).
                _ => {}
            }
        }
        let mut by_len: Vec<Vec<(&'static [u8], Kind)>> = Vec::new();
        for (name, kind) in top {
            if by_len.len() <= name.len() {
                by_len.resize_with(name.len() + 1, Vec::new);
            }
            by_len[name.len()].push((name, kind));
        }
        Names { top: by_len, sub }
    })
}

/// The field extractor both readers drive with start tags, text and end tags.
#[derive(Default)]
struct Extract {
    stack: Vec<Kind>,
    text: String,
    out: Vec<RawInstance>,
    cur: RawInstance,
    /// The current instance's security group ids, as listed.
    groups: Vec<String>,
    tag_key: Option<String>,
    tag_value: Option<String>,
    next: Option<String>,
    seen_root: bool,
    /// The current reservation's `ownerId`, and where its instances start in `out`.
    owner: Option<String>,
    reservation_start: usize,
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
            (Some(Kind::ReservationSet), b"item") => {
                self.owner = None;
                self.reservation_start = self.out.len();
                Kind::Reservation
            }
            (Some(Kind::Reservation), b"ownerId") => Kind::Field(Field::Owner),
            (Some(Kind::Reservation), b"instancesSet") => Kind::InstancesSet,
            (Some(Kind::InstancesSet), b"item") => {
                self.cur = RawInstance::default();
                self.groups.clear();
                Kind::Instance
            }
            (Some(Kind::Instance), n) => names().top(n),
            (Some(Kind::Sub(outer)), n) => names()
                .sub
                .iter()
                .find(|(o, k, _)| *o == outer && *k == n)
                .map_or(Kind::Other, |(_, _, f)| Kind::Field(Field::Ec2(*f))),
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
            Kind::Instance => {
                cur.owner_id.clone_from(&self.owner);
                let groups = group_list(self.groups.iter().map(String::as_str));
                cur.fields.put(Ec2Field::SecurityGroups, groups);
                self.groups.clear();
                self.out.push(std::mem::take(cur));
            }
            // An ownerId after the instances (EC2 writes it before them).
            Kind::Reservation => {
                if let Some(o) = &self.owner {
                    for i in &mut self.out[self.reservation_start..] {
                        if i.owner_id.is_none() {
                            i.owner_id = Some(o.clone());
                        }
                    }
                }
            }
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
                    Field::Ec2(f) => {
                        cur.fields.set(f, text);
                        return;
                    }
                    Field::GroupId => {
                        self.groups.push(text);
                        return;
                    }
                    Field::Owner => &mut self.owner,
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
mod tests;
