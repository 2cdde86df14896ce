//! The fast path: a reader of exactly the shape DescribeInstances has, element by element.
//!
//! Each level of the response (root, reservation set, reservation, instance set, instance, the
//! instance's groups, tags and field-holding elements) is a loop over its child elements that
//! knows which children it reads. A child nobody reads is not read: a leaf is passed over by
//! checking its end tag, an element with children is walked for a few tags and then jumped over
//! with one `memmem` for its end tag (see [`Cur::skip`]). Per kept field the work is a name
//! lookup, a search for the next `<`, the end-tag check and the value's copy.
//!
//! It accepts the shape EC2 sends: an XML declaration, elements without attributes (the root's
//! `xmlns` excepted), text and `&..;` references. On anything else (comments, CDATA, DOCTYPE,
//! prefixed or attributed names where it looks, carriage returns or markup in a kept field) or
//! anything malformed where it looks, it returns `None` and the full reader reads the page.
//! Markup inside a subtree it jumps over is not looked at: damage there is not seen, and the
//! result is then the undamaged page's.

use super::{Field, Kind, Page, names};
use crate::{Ec2Field, RawInstance, group_list};
use std::borrow::Cow;

const ROOT: &[u8] = b"DescribeInstancesResponse";

/// One tag, read by [`Cur::next`].
enum Tag<'a> {
    /// A start tag and its name.
    Start(&'a [u8]),
    /// An empty-element tag (`<name/>`) and its name.
    Empty(&'a [u8]),
    /// The end tag of the element being read (already checked to be its own).
    End,
}

/// A subtree's end, found by `memmem`: the finders of `</name>` and of `<name`.
struct Jump<'a> {
    name: &'a [u8],
    close: memchr::memmem::Finder<'static>,
    open: memchr::memmem::Finder<'static>,
}

/// A position in the page, and the jumps made so far (a page's instances share their names).
struct Cur<'a> {
    /// The page, checked to be UTF-8 once (a text between two tags is then a `&str` for free).
    s: &'a str,
    pos: usize,
    jumps: Vec<Jump<'a>>,
}

/// How many tags of a subtree nobody reads are walked before its end is searched for instead:
/// most such subtrees are a few tags, where one search costs more than the walk.
const WALK: usize = 8;

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// A name the full reader would read as this fast path does: no prefix, no attributes.
fn plain(n: &[u8]) -> bool {
    !n.is_empty()
        && n.iter()
            .all(|&b| b > b' ' && !matches!(b, b':' | b'<' | b'/' | b'"' | b'\'' | b'='))
}

/// A kept field's text as the full reader decodes it; `None` for what only it handles.
#[inline]
fn decode(raw: &str) -> Option<Cow<'_, str>> {
    let b = raw.as_bytes();
    if find(b, b'\r').is_some() {
        return None;
    }
    if find(b, b'&').is_none() {
        return Some(Cow::Borrowed(raw));
    }
    quick_xml::escape::unescape(raw).ok()
}

/// Byte slices compared eight bytes at a time, in line: names are short, and a `memcmp` call
/// for each was a tenth of the reader's instructions.
#[inline(always)]
pub(super) fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let word = |s: &[u8], i: usize| s.get(i..i + 8).and_then(|w| w.first_chunk::<8>()).copied();
    let mut i = 0;
    while i + 8 < n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    // The last eight bytes, overlapping the words before.
    word(a, n - 8) == word(b, n - 8)
}

impl<'a> Cur<'a> {
    /// The page's bytes.
    #[inline(always)]
    fn b(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    /// The next `<` from the position.
    #[inline(always)]
    fn lt(&self) -> Option<usize> {
        Some(self.pos + next_lt(&self.b()[self.pos..])?)
    }

    /// Checks that the tag at `lt` is `</name>` and moves past it.
    #[inline]
    fn close(&mut self, lt: usize, name: &[u8]) -> Option<()> {
        let end = lt + 2 + name.len();
        if !same(self.b().get(lt + 2..end)?, name) || *self.b().get(end)? != b'>' {
            return None;
        }
        self.pos = end + 1;
        Some(())
    }

    /// The next tag inside element `parent`, the text before it passed over. In line: a call
    /// each was 11% of the reader's time (bench/page).
    #[inline(always)]
    fn next(&mut self, parent: &[u8]) -> Option<Tag<'a>> {
        let lt = self.lt()?;
        match *self.b().get(lt + 1)? {
            b'/' => {
                self.close(lt, parent)?;
                Some(Tag::End)
            }
            b'!' | b'?' => None,
            _ => {
                let gt = lt + 1 + find(&self.b()[lt + 1..], b'>')?;
                let tag = &self.b()[lt + 1..gt];
                self.pos = gt + 1;
                Some(match tag.strip_suffix(b"/") {
                    Some(name) => Tag::Empty(name),
                    None => Tag::Start(tag),
                })
            }
        }
    }

    /// The text of element `name`, whose start tag was just read, up to its end tag.
    #[inline]
    fn text(&mut self, name: &[u8]) -> Option<Cow<'a, str>> {
        let lt = self.lt()?;
        let raw = self.s.get(self.pos..lt)?;
        if *self.b().get(lt + 1)? != b'/' {
            return None; // markup in a field
        }
        self.close(lt, name)?;
        decode(raw)
    }

    fn string(&mut self, name: &[u8]) -> Option<String> {
        self.text(name).map(Cow::into_owned)
    }

    /// An empty element nobody reads: only its name is checked.
    fn empty(&self, name: &[u8]) -> Option<()> {
        plain(name).then_some(())
    }

    /// Passes over the rest of element `name` (its start tag just read), unread: tag by tag
    /// (each end tag checked to close its own element) for the first [`WALK`] tags, and then
    /// by one search for its end ([`Cur::jump`]). Names inside are not looked at: nothing there
    /// is read.
    fn skip(&mut self, name: &'a [u8]) -> Option<()> {
        // A prefixed name could be a field to the full reader.
        if find(name, b':').is_some() {
            return None;
        }
        // Most are leaves: the next tag is the end tag.
        let lt = self.lt()?;
        if *self.b().get(lt + 1)? == b'/' {
            return self.close(lt, name);
        }
        // `name` and at most one element opened per tag walked.
        let mut open: [&[u8]; WALK + 1] = [name; WALK + 1];
        let mut depth = 1;
        for _ in 0..WALK {
            match self.next(open[depth - 1])? {
                Tag::End => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(());
                    }
                }
                Tag::Empty(_) => {}
                Tag::Start(n) => {
                    open[depth] = n;
                    depth += 1;
                }
            }
        }
        // Still inside: jump to the end, unless an element of its own name is open.
        if open[1..depth].iter().any(|n| same(n, name)) {
            return self.walk(&open[..depth]);
        }
        match self.jump(name)? {
            Ok(end) => {
                self.pos = end;
                Some(())
            }
            Err(()) => self.walk(&open[..depth]),
        }
    }

    /// Where element `name` ends (just after its end tag), by one `memmem` for `</name>`:
    /// `Err` when the span holds an element of its own name or a `!` or `?` (comments, CDATA and
    /// processing instructions hold text that could fake the end tag; the characters are rare
    /// in what EC2 sends), and the subtree is then walked tag by tag; `None` without an end tag.
    fn jump(&mut self, name: &'a [u8]) -> Option<Result<usize, ()>> {
        let j = match self.jumps.iter().position(|j| same(j.name, name)) {
            Some(i) => &self.jumps[i],
            None => {
                let close = [b"</", name, b">"].concat();
                let open = [b"<", name].concat();
                self.jumps.push(Jump {
                    name,
                    close: memchr::memmem::Finder::new(&close).into_owned(),
                    open: memchr::memmem::Finder::new(&open).into_owned(),
                });
                self.jumps.last()?
            }
        };
        let rest = &self.b()[self.pos..];
        let end = j.close.find(rest)?;
        let inside = &rest[..end];
        if j.open.find(inside).is_some() || memchr::memchr2(b'!', b'?', inside).is_some() {
            return Some(Err(()));
        }
        Some(Ok(self.pos + end + j.close.needle().len()))
    }

    /// Walks the rest of the open elements `open` (outermost first) tag by tag, checking that
    /// each end tag closes its own element.
    fn walk(&mut self, open: &[&'a [u8]]) -> Option<()> {
        let mut open = open.to_vec();
        while let Some(top) = open.last() {
            match self.next(top)? {
                Tag::End => {
                    open.pop();
                }
                Tag::Empty(_) => {}
                Tag::Start(n) => open.push(n),
            }
        }
        Some(())
    }

    /// Only whitespace and XML declarations come before the root; its start tag (which may carry
    /// attributes) is read: `true` when it is an empty element.
    fn root(&mut self) -> Option<bool> {
        loop {
            let lt = self.lt()?;
            if !self.b()[self.pos..lt].iter().all(|&b| is_space(b)) {
                return None;
            }
            let gt = lt + 1 + find(&self.b()[lt + 1..], b'>')?;
            let tag = &self.b()[lt + 1..gt];
            self.pos = gt + 1;
            if find(tag, b'<').is_some() {
                return None;
            }
            if tag.first() == Some(&b'?') {
                if tag.len() < 2 || !tag.ends_with(b"?") {
                    return None;
                }
                continue;
            }
            let (tag, empty) = match tag.strip_suffix(b"/") {
                Some(t) => (t, true),
                None => (tag, false),
            };
            let name = tag.split(|&b| is_space(b)).next()?;
            return (name == ROOT).then_some(empty);
        }
    }
}

/// The fast path: `None` when the page has anything it does not handle, or is malformed.
pub(super) fn scan(body: &[u8]) -> Option<Page> {
    let mut c = Cur {
        s: std::str::from_utf8(body).ok()?,
        pos: 0,
        jumps: Vec::new(),
    };
    let mut out = Vec::new();
    let mut next = None;
    if !c.root()? {
        loop {
            match c.next(ROOT)? {
                Tag::End => break,
                Tag::Start(b"reservationSet") => reservation_set(&mut c, &mut out)?,
                Tag::Start(b"nextToken") => {
                    next = Some(c.string(b"nextToken")?).filter(|t| !t.is_empty());
                }
                Tag::Empty(b"nextToken") => next = None,
                Tag::Empty(n) => c.empty(n)?,
                Tag::Start(n) => c.skip(n)?,
            }
        }
    }
    // Only whitespace may follow the root.
    if !body[c.pos..].iter().all(|&b| is_space(b)) {
        return None;
    }
    Some((out, next))
}

fn reservation_set<'a>(c: &mut Cur<'a>, out: &mut Vec<RawInstance>) -> Option<()> {
    loop {
        match c.next(b"reservationSet")? {
            Tag::End => return Some(()),
            Tag::Start(b"item") => reservation(c, out)?,
            Tag::Empty(n) => c.empty(n)?,
            Tag::Start(n) => c.skip(n)?,
        }
    }
}

/// A reservation: its `ownerId` (which EC2 writes before the instances) is each instance's.
fn reservation<'a>(c: &mut Cur<'a>, out: &mut Vec<RawInstance>) -> Option<()> {
    let start = out.len();
    let mut owner = None;
    loop {
        match c.next(b"item")? {
            Tag::End => break,
            Tag::Start(b"ownerId") => owner = Some(c.string(b"ownerId")?),
            Tag::Empty(b"ownerId") => owner = Some(String::new()),
            Tag::Start(b"instancesSet") => instances(c, out, owner.as_ref())?,
            Tag::Empty(n) => c.empty(n)?,
            Tag::Start(n) => c.skip(n)?,
        }
    }
    // An ownerId after the instances.
    if let Some(o) = &owner {
        for i in &mut out[start..] {
            if i.owner_id.is_none() {
                i.owner_id = Some(o.clone());
            }
        }
    }
    Some(())
}

fn instances<'a>(
    c: &mut Cur<'a>,
    out: &mut Vec<RawInstance>,
    owner: Option<&String>,
) -> Option<()> {
    loop {
        match c.next(b"instancesSet")? {
            Tag::End => return Some(()),
            Tag::Start(b"item") => {
                // Read in place: a record is some 500 bytes.
                out.push(RawInstance::default());
                let i = out.last_mut()?;
                instance(c, i)?;
                i.owner_id = owner.cloned();
            }
            Tag::Empty(b"item") => out.push(RawInstance {
                owner_id: owner.cloned(),
                ..RawInstance::default()
            }),
            Tag::Empty(n) => c.empty(n)?,
            Tag::Start(n) => c.skip(n)?,
        }
    }
}

fn instance<'a>(c: &mut Cur<'a>, i: &mut RawInstance) -> Option<()> {
    let names = names();
    let mut groups: Vec<Cow<'a, str>> = Vec::new();
    loop {
        match c.next(b"item")? {
            Tag::End => break,
            Tag::Start(n) => match names.top(n) {
                Kind::Field(Field::Id) => i.id = c.string(n)?,
                Kind::Field(Field::Ec2(f)) => i.fields.set(f, c.string(n)?),
                Kind::Sub(k) => sub(c, n, k, i)?,
                Kind::GroupSet => group_set(c, &mut groups)?,
                Kind::TagSet => tag_set(c, &mut i.tags)?,
                _ => c.skip(n)?,
            },
            Tag::Empty(n) => match names.top(n) {
                Kind::Field(Field::Id) => i.id = String::new(),
                Kind::Field(Field::Ec2(f)) => i.fields.set(f, String::new()),
                Kind::Sub(_) | Kind::GroupSet | Kind::TagSet => {}
                _ => c.empty(n)?,
            },
        }
    }
    i.fields.put(
        Ec2Field::SecurityGroups,
        group_list(groups.iter().map(|g| g.as_ref())),
    );
    Some(())
}

/// An element of the instance that holds fields (`placement`, `metadataOptions`...), the
/// `k`th of [`super::Names::sub`].
fn sub<'a>(c: &mut Cur<'a>, name: &'a [u8], k: usize, i: &mut RawInstance) -> Option<()> {
    let names = names();
    loop {
        match c.next(name)? {
            Tag::End => return Some(()),
            Tag::Start(n) => match names.sub_field(k, n) {
                Some(f) => i.fields.set(f, c.string(n)?),
                None => c.skip(n)?,
            },
            Tag::Empty(n) => match names.sub_field(k, n) {
                Some(f) => i.fields.set(f, String::new()),
                None => c.empty(n)?,
            },
        }
    }
}

fn group_set<'a>(c: &mut Cur<'a>, groups: &mut Vec<Cow<'a, str>>) -> Option<()> {
    loop {
        match c.next(b"groupSet")? {
            Tag::End => return Some(()),
            Tag::Start(b"item") => loop {
                match c.next(b"item")? {
                    Tag::End => break,
                    Tag::Start(b"groupId") => groups.push(c.text(b"groupId")?),
                    Tag::Empty(b"groupId") => {}
                    Tag::Empty(n) => c.empty(n)?,
                    Tag::Start(n) => c.skip(n)?,
                }
            },
            Tag::Empty(n) => c.empty(n)?,
            Tag::Start(n) => c.skip(n)?,
        }
    }
}

fn tag_set<'a>(c: &mut Cur<'a>, tags: &mut Vec<(String, String)>) -> Option<()> {
    loop {
        match c.next(b"tagSet")? {
            Tag::End => return Some(()),
            Tag::Start(b"item") => {
                let (mut key, mut value) = (None, None);
                loop {
                    match c.next(b"item")? {
                        Tag::End => break,
                        Tag::Start(b"key") => key = Some(c.string(b"key")?),
                        Tag::Empty(b"key") => key = Some(String::new()),
                        Tag::Start(b"value") => value = Some(c.string(b"value")?),
                        Tag::Empty(b"value") => value = Some(String::new()),
                        Tag::Empty(n) => c.empty(n)?,
                        Tag::Start(n) => c.skip(n)?,
                    }
                }
                if let Some(k) = key {
                    tags.push((k, value.unwrap_or_default()));
                }
            }
            Tag::Empty(n) => c.empty(n)?,
            Tag::Start(n) => c.skip(n)?,
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Where `b` first occurs in `hay`, looking eight bytes at a time. Between two tags of a page
/// there are a few dozen bytes at most: `memchr`'s vector loop only pays off on long runs, and
/// its set-up per call cost more than the search here.
#[inline(always)]
pub(super) fn find(hay: &[u8], b: u8) -> Option<usize> {
    let splat = ONES * u64::from(b);
    let mut rest = hay;
    let mut base = 0;
    while let Some((w, tail)) = rest.split_first_chunk::<8>() {
        let w = u64::from_le_bytes(*w) ^ splat;
        // The high bit of each byte that was `b` (the lowest one is exact; the others do not matter).
        let hit = w.wrapping_sub(ONES) & !w & HIGH;
        if hit != 0 {
            return Some(base + (hit.trailing_zeros() / 8) as usize);
        }
        base += 8;
        rest = tail;
    }
    rest.iter().position(|&c| c == b).map(|i| base + i)
}

/// The next `<`: [`find`] over the first bytes, `memchr` for long text.
#[inline(always)]
fn next_lt(hay: &[u8]) -> Option<usize> {
    if hay.len() <= 128 {
        return find(hay, b'<');
    }
    find(&hay[..64], b'<').or_else(|| memchr::memchr(b'<', &hay[64..]).map(|i| i + 64))
}
