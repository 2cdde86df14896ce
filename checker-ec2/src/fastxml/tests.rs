//! The fast reader against the full one, on pages real and damaged.

use super::*;
use proptest::prelude::*;

const PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><reservationSet><item><reservationId>r-1</reservationId><instancesSet><item><instanceId>i-1</instanceId><imageId>ami-1</imageId><instanceState><code>16</code><name>running</name></instanceState><keyName>a:b&amp;c</keyName><instanceType>c5.large</instanceType><launchTime>2018-02-14T01:00:00.000Z</launchTime><placement><availabilityZone>us-east-1a</availabilityZone><tenancy>dedicated</tenancy></placement><subnetId>subnet-1</subnetId><vpcId>vpc-1</vpcId><ipAddress>3.4.5.6</ipAddress><groupSet><item><groupId>sg-2</groupId><groupName>b</groupName></item><item><groupId>sg-1</groupId><groupName>a</groupName></item></groupSet><networkInterfaceSet><item><subnetId>subnet-OTHER</subnetId><groupSet><item><groupId>sg-NIC</groupId></item></groupSet><status>in-use</status></item></networkInterfaceSet><metadataOptions><state>applied</state><httpTokens>required</httpTokens><httpPutResponseHopLimit>2</httpPutResponseHopLimit><httpEndpoint>enabled</httpEndpoint></metadataOptions><iamInstanceProfile><arn>arn:aws:iam::1:instance-profile/x</arn></iamInstanceProfile><tagSet><item><key>Name</key><value>w</value></item><item><key>Empty</key><value></value></item></tagSet></item></instancesSet></item></reservationSet><nextToken>tok</nextToken></DescribeInstancesResponse>"#;

fn check_page(v: &[RawInstance], next: Option<&str>) {
    assert_eq!(next, Some("tok"));
    assert_eq!(v.len(), 1);
    let i = &v[0];
    assert_eq!(i.id, "i-1");
    assert_eq!(i.fields.get(Ec2Field::KeyName), Some("a:b&c"));
    assert_eq!(
        i.fields.get(Ec2Field::SubnetId),
        Some("subnet-1"),
        "not the network interface's"
    );
    assert_eq!(i.fields.get(Ec2Field::State), Some("running"));
    assert_eq!(i.fields.get(Ec2Field::AvailabilityZone), Some("us-east-1a"));
    assert_eq!(
        i.fields.get(Ec2Field::IamInstanceProfile),
        Some("arn:aws:iam::1:instance-profile/x")
    );
    assert_eq!(
        i.tags,
        vec![("Name".into(), "w".into()), ("Empty".into(), String::new())]
    );
    assert_eq!(i.fields.get(Ec2Field::PublicIp), Some("3.4.5.6"));
    assert_eq!(
        i.fields.get(Ec2Field::SecurityGroups),
        Some("sg-1,sg-2"),
        "the instance's groups, not its interface's"
    );
    assert_eq!(i.fields.get(Ec2Field::HttpTokens), Some("required"));
    assert_eq!(i.fields.get(Ec2Field::HttpEndpoint), Some("enabled"));
    assert_eq!(i.fields.get(Ec2Field::HopLimit), Some("2"));
    assert_eq!(i.fields.get(Ec2Field::Tenancy), Some("dedicated"));
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
    assert_eq!(v[0].fields.get(Ec2Field::KeyName), Some("a:b&c"));
    assert_eq!(
        Some((v, Some("tok".to_string()))),
        reference(tricky.as_bytes()).ok()
    );
}

#[test]
fn an_attribute_where_a_field_could_be_goes_to_the_full_reader() {
    // Valid XML: to the full reader an empty key name. A fast path that passed over the
    // element as an unknown name would read the instance as having none.
    for field in ["<keyName a=\"1\"/>", "<keyName a=\"1\">x</keyName>"] {
        let p = PAGE.replace("<keyName>a:b&amp;c</keyName>", field);
        let full = reference(p.as_bytes()).expect("valid XML");
        assert!(full.0[0].fields.get(Ec2Field::KeyName).is_some());
        let fast = scan(p.as_bytes());
        assert!(fast.is_none() || fast == Some(full), "{field}");
    }
}

#[test]
fn a_subtree_longer_than_the_walk_is_jumped_or_walked_to_its_own_end() {
    let long = |inner: &str| {
        PAGE.replace(
            "<networkInterfaceSet>",
            &format!("<stateReason><a>1</a><b>2</b><c>3</c><d>4</d><e>5</e>{inner}</stateReason><networkInterfaceSet>"),
        )
    };
    for inner in [
        "<keyName>not this</keyName>",
        "<stateReason><keyName>nested</keyName></stateReason><keyName>still not</keyName>",
        "<m>it stopped!</m><keyName>nor this</keyName>",
    ] {
        let p = long(inner);
        let fast = scan(p.as_bytes()).expect("the fast path reads it");
        check_page(&fast.0, fast.1.as_deref());
        assert_eq!(Some(fast), reference(p.as_bytes()).ok(), "{inner}");
    }
    // Nested deeper than the tags walked before the jump.
    let deep = PAGE.replace(
        "<networkInterfaceSet>",
        "<stateReason><a><b><c><d><e><f><g><h><i>x</i></h></g></f></e></d></c></b></a></stateReason><networkInterfaceSet>",
    );
    let fast = scan(deep.as_bytes()).expect("the fast path reads a deep subtree");
    assert_eq!(Some(fast), reference(deep.as_bytes()).ok());
}

proptest! {
    /// The in-line comparisons and searches agree with the standard library's.
    #[test]
    fn in_line_search_and_comparison_agree_with_std(
        a in proptest::collection::vec(prop_oneof![Just(b'<'), Just(b'>'), Just(b'a'), Just(0x01u8), Just(0xbcu8)], 0..40),
        b in proptest::collection::vec(prop_oneof![Just(b'<'), Just(b'a')], 0..40),
    ) {
        for needle in [b'<', b'>', b'a', 0x01, 0xbc] {
            prop_assert_eq!(fast::find(&a, needle), a.iter().position(|&c| c == needle));
        }
        prop_assert_eq!(fast::same(&a, &b), a == b);
        prop_assert!(fast::same(&a, &a.clone()));
    }
}

#[test]
fn a_cut_off_page_is_an_error() {
    for cut in 0..PAGE.len() {
        let err = describe_instances(&PAGE.as_bytes()[..cut])
            .expect_err(&format!("cut at byte {cut} was accepted"));
        assert!(!err.is_empty());
    }
    // Cut between two elements (right after a `>`), past the middle of the page.
    let half = PAGE.len() / 2 + PAGE[PAGE.len() / 2..].find('>').expect(">") + 1;
    let err = describe_instances(&PAGE.as_bytes()[..half]).unwrap_err();
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
                  noise in proptest::collection::vec(0usize..10, 0..5), pretty in any::<bool>()) -> String {
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
                // Longer than the tags walked before a jump, the second one with its own name
                // nested past them, the third with a `!` in its text.
                6 => "<blockDeviceMapping><item><deviceName>a</deviceName><ebs><status>x</status></ebs></item><item><deviceName>b</deviceName><ebs><status>y</status></ebs></item></blockDeviceMapping>",
                7 => "<elasticGpuSet><item><a>1</a><b>2</b><c>3</c><d>4</d><elasticGpuSet><item><keyName>nested</keyName></item></elasticGpuSet></item></elasticGpuSet>",
                8 => "<stateReason><a>1</a><b>2</b><c>3</c><d>4</d><e>5</e><message>shut down!</message><keyName>no</keyName></stateReason>",
                _ => "<reason></reason><groupSet/>",
            });
            s.push_str(nl);
        }
        match key {
            Some(k) if k.is_empty() => s += &format!("<keyName/>{nl}"),
            Some(k) => s += &format!("<keyName>{}</keyName>{nl}", esc(&k)),
            None => {}
        }
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
    /// reads what the full reader reads, with one allowance: markup inside a subtree it passes
    /// over (an element nobody reads) is not looked at, so damage there may be accepted, and
    /// then the result must be the undamaged page's. It never returns a fleet neither page holds.
    #[test]
    fn the_fast_path_never_disagrees_on_a_damaged_page(
        p in page(),
        at in 0.0f64..1.0,
        what in 0usize..13,
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
            10 => b" a=\"1\"",
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

/// An instance element holding `value` at every field's XML path (security groups in their
/// set), from the rows alone: a field added to the rows is tested here without a new line.
fn every_field_page(value: impl Fn(Ec2Field) -> String) -> String {
    let mut inner = String::from("<instanceId>i-every</instanceId>");
    let mut subs: Vec<(&str, String)> = Vec::new();
    for f in Ec2Field::all() {
        let v = value(f);
        match f.spec().at {
            crate::At::Text { xml, .. } | crate::At::Number { xml, .. } => match xml {
                [name] => inner.push_str(&format!("<{name}>{v}</{name}>")),
                [outer, name] => match subs.iter_mut().find(|(o, _)| o == outer) {
                    Some((_, s)) => s.push_str(&format!("<{name}>{v}</{name}>")),
                    None => subs.push((outer, format!("<{name}>{v}</{name}>"))),
                },
                _ => panic!("{} has an XML path deeper than two", f.name()),
            },
            crate::At::GroupIds => inner.push_str(&format!(
                "<groupSet><item><groupId>{v}</groupId></item></groupSet>"
            )),
            crate::At::Region => {}
        }
    }
    for (outer, s) in subs {
        inner.push_str(&format!("<{outer}>{s}</{outer}>"));
    }
    format!(
        "<DescribeInstancesResponse><reservationSet><item><instancesSet><item>{inner}</item></instancesSet></item></reservationSet></DescribeInstancesResponse>"
    )
}

#[test]
fn both_readers_see_every_field_of_the_rows() {
    let value = |f: Ec2Field| format!("v{}", f as usize);
    let page = every_field_page(value);
    for (reader, got) in [
        (
            "fast",
            scan(page.as_bytes()).expect("the fast path reads it"),
        ),
        (
            "full",
            reference(page.as_bytes()).expect("the full reader reads it"),
        ),
    ] {
        let i = &got.0[0];
        for f in Ec2Field::all().filter(|f| f.spec().at != crate::At::Region) {
            assert_eq!(
                i.fields.get(f),
                Some(value(f).as_str()),
                "the {reader} reader missed {}",
                f.name()
            );
        }
    }
}
