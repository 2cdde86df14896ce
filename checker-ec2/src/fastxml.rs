//! A fast reader for successful DescribeInstances responses.
//!
//! Profiling a 40,000-instance scan showed over 60% of CPU in the SDK's generic XML deserializer
//! (every child element compared by name against every field of the model). checker needs a
//! dozen fields per instance, so the raw body of a successful page is read here with quick-xml,
//! keeping only those fields. Everything else (signing, credentials, retries, endpoints, error
//! responses) stays with the SDK.

use crate::RawInstance;
use quick_xml::events::Event;

/// Parses one page: its instances and its nextToken. A document that ends before its root
/// element closes is an error (a truncated page must never look like a smaller fleet).
pub fn describe_instances(body: &[u8]) -> Result<(Vec<RawInstance>, Option<String>), String> {
    let mut reader = quick_xml::Reader::from_reader(body);
    reader.config_mut().trim_text(false);
    // Element names from the root down; buffers are reused so parsing allocates little.
    let mut stack: Vec<Vec<u8>> = Vec::with_capacity(16);
    let mut depth = 0usize;
    // Inside <reservationSet><item><instancesSet><item> (depth 5 and below).
    let mut in_instance = false;
    // Whether the text of the current element is kept (a field we read).
    let mut capture = false;
    let mut text = String::new();
    let mut out = Vec::new();
    let mut cur = RawInstance::default();
    let mut tag_key: Option<String> = None;
    let mut tag_value: Option<String> = None;
    let mut next = None;
    const INSTANCE_PATH: [&[u8]; 5] = [
        b"DescribeInstancesResponse",
        b"reservationSet",
        b"item",
        b"instancesSet",
        b"item",
    ];
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                if depth == stack.len() {
                    stack.push(Vec::new());
                }
                let name = e.local_name();
                let name = name.as_ref();
                stack[depth].clear();
                stack[depth].extend_from_slice(name);
                depth += 1;
                text.clear();
                capture = false;
                if depth == 1 && name != b"DescribeInstancesResponse" {
                    return Err(format!(
                        "the response is a <{}>, not a DescribeInstancesResponse",
                        String::from_utf8_lossy(name)
                    ));
                }
                if depth == 5
                    && stack[..5]
                        .iter()
                        .zip(INSTANCE_PATH)
                        .all(|(a, b)| a.as_slice() == b)
                {
                    in_instance = true;
                    cur = RawInstance::default();
                } else if in_instance {
                    capture = match depth {
                        6 => matches!(
                            name,
                            b"instanceId"
                                | b"imageId"
                                | b"keyName"
                                | b"instanceType"
                                | b"launchTime"
                                | b"subnetId"
                                | b"vpcId"
                                | b"instanceLifecycle"
                        ),
                        7 => matches!(
                            (stack[5].as_slice(), name),
                            (b"instanceState", b"name")
                                | (b"placement", b"availabilityZone")
                                | (b"iamInstanceProfile", b"arn")
                        ),
                        8 => {
                            stack[5] == b"tagSet"
                                && stack[6] == b"item"
                                && matches!(name, b"key" | b"value")
                        }
                        _ => false,
                    };
                } else {
                    capture = depth == 2 && name == b"nextToken";
                }
            }
            Ok(Event::Empty(_)) => {}
            Ok(Event::Text(t)) if capture => text.push_str(&t.decode().map_err(|e| e.to_string())?),
            Ok(Event::CData(t)) if capture => {
                text.push_str(&t.decode().map_err(|e| e.to_string())?)
            }
            Ok(Event::GeneralRef(r)) if capture => {
                let name = r.decode().map_err(|e| e.to_string())?;
                match name.as_ref() {
                    "amp" => text.push('&'),
                    "lt" => text.push('<'),
                    "gt" => text.push('>'),
                    "quot" => text.push('"'),
                    "apos" => text.push('\''),
                    _ => match r.resolve_char_ref() {
                        Ok(Some(c)) => text.push(c),
                        _ => return Err(format!("unknown entity &{name};")),
                    },
                }
            }
            Ok(Event::End(_)) => {
                if depth == 0 {
                    return Err("unbalanced closing tag".into());
                }
                if in_instance {
                    let name = stack[depth - 1].as_slice();
                    let value = |t: &mut String| Some(std::mem::take(t));
                    match depth {
                        5 => {
                            in_instance = false;
                            out.push(std::mem::take(&mut cur));
                        }
                        6 => match name {
                            b"instanceId" => cur.id = std::mem::take(&mut text),
                            b"imageId" => cur.image_id = value(&mut text),
                            b"keyName" => cur.key_name = value(&mut text),
                            b"instanceType" => cur.instance_type = value(&mut text),
                            b"launchTime" => cur.launch_time = value(&mut text),
                            b"subnetId" => cur.subnet_id = value(&mut text),
                            b"vpcId" => cur.vpc_id = value(&mut text),
                            b"instanceLifecycle" => cur.instance_lifecycle = value(&mut text),
                            _ => {}
                        },
                        7 => match (stack[5].as_slice(), name) {
                            (b"instanceState", b"name") => cur.state = value(&mut text),
                            (b"placement", b"availabilityZone") => {
                                cur.availability_zone = value(&mut text)
                            }
                            (b"iamInstanceProfile", b"arn") => {
                                cur.iam_instance_profile = value(&mut text)
                            }
                            (b"tagSet", b"item") => {
                                if let Some(k) = tag_key.take() {
                                    cur.tags.push((k, tag_value.take().unwrap_or_default()));
                                }
                                tag_value = None;
                            }
                            _ => {}
                        },
                        8 if stack[5] == b"tagSet" && stack[6] == b"item" => match name {
                            b"key" => tag_key = value(&mut text),
                            b"value" => tag_value = value(&mut text),
                            _ => {}
                        },
                        _ => {}
                    }
                } else if depth == 2 && stack[1] == b"nextToken" {
                    next = Some(std::mem::take(&mut text)).filter(|t| !t.is_empty());
                }
                text.clear();
                capture = false;
                depth -= 1;
            }
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
    if depth != 0 {
        return Err(format!(
            "the response body is truncated: {depth} element(s) never closed ({} bytes)",
            body.len()
        ));
    }
    if stack.is_empty() {
        return Err("the response body is empty".into());
    }
    Ok((out, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><reservationSet><item><reservationId>r-1</reservationId><instancesSet><item><instanceId>i-1</instanceId><imageId>ami-1</imageId><instanceState><code>16</code><name>running</name></instanceState><keyName>a:b&amp;c</keyName><instanceType>c5.large</instanceType><launchTime>2018-02-14T01:00:00.000Z</launchTime><placement><availabilityZone>us-east-1a</availabilityZone></placement><subnetId>subnet-1</subnetId><vpcId>vpc-1</vpcId><networkInterfaceSet><item><subnetId>subnet-OTHER</subnetId><status>in-use</status></item></networkInterfaceSet><iamInstanceProfile><arn>arn:aws:iam::1:instance-profile/x</arn></iamInstanceProfile><tagSet><item><key>Name</key><value>w</value></item><item><key>Empty</key><value></value></item></tagSet></item></instancesSet></item></reservationSet><nextToken>tok</nextToken></DescribeInstancesResponse>"#;

    #[test]
    fn reads_the_fields_at_their_own_level_only() {
        let (v, next) = describe_instances(PAGE.as_bytes()).unwrap();
        assert_eq!(next.as_deref(), Some("tok"));
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
    fn a_cut_off_page_is_an_error() {
        let cut = &PAGE[..PAGE.len() / 2];
        assert!(
            describe_instances(cut.as_bytes())
                .unwrap_err()
                .contains("truncated")
        );
        assert!(describe_instances(b"<html>502</html>").is_err());
        assert!(describe_instances(b"").is_err());
    }
}
