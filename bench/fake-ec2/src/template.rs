//! Pages spliced from templates, so that the fake holds no pages and can serve any fleet size.
//!
//! Everything in a reservation's XML but ten values depends only on the region, the zone and the
//! worker type; the ten (the id, the reservation, network interface, volume, spot request and
//! client-token ids derived from it, the MAC address, the private IP twice over, the launch hour)
//! depend on the instance index. So each (region, zone, worker type) has one template: the
//! reservation written by [`fleet::reservation_xml`] itself with a placeholder for each of the ten,
//! cut at the placeholders. A page is the template's literal runs copied in turn with the instance's
//! values between them. The same goes for status items (per zone and impairment, the id alone), and
//! the filters, which look at nothing an instance's class does not fix unless they name ids, are
//! decided once per class per page.

use crate::fleet::{self, Fields, Walk};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The placeholders: a byte no template holds, then the value's letter.
const MARK: u8 = 1;

/// One instance's value.
#[derive(Clone, Copy, Debug)]
enum Hole {
    Res,
    Id,
    Dash,
    Hour,
    Ip,
    Vol,
    Sir,
    Ct,
    Eni,
    Mac,
}

const HOLES: [(u8, Hole); 10] = [
    (b'R', Hole::Res),
    (b'I', Hole::Id),
    (b'D', Hole::Dash),
    (b'H', Hole::Hour),
    (b'P', Hole::Ip),
    (b'V', Hole::Vol),
    (b'S', Hole::Sir),
    (b'C', Hole::Ct),
    (b'E', Hole::Eni),
    (b'M', Hole::Mac),
];

/// Literal runs, each followed by a hole (the last by none).
struct Template {
    bytes: Vec<u8>,
    runs: Vec<(usize, usize, Option<Hole>)>,
}

impl Template {
    fn cut(bytes: Vec<u8>) -> Template {
        let mut runs = Vec::new();
        let (mut from, mut i) = (0, 0);
        let mut kept = Vec::with_capacity(bytes.len());
        while i < bytes.len() {
            if bytes[i] == MARK
                && let Some((_, hole)) = HOLES.iter().find(|(c, _)| Some(c) == bytes.get(i + 1))
            {
                runs.push((from, kept.len(), Some(*hole)));
                from = kept.len();
                i += 2;
                continue;
            }
            kept.push(bytes[i]);
            i += 1;
        }
        runs.push((from, kept.len(), None));
        Template { bytes: kept, runs }
    }

    fn fill(&self, out: &mut Vec<u8>, v: &Values) {
        for (from, to, hole) in &self.runs {
            out.extend_from_slice(&self.bytes[*from..*to]);
            if let Some(h) = hole {
                out.extend_from_slice(v.get(*h));
            }
        }
    }
}

/// One instance's ten values, in one buffer.
#[derive(Default)]
struct Values {
    buf: Vec<u8>,
    at: [(usize, usize); 10],
}

impl Values {
    fn get(&self, h: Hole) -> &[u8] {
        let (a, b) = self.at[h as usize];
        &self.buf[a..b]
    }

    /// Writes `f`'s output as hole `h`'s value.
    fn put(&mut self, h: Hole, f: impl FnOnce(&mut Vec<u8>)) {
        let a = self.buf.len();
        f(&mut self.buf);
        self.at[h as usize] = (a, self.buf.len());
    }
}

fn decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// `10.a.b.c`, or with `sep` between the parts.
fn ip(out: &mut Vec<u8>, k: usize, sep: u8) {
    out.extend_from_slice(b"10");
    for part in [k / 65536 % 256, k / 256 % 256, k % 256] {
        out.push(sep);
        decimal(out, part);
    }
}

/// A region's templates and the FNV state of `region/` (ids are hashed from there).
struct Region {
    seed: u64,
    /// By zone * 7 + worker type.
    reservations: Vec<Template>,
    /// By zone * 2 + impaired.
    statuses: Vec<Template>,
}

pub struct Templates {
    regions: HashMap<String, Region>,
    zones: usize,
}

fn marker(c: u8) -> String {
    String::from_utf8(vec![MARK, c]).unwrap_or_default()
}

impl Templates {
    pub fn new(regions: &[String], zones: usize) -> Templates {
        let m: HashMap<u8, String> = HOLES.iter().map(|(c, _)| (*c, marker(*c))).collect();
        let mk = |c: u8| m.get(&c).map_or("", String::as_str);
        let mut out = HashMap::new();
        for region in regions {
            let (vpc, sg, sg2) = (
                fleet::h(&[region, "vpc"], 16),
                fleet::h(&[region, "sg"], 16),
                fleet::h(&[region, "sg2"], 16),
            );
            let (mut reservations, mut statuses) = (Vec::new(), Vec::new());
            for z in 0..zones {
                let zone = fleet::zone_name(region, z);
                let sub = fleet::h(&[&zone, "subnet"], 16);
                for wt in fleet::WORKER_TYPES {
                    let mut b = Vec::new();
                    let f = Fields {
                        region,
                        res: mk(b'R'),
                        id: mk(b'I'),
                        ami: &fleet::h(&[region, wt], 16),
                        dash: mk(b'D'),
                        key: fleet::KEY,
                        hour: mk(b'H'),
                        zone: &zone,
                        sub: &sub,
                        vpc: &vpc,
                        sg: &sg,
                        sg2: &sg2,
                        ip: mk(b'P'),
                        vol: mk(b'V'),
                        sir: mk(b'S'),
                        ct: mk(b'C'),
                        wt,
                        owner: fleet::OWNER,
                        eni: mk(b'E'),
                        mac: mk(b'M'),
                    };
                    fleet::reservation_xml(&mut b, &f);
                    reservations.push(Template::cut(b));
                }
                for impaired in [false, true] {
                    let mut b = Vec::new();
                    fleet::status_xml(&mut b, mk(b'I'), &zone, impaired);
                    statuses.push(Template::cut(b));
                }
            }
            let seed = fleet::seed(&[region]);
            out.insert(
                region.clone(),
                Region {
                    seed,
                    reservations,
                    statuses,
                },
            );
        }
        Templates {
            regions: out,
            zones,
        }
    }

    /// The page `w` asks for, the same bytes as [`fleet::reference_page`]'s, written into `out`.
    pub fn page(&self, w: &Walk, out: Vec<u8>) -> Vec<u8> {
        let Some(r) = self
            .regions
            .get(&w.region)
            .filter(|_| w.zones == self.zones)
        else {
            return fleet::reference_page(w);
        };
        let nw = fleet::WORKER_TYPES.len();
        let class = |k| {
            (fleet::zone_index(w.zones, k) * nw + fleet::worker_type_index(w.zones, k)) * 2
                + usize::from(fleet::impaired(w.impaired_every, k))
        };
        // Unless a filter names ids, an instance's class decides every filter.
        let by_id = w.fs.iter().any(|(n, _)| n == "instance-id");
        let classes: Vec<bool> = if by_id {
            Vec::new()
        } else {
            (0..w.zones * nw * 2)
                .map(|c| {
                    let i = fleet::Inst {
                        id: String::new(),
                        zone: fleet::zone_name(&w.region, c / 2 / nw),
                        wt: fleet::WORKER_TYPES[c / 2 % nw],
                        key: fleet::KEY.into(),
                        owner: fleet::OWNER,
                        impaired: c % 2 == 1,
                    };
                    fleet::matches(&i, &w.fs)
                })
                .collect()
        };
        let mut scratch = Vec::with_capacity(32);
        let include = |k| {
            let pass = if by_id {
                fleet::matches(&fleet::inst(&w.region, w.zones, w.impaired_every, k), &w.fs)
            } else {
                classes[class(k)]
            };
            pass && (w.ids.is_empty() || {
                scratch.clear();
                id(&mut scratch, r.seed, k);
                w.ids.iter().any(|x| x.as_bytes() == scratch.as_slice())
            })
        };
        let mut v = Values::default();
        let item = |out: &mut Vec<u8>, k| {
            let c = class(k);
            if w.status {
                v.buf.clear();
                v.put(Hole::Id, |b| id(b, r.seed, k));
                r.statuses[c / 2 / nw * 2 + c % 2].fill(out, &v);
            } else {
                values(&mut v, r.seed, k);
                r.reservations[c / 2].fill(out, &v);
            }
        };
        w.page(out, include, item)
    }
}

/// Page buffers, handed back when hyper has sent them: a fresh 4.3 MB buffer a page costs more
/// kernel time (its pages faulted in and zeroed) than splicing the page into it. At most
/// `KEEP` are kept, so the pool is bounded by the pages in flight at once.
pub struct Pool(Mutex<Vec<Vec<u8>>>);

const KEEP: usize = 256;

/// A page on its way out; its buffer goes back to the pool when dropped.
pub struct Pooled(pub Vec<u8>, pub Arc<Pool>);

impl Pool {
    pub fn new() -> Arc<Pool> {
        Arc::new(Pool(Mutex::new(Vec::new())))
    }

    pub fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_default()
    }
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Ok(mut p) = self.1.0.lock()
            && p.len() < KEEP
        {
            p.push(std::mem::take(&mut self.0));
        }
    }
}

/// `i-0` and the id's 16 hex characters: `fleet::h(&[region, &k.to_string()], 16)`.
fn id(out: &mut Vec<u8>, region_seed: u64, k: usize) {
    let mut d = Vec::with_capacity(20);
    decimal(&mut d, k);
    out.extend_from_slice(b"i-0");
    fleet::hex(fleet::fnv(fleet::fnv(region_seed, &d), b"/"), 16, out);
}

/// Instance k's ten values, as `fleet::reference_page` computes them.
fn values(v: &mut Values, region_seed: u64, k: usize) {
    v.buf.clear();
    v.put(Hole::Id, |b| id(b, region_seed, k));
    let (a, b) = v.at[Hole::Id as usize];
    let of_id = fleet::fnv(fleet::fnv(0xcbf2_9ce4_8422_2325, &v.buf[a..b]), b"/");
    let derived = |name: &[u8]| fleet::fnv(fleet::fnv(of_id, name), b"/");
    v.put(Hole::Res, |b| fleet::hex(derived(b"r"), 16, b));
    v.put(Hole::Eni, |b| fleet::hex(derived(b"eni"), 17, b));
    v.put(Hole::Vol, |b| fleet::hex(derived(b"vol"), 17, b));
    v.put(Hole::Sir, |b| fleet::hex(derived(b"sir"), 8, b));
    v.put(Hole::Ct, |b| fleet::hex(derived(b"ct"), 24, b));
    let (e, _) = v.at[Hole::Eni as usize];
    let a = v.buf.len();
    for p in 0..5 {
        if p > 0 {
            v.buf.push(b':');
        }
        v.buf.extend_from_within(e + 2 * p..e + 2 * p + 2);
    }
    v.at[Hole::Mac as usize] = (a, v.buf.len());
    v.put(Hole::Ip, |b| ip(b, k, b'.'));
    v.put(Hole::Dash, |b| ip(b, k, b'-'));
    v.put(Hole::Hour, |b| decimal(b, k % 10));
}
