//! Reading only what a reader reads: a `serde_json::Value` is built for the keys a record is
//! made of, and every other key is skipped as the bytes go past (`IgnoredAny`), never built.
//! A GCE instance is ~4 kB of JSON of which the record reads a fifth; building (and dropping)
//! the rest as a `Value` tree was a third of a live GCE run's CPU.
//!
//! The tree built is the full tree with the unread keys left out, so the readers
//! ([`super::gce::parse_instance`], [`super::azure::parse_vm`]) run on it unchanged and every
//! diagnostic (a wrong type, its JSON pointer) is the one the full tree gave: a kept key keeps
//! its value's type at every level; only keys no reader looks at are absent.

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// What of a value to build.
#[derive(Debug, Clone, Copy)]
pub enum Keep {
    /// All of it.
    All,
    /// Of an object, these keys (each with what of it to build); of an array, each element so;
    /// anything else as it is.
    Fields(&'static [(&'static str, Keep)]),
}

/// A disk: what `gce::disks` reads.
const GCE_DISK: &[(&str, Keep)] = &[
    ("boot", Keep::All),
    ("type", Keep::All),
    ("interface", Keep::All),
    ("sourceImage", Keep::All),
    (
        "initializeParams",
        Keep::Fields(&[("sourceImage", Keep::All)]),
    ),
];

/// An Azure VM's model, key by key: under `properties` in a Resource Graph row, and at the
/// element's top level when `az` flattens it; what `azure::parse_vm` reads.
const VM_SIZE: (&str, Keep) = ("hardwareProfile", Keep::Fields(&[("vmSize", Keep::All)]));
const PRIORITY: (&str, Keep) = ("priority", Keep::All);
const OS_PROFILE: (&str, Keep) = (
    "osProfile",
    Keep::Fields(&[("computerName", Keep::All), ("customData", Keep::All)]),
);
const STORAGE_PROFILE: (&str, Keep) = (
    "storageProfile",
    Keep::Fields(&[
        ("imageReference", Keep::All),
        ("osDisk", Keep::Fields(&[("osType", Keep::All)])),
    ]),
);
const POWER_STATE: (&str, Keep) = (
    "extended",
    Keep::Fields(&[(
        "instanceView",
        Keep::Fields(&[("powerState", Keep::Fields(&[("displayStatus", Keep::All)]))]),
    )]),
);

/// An Azure VM's model under `properties`.
const AZURE_MODEL: &[(&str, Keep)] = &[VM_SIZE, PRIORITY, OS_PROFILE, STORAGE_PROFILE, POWER_STATE];

/// An element of a GCE or Azure listing, whichever it is: what `shape::Shape::of`,
/// `gce::parse_instance` and `azure::parse_vm` read (and a Resource Graph location row's
/// `location`). Every key either reader reads is here, with the same sub-keys.
pub const ELEMENT: Keep = Keep::Fields(&[
    // Shape::of
    ("kind", Keep::All),
    ("type", Keep::All),
    // GCE
    ("name", Keep::All),
    ("zone", Keep::All),
    ("selfLink", Keep::All),
    ("machineType", Keep::All),
    ("status", Keep::All),
    ("minCpuPlatform", Keep::All),
    (
        "scheduling",
        Keep::Fields(&[
            ("provisioningModel", Keep::All),
            ("automaticRestart", Keep::All),
        ]),
    ),
    ("serviceAccounts", Keep::Fields(&[("email", Keep::All)])),
    (
        "networkInterfaces",
        Keep::Fields(&[("accessConfigs", Keep::Fields(&[("natIP", Keep::All)]))]),
    ),
    ("disks", Keep::Fields(GCE_DISK)),
    ("labels", Keep::All),
    (
        "metadata",
        Keep::Fields(&[(
            "items",
            Keep::Fields(&[("key", Keep::All), ("value", Keep::All)]),
        )]),
    ),
    // Azure (a Resource Graph row, or `az vm list -d` with the model flattened)
    ("location", Keep::All),
    ("subscriptionId", Keep::All),
    ("id", Keep::All),
    ("powerState", Keep::All),
    ("publicIps", Keep::All),
    ("publicIp", Keep::All),
    ("tags", Keep::All),
    ("properties", Keep::Fields(AZURE_MODEL)),
    // Azure, flattened by `az`
    VM_SIZE,
    PRIORITY,
    OS_PROFILE,
    STORAGE_PROFILE,
    POWER_STATE,
]);

/// A Resource Graph answer: what `cloud::azure::live::query_page` reads, its rows as
/// [`ELEMENT`]s.
pub const GRAPH_PAGE: Keep = Keep::Fields(&[
    ("resultTruncated", Keep::All),
    ("$skipToken", Keep::All),
    ("data", ELEMENT),
]);

/// Reads one value, building only what `keep` says (see the module's documentation).
#[derive(Debug, Clone, Copy)]
pub struct Pruned(pub Keep);

impl<'de> DeserializeSeed<'de> for Pruned {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match self.0 {
            Keep::All => serde::Deserialize::deserialize(d),
            Keep::Fields(_) => d.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for Pruned {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    // Scalars as serde_json's own `Value` visitor makes them.
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(s.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = s.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Value, A::Error> {
        let Keep::Fields(keys) = self.0 else {
            // `All` never gets here (it is built by serde_json's own visitor).
            while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Value::Object(Map::new()));
        };
        let mut out = Map::new();
        while let Some(found) = m.next_key_seed(Key(keys))? {
            match found {
                Some((name, sub)) => {
                    let v = m.next_value_seed(Pruned(*sub))?;
                    out.insert((*name).to_string(), v);
                }
                None => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// A key, looked up among the kept ones without being copied.
struct Key(&'static [(&'static str, Keep)]);

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Option<&'static (&'static str, Keep)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Option<&'static (&'static str, Keep)>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E>(self, k: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().find(|(name, _)| *name == k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pruned(keep: Keep, v: &Value) -> Value {
        let text = serde_json::to_string(v).expect("json");
        let mut de = serde_json::Deserializer::from_str(&text);
        let got = Pruned(keep).deserialize(&mut de).expect("parses");
        de.end().expect("ends");
        got
    }

    /// Unread keys are not built, at every level; read keys keep their values and types (a
    /// wrong type too: the reader's diagnostic is the full tree's).
    #[test]
    fn only_read_keys_are_built() {
        let v = json!({"name": "w", "description": "x".repeat(100), "kind": "compute#instance",
            "disks": [{"boot": true, "licenses": ["l"], "initializeParams": {"sourceImage": "i", "diskSizeGb": "9"}}, "odd"],
            "metadata": {"fingerprint": "f", "items": [{"key": "taskcluster", "value": "{}"}]},
            "labels": {"a": "b", "n": 1}, "scheduling": "not an object",
            "properties": {"hardwareProfile": {"vmSize": "S", "vmSizeProperties": {}}, "provisioningState": "ok"}});
        let want = json!({"name": "w", "kind": "compute#instance",
            "disks": [{"boot": true, "initializeParams": {"sourceImage": "i"}}, "odd"],
            "metadata": {"items": [{"key": "taskcluster", "value": "{}"}]},
            "labels": {"a": "b", "n": 1}, "scheduling": "not an object",
            "properties": {"hardwareProfile": {"vmSize": "S"}}});
        assert_eq!(pruned(ELEMENT, &v), want);
        let page = json!({"totalRecords": 1, "resultTruncated": "false", "$skipToken": "t",
            "data": [{"location": "eastus", "other": [1, 2]}]});
        assert_eq!(
            pruned(GRAPH_PAGE, &page),
            json!({"resultTruncated": "false", "$skipToken": "t", "data": [{"location": "eastus"}]})
        );
        // Not an object or array where one was expected: kept as it is.
        assert_eq!(
            pruned(GRAPH_PAGE, &json!([1, "a", null, 1.5])),
            json!([1, "a", null, 1.5])
        );
    }

    /// The example fleets, every record read from its pruned tree, are the records their full
    /// trees give, field for field: a reader that starts reading a key `ELEMENT` leaves out fails
    /// here (on the real shapes of Firefox CI's GCE instances and Azure VMs), not silently in a
    /// live run. (It fails on the old code only by not compiling: `prune` did not exist.)
    #[test]
    fn the_example_fleets_read_the_same_from_their_pruned_trees() {
        use crate::fleet::SecretPolicy;
        use std::path::Path;
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/firefox-ci-2026");
        let s = SecretPolicy::default();
        type Reader = fn(
            &Path,
            &str,
            &Value,
            &SecretPolicy,
        ) -> Result<crate::fleet::Instance, crate::diag::Diagnostic>;
        let files: [(&str, Reader); 2] = [
            ("fleet-gce.json", crate::fleet::gce::parse_instance),
            ("fleet-azure.json", crate::fleet::azure::parse_vm),
        ];
        for (file, read) in files {
            let path = root.join(file);
            let text = std::fs::read_to_string(&path).expect("example");
            let all: Vec<Value> = serde_json::from_str(&text).expect("json");
            assert!(all.len() > 10, "{file}");
            for (n, v) in all.iter().enumerate() {
                let ptr = format!("/{n}");
                let full = read(&path, &ptr, v, &s).expect("reads");
                let part = read(&path, &ptr, &pruned(ELEMENT, v), &s).expect("reads");
                assert_eq!(format!("{part:?}"), format!("{full:?}"), "{file} {ptr}");
            }
        }
    }
}
