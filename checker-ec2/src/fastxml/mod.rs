//! A fast reader for successful DescribeInstances responses.
//!
//! Profiling showed over 60% of a scan's CPU in the SDK's generic XML deserializer (every child
//! element compared by name against every field of the model), and then, with quick-xml, still
//! about 60 ns per XML event: a realistic instance is ~120 elements and ~4.3 KB, so reading the
//! page cost more than everything else checker does with it. checker needs a dozen fields.
//!
//! Two readers:
//! - [`fast::scan`], the fast path, reads the response's own shape level by level and passes
//!   over what nobody reads without looking inside (see its module). On anything it does not
//!   handle, or anything malformed, it gives up, and
//! - [`reference`], quick-xml's full reader driving a field extractor ([`Extract`]), reads the
//!   page instead and produces the error message when the page is malformed.
//!
//! Tests check on generated pages that both readers return the same result, that neither accepts
//! a page cut anywhere (a truncated page must never look like a smaller fleet), and that on a
//! damaged page the fast path declines or agrees (markup damaged inside a subtree it passes over
//! is not seen, and then the result is the undamaged page's).
//! Everything else (signing, credentials, retries, endpoints, error responses) stays with the SDK.

mod fast;

use crate::{Ec2Field, RawInstance, group_list};
use fast::scan;
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
    /// the first name of their [`Ec2Field`] rows' XML paths, by its place in [`Names::sub`].
    Sub(usize),
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
    /// Per element holding fields: its name, and its fields' names.
    sub: Vec<SubFields>,
}

/// An element of the instance that holds fields: its name, and its fields by element name.
type SubFields = (&'static [u8], Vec<(&'static [u8], Ec2Field)>);

impl Names {
    /// The kind of an instance's child element `n`.
    #[inline]
    fn top(&self, n: &[u8]) -> Kind {
        let (Some(same), Some(first)) = (self.top.get(n.len()), n.first()) else {
            return Kind::Other;
        };
        for (k, kind) in same {
            // The first byte tells most names of a length apart.
            if k.first() == Some(first) && fast::same(k, n) {
                return *kind;
            }
        }
        Kind::Other
    }

    /// The field of element `n` inside the `k`th element holding fields.
    #[inline]
    fn sub_field(&self, k: usize, n: &[u8]) -> Option<Ec2Field> {
        let (_, fields) = self.sub.get(k)?;
        fields
            .iter()
            .find(|(name, _)| fast::same(name, n))
            .map(|(_, f)| *f)
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
        let mut sub: Vec<SubFields> = Vec::new();
        for f in Ec2Field::all() {
            match f.spec().at.xml() {
                Some([name]) => top.push((name.as_bytes(), Kind::Field(Field::Ec2(f)))),
                Some([outer, name]) => {
                    let outer = outer.as_bytes();
                    let k = match sub.iter().position(|(o, _)| *o == outer) {
                        Some(k) => k,
                        None => {
                            top.push((outer, Kind::Sub(sub.len())));
                            sub.push((outer, Vec::new()));
                            sub.len() - 1
                        }
                    };
                    sub[k].1.push((name.as_bytes(), f));
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

/// The field extractor the full reader drives with start tags, text and end tags.
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
            (Some(Kind::Sub(k)), n) => names()
                .sub_field(k, n)
                .map_or(Kind::Other, |f| Kind::Field(Field::Ec2(f))),
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
