//! The report model's own tests.

use super::*;

fn part(name: &str, account: Option<&str>, kind: PartKind) -> SourcePart {
    SourcePart {
        scope: account.map(|a| Scope::new(ScopeKind::Account, a)),
        ..SourcePart::read(name, kind, 0)
    }
}

#[test]
fn a_part_names_its_scope_by_its_kind() {
    let a = Some("111122223333");
    assert_eq!(part("f.json", None, PartKind::File).scope(), "f.json");
    assert_eq!(
        part("us-east-1", None, PartKind::Region).scope(),
        "us-east-1"
    );
    assert_eq!(
        part("us-east-1", a, PartKind::RegionOfAccount).scope(),
        "us-east-1 (account 111122223333)"
    );
    assert_eq!(
        part("account dev (111122223333)", a, PartKind::Account).scope(),
        "account dev (111122223333)"
    );
    // The kind decides, not whether the name happens to hold the account id.
    assert_eq!(
        part("111122223333-zone", a, PartKind::RegionOfAccount).scope(),
        "111122223333-zone (account 111122223333)"
    );
}
