//! Reading a recorded fleet file as a stream: one instance is held as JSON at a time and turned
//! into its (small, redacted) record at once, so memory follows the records kept, not the
//! file's size (a 1 GB file took 7 GB as a parsed tree).

use super::prune::{ELEMENT, Pruned};
use super::shape::{SHAPES_READ, Shape};
use super::{Instance, SecretPolicy};
use crate::diag::pointer_push;
use crate::diag::{Diagnostic, Diagnostics};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;
use std::path::Path;

/// What the stream collects.
struct Ctx<'a> {
    path: &'a Path,
    secrets: &'a SecretPolicy,
    out: Vec<Instance>,
    diags: Vec<Diagnostic>,
    accounts: super::Interner,
    /// The shape of the first element of a GCE or Azure listing, and where it is.
    shape: Option<(Shape, String)>,
    /// A Compute REST page's `nextPageToken` (a live listing pages on it).
    next_page: Option<String>,
    /// User-data texts already read.
    user_data: super::ReadCache,
}

impl Ctx<'_> {
    /// Reservation `ri` has no `Instances` array.
    fn no_instances(&mut self, ri: usize) {
        let ptr = format!("/Reservations/{ri}");
        self.not_output(&ptr, "a reservation must have an \"Instances\" array");
    }

    fn not_output(&mut self, ptr: &str, what: &str) {
        self.diags.push(Diagnostic::at(self.path, ptr, what.to_string()).hint(
            format!("a fleet file is what `aws ec2 describe-instances --output json` prints: {{\"Reservations\": [{{\"Instances\": [...]}}]}}; the shapes read are {SHAPES_READ}"),
        ));
    }
}

/// Reads describe-instances JSON from `path`, reporting every bad instance.
/// The path `-` is standard input (`aws ec2 describe-instances | checker check --fleet -`).
pub fn read(path: &Path, secrets: &SecretPolicy) -> Result<Vec<Instance>, Diagnostics> {
    let file: Box<dyn std::io::Read> = if path == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path).map_err(|e| {
            Diagnostics(vec![Diagnostic::file(path, format!("cannot read the fleet file: {e}")).hint(
                "pass the path of a file written by `aws ec2 describe-instances --output json` or `checker fleet record`, or - for standard input",
            )])
        })?)
    };
    let mut ctx = Ctx {
        path,
        secrets,
        out: Vec::new(),
        diags: Vec::new(),
        accounts: super::Interner::default(),
        shape: None,
        next_page: None,
        user_data: super::ReadCache::default(),
    };
    // The depth is checked as the bytes stream past (the file is never read twice): an
    // ignored value nested 20,000 deep was skipped, then locating a diagnostic overflowed.
    // Guarded beneath the buffer: the scanner sees 1 MiB reads, not serde's byte at a time.
    let (guarded, tripped) = crate::jsondepth::Guarded::new(file);
    let mut de =
        serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1 << 20, guarded));
    let res = Top(&mut ctx).deserialize(&mut de).and_then(|()| de.end());
    if let Err(e) = res {
        return Err(Diagnostics(vec![match tripped.get() {
            Some(d) => Diagnostic::too_deep(path, d),
            None => Diagnostic::from_json_error(path, &e),
        }]));
    }
    if ctx.diags.is_empty() {
        Ok(ctx.out)
    } else {
        Err(Diagnostics(ctx.diags))
    }
}

/// Reads one page of a live Compute `instances.aggregatedList` (or `instances.list`) response,
/// as [`read`] reads a recorded one (each instance through `gce::parse_instance`, one at a time:
/// no tree of the page is built), with its `nextPageToken`. `label` names the page in errors.
/// `unreachables` and a zone's warning other than `NO_RESULTS_ON_PAGE` are errors: the page is
/// incomplete.
pub fn read_page(
    bytes: &[u8],
    label: &Path,
    secrets: &SecretPolicy,
) -> Result<(Vec<Instance>, Option<String>), Diagnostics> {
    let mut ctx = Ctx {
        path: label,
        secrets,
        out: Vec::new(),
        diags: Vec::new(),
        accounts: super::Interner::default(),
        shape: None,
        next_page: None,
        user_data: super::ReadCache::default(),
    };
    // The page is in memory: parsed from the slice (a reader is fed one byte a call, which
    // took half of a live GCE run's CPU). serde_json's own limit (128, the same as
    // `jsondepth::MAX_DEPTH`) keeps the stack safe; the depth scanner runs only on a page that
    // failed, to say where it nests too deep if it does.
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let res = Top(&mut ctx).deserialize(&mut de).and_then(|()| de.end());
    if let Err(e) = res {
        return Err(Diagnostics(vec![
            match crate::jsondepth::check(bytes).err() {
                Some(d) => Diagnostic::too_deep(label, &d),
                None => Diagnostic::from_json_error(label, &e),
            },
        ]));
    }
    if ctx.diags.is_empty() {
        Ok((ctx.out, ctx.next_page))
    } else {
        Err(Diagnostics(ctx.diags))
    }
}

/// The top-level object.
struct Top<'c, 'a>(&'c mut Ctx<'a>);

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("describe-instances output")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let mut found: Option<String> = None;
        while let Some(k) = m.next_key::<String>()? {
            let known = matches!(k.as_str(), "Reservations" | "items" | "data" | "value");
            if known && let Some(first) = &found {
                self.0.diags.push(
                    Diagnostic::at(
                        self.0.path,
                        format!("/{k}"),
                        format!(
                            "the file mixes shapes: it has both \"{first}\" and \"{k}\" at the top"
                        ),
                    )
                    .hint(format!(
                        "record one shape per file; the shapes read are {SHAPES_READ}"
                    )),
                );
                m.next_value::<IgnoredAny>()?;
                continue;
            }
            match k.as_str() {
                "Reservations" => m.next_value_seed(Reservations(&mut *self.0))?,
                "items" => m.next_value_seed(GceItems(&mut *self.0))?,
                "data" | "value" => m.next_value_seed(Elements {
                    ctx: &mut *self.0,
                    base: format!("/{k}"),
                })?,
                "nextPageToken" => self.0.next_page = m.next_value::<Option<String>>()?,
                "unreachables" => {
                    let v = m.next_value::<Value>()?;
                    if v.as_array().is_some_and(|a| !a.is_empty()) {
                        self.0.diags.push(Diagnostic::at(self.0.path, "/unreachables", format!("the listing says these zones were unreachable, so it is incomplete: {v}"))
                            .hint("record the project again when every zone answers"));
                    }
                }
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
            if known {
                found = Some(k);
            }
        }
        if found.is_none() {
            self.0.not_output(
                "",
                "this is not a recorded fleet: there is no top-level \"Reservations\" array (describe-instances), \"items\" (Compute REST) or \"data\" (Resource Graph)",
            );
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<(), A::Error> {
        Elements {
            ctx: self.0,
            base: String::new(),
        }
        .visit_seq(s)
    }
}

/// Anything else where a container was expected: consumed, and reported by `on_other`.
macro_rules! other_values {
    () => {
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(self.other())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(self.other())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(self.other())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(self.other())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(self.other())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(self.other())
        }
    };
}

/// `Reservations`.
struct Reservations<'c, 'a>(&'c mut Ctx<'a>);

impl Reservations<'_, '_> {
    fn other(self) {
        self.0
            .not_output("/Reservations", "\"Reservations\" must be an array");
    }
}

impl<'de> DeserializeSeed<'de> for Reservations<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Reservations<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of reservations")
    }
    other_values!();
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.other();
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        let mut ri = 0;
        while s
            .next_element_seed(Reservation {
                ctx: &mut *self.0,
                ri,
            })?
            .is_some()
        {
            ri += 1;
        }
        Ok(())
    }
}

/// One reservation.
struct Reservation<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    ri: usize,
}

impl Reservation<'_, '_> {
    fn other(self) {
        self.ctx.no_instances(self.ri);
    }
}

impl<'de> DeserializeSeed<'de> for Reservation<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Reservation<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a reservation")
    }
    other_values!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        self.other();
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let mut found = false;
        let first = self.ctx.out.len();
        let mut owner: Option<std::sync::Arc<str>> = None;
        while let Some(k) = m.next_key::<String>()? {
            if k == "OwnerId" {
                match m.next_value::<Value>()? {
                    Value::String(s) if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) => {
                        owner = Some(self.ctx.accounts.intern(&s));
                    }
                    other => self.ctx.diags.push(
                        Diagnostic::at(
                            self.ctx.path,
                            format!("/Reservations/{}/OwnerId", self.ri),
                            format!("OwnerId must be a 12-digit AWS account id, not {other}"),
                        )
                        .hint("describe-instances prints the owning account's id as a string"),
                    ),
                }
            } else if k == "Instances" && !found {
                found = true;
                m.next_value_seed(Instances {
                    ctx: &mut *self.ctx,
                    ri: self.ri,
                })?;
            } else {
                m.next_value::<IgnoredAny>()?;
            }
        }
        // OwnerId may come after Instances (the CLI prints keys in order): set it afterwards.
        if let Some(o) = owner {
            for i in &mut self.ctx.out[first..] {
                i.scope = Some(o.clone());
            }
        }
        if !found {
            self.other();
        }
        Ok(())
    }
}

/// A reservation's `Instances`: each one parsed into its record as soon as it is read.
struct Instances<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    ri: usize,
}

impl Instances<'_, '_> {
    fn other(self) {
        self.ctx.no_instances(self.ri);
    }
}

impl<'de> DeserializeSeed<'de> for Instances<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Instances<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of instances")
    }
    other_values!();
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.other();
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        let mut ii = 0;
        while let Some(v) = s.next_element::<Value>()? {
            let ptr = format!("/Reservations/{}/Instances/{ii}", self.ri);
            match super::parse_instance(self.ctx.path, &ptr, &v, self.ctx.secrets) {
                Ok(i) => self.ctx.out.push(i),
                Err(d) => self.ctx.diags.push(d),
            }
            ii += 1;
        }
        Ok(())
    }
}

/// A top-level array (or `data`, `value`, `items` array) of GCE instances or Azure VMs, each
/// read into its record as soon as it is read; one shape per file.
struct Elements<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    base: String,
}

impl Elements<'_, '_> {
    fn other(self) {
        let ptr = if self.base.is_empty() { "" } else { &self.base };
        self.ctx
            .not_output(ptr, "this must be an array of instances or VMs");
    }

    /// Reads one element.
    fn element(&mut self, ptr: String, v: &Value) {
        let Some(shape) = Shape::of(v) else {
            self.ctx.diags.push(
                Diagnostic::at(self.ctx.path, ptr, "this is neither a GCE instance (\"kind\": \"compute#instance\") nor an Azure VM (\"hardwareProfile\")")
                    .hint(format!("the shapes read are {SHAPES_READ}")),
            );
            return;
        };
        match &self.ctx.shape {
            Some((first, at)) if *first != shape => {
                let msg = format!(
                    "the file mixes shapes: this is {}, but {at} is {}",
                    shape.name(),
                    first.name()
                );
                self.ctx.diags.push(
                    Diagnostic::at(self.ctx.path, ptr, msg)
                        .hint(format!("record one shape per file (pass several --fleet files); the shapes read are {SHAPES_READ}")),
                );
                return;
            }
            Some(_) => {}
            None => {
                self.ctx.shape = Some((
                    shape,
                    if ptr.is_empty() {
                        "/".into()
                    } else {
                        ptr.clone()
                    },
                ))
            }
        }
        let (path, secrets) = (self.ctx.path, self.ctx.secrets);
        let read = match shape {
            Shape::Gce => {
                super::gce::parse_instance_with(path, &ptr, v, secrets, &mut self.ctx.user_data)
            }
            Shape::Azure => super::azure::parse_vm(path, &ptr, v, secrets),
        };
        match read {
            Ok(mut i) => {
                i.scope = i.scope.map(|s| self.ctx.accounts.intern(&s));
                self.ctx.out.push(i);
            }
            Err(d) => self.ctx.diags.push(d),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Elements<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Elements<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of instances")
    }
    other_values!();
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.other();
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut s: A) -> Result<(), A::Error> {
        let mut n = 0;
        // Only the keys a record is made of are built (`prune`): the rest is skipped.
        while let Some(v) = s.next_element_seed(Pruned(ELEMENT))? {
            let ptr = format!("{}/{n}", self.base);
            self.element(ptr, &v);
            n += 1;
        }
        Ok(())
    }
}

/// The Compute REST `items`: an array (`instances.list`) or, from `instances.aggregatedList`,
/// an object of `{"zones/Z": {"instances": [...]}}`.
struct GceItems<'c, 'a>(&'c mut Ctx<'a>);

impl GceItems<'_, '_> {
    fn other(self) {
        self.0.not_output(
            "/items",
            "\"items\" must be an array of instances or an object of zones",
        );
    }
}

impl<'de> DeserializeSeed<'de> for GceItems<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for GceItems<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("instances.list or instances.aggregatedList items")
    }
    other_values!();
    fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<(), A::Error> {
        Elements {
            ctx: self.0,
            base: "/items".into(),
        }
        .visit_seq(s)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(scope) = m.next_key::<String>()? {
            let base = pointer_push("/items", &scope);
            m.next_value_seed(ScopedList {
                ctx: &mut *self.0,
                base,
            })?;
        }
        Ok(())
    }
}

/// One zone's `{"instances": [...], "warning": ...}` in an aggregated list.
struct ScopedList<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    base: String,
}

impl ScopedList<'_, '_> {
    fn other(self) {
        let base = self.base.clone();
        self.ctx
            .not_output(&base, "a zone's entry must be an object with \"instances\"");
    }
}

impl<'de> DeserializeSeed<'de> for ScopedList<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScopedList<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a zone's instances")
    }
    other_values!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        self.other();
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(k) = m.next_key::<String>()? {
            if k == "instances" {
                let base = format!("{}/instances", self.base);
                m.next_value_seed(Elements {
                    ctx: &mut *self.ctx,
                    base,
                })?;
            } else if k == "warning" {
                // A zone that answered has none, or NO_RESULTS_ON_PAGE; any other (UNREACHABLE,
                // ...) means its instances may be missing from the listing.
                let w = m.next_value::<Value>()?;
                let code = w.get("code").and_then(Value::as_str).unwrap_or_default();
                if code != "NO_RESULTS_ON_PAGE" {
                    let ptr = format!("{}/warning", self.base);
                    self.ctx.diags.push(
                        Diagnostic::at(self.ctx.path, ptr, format!("the listing warns about this zone, so its instances may be missing: {w}"))
                            .hint("record (or read) the project again when every zone answers"),
                    );
                }
            } else {
                m.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}
