//! Exact counts on the real ADAPT engagement-2 contexts.

use apt_llm_provenance::{Aspect, Catalog, Context, ContextId, Patterns, SlotState, SplitConfig};
use std::collections::{BTreeSet, HashMap};

fn catalog() -> Option<Catalog> {
    let root = apt_llm_testkit::data_root()?;
    Some(Catalog::discover(root).expect("data root is laid out as ADAPT"))
}

/// (context, rows, attributes, attacks, distinct patterns), checked against an
/// independent Python count of the same files.
const EXPECTED: &[(&str, usize, usize, usize, usize)] = &[
    ("bovia/cadets/PE", 23_225, 28, 18, 182),
    ("bovia/cadets/PN", 12, 44, 1, 12),
    ("bovia/cadets/PP", 23_069, 19, 18, 23),
    ("bovia/5dir/PE", 2_677, 22, 14, 136),
    ("bovia/5dir/PX", 2_643, 204, 14, 204),
    ("bovia/5dir/PP", 2_352, 45, 14, 45),
    ("bovia/5dir/PN", 61, 6_100, 3, 50),
    ("bovia/trace/PX", 16_193, 96, 28, 96),
    ("bovia/trace/PP", 9_671, 18, 27, 18),
    ("bovia/trace/PN", 84, 13, 22, 9),
    ("bovia/clearscope/PE", 69, 15, 4, 15),
    ("bovia/clearscope/PX", 69, 40, 4, 40),
    ("bovia/clearscope/PP", 2, 2, 0, 2),
    ("bovia/clearscope/PN", 4, 13, 1, 3),
    ("bovia/clearscope/PA", 69, 68, 4, 52),
    ("pandex/cadets/PN", 31, 136, 3, 31),
    ("pandex/cadets-partial/PE", 31_008, 29, 10, 204),
    ("pandex/trace/PN", 3_125, 81, 20, 84),
    ("pandex/clearscope/PE", 102, 21, 9, 21),
    ("pandex/clearscope/PX", 102, 42, 9, 42),
    ("pandex/clearscope/PP", 2, 2, 0, 2),
    ("pandex/clearscope/PN", 8, 17, 5, 7),
    ("pandex/clearscope/PA", 102, 80, 9, 57),
];

#[apt_llm_testkit::needs(data)]
#[test]
fn every_stored_context_has_exact_counts() {
    let Some(cat) = catalog() else { return };
    let all = cat.load_all().unwrap();
    let got: HashMap<String, (usize, usize, usize, usize)> = all
        .iter()
        .map(|c| {
            (
                c.id.to_string(),
                (
                    c.context.len(),
                    c.context.attributes.len(),
                    c.attacks(),
                    Patterns::from_context(&c.context).len(),
                ),
            )
        })
        .collect();
    assert_eq!(
        got.len(),
        EXPECTED.len(),
        "contexts found: {:?}",
        got.keys()
    );
    for (name, rows, attrs, attacks, patterns) in EXPECTED {
        assert_eq!(
            got.get(*name),
            Some(&(*rows, *attrs, *attacks, *patterns)),
            "{name}"
        );
    }
}

#[apt_llm_testkit::needs(data)]
#[test]
fn slots_report_presence_of_the_papers_forty() {
    let Some(cat) = catalog() else { return };
    let slots = cat.slots();
    assert_eq!(slots.len(), 40);
    let state = |s: &str| slots.iter().find(|(id, _)| id.to_string() == s).unwrap().1;
    assert_eq!(state("bovia/cadets/PE"), SlotState::Present);
    assert_eq!(state("bovia/cadets/PA"), SlotState::Derivable);
    assert_eq!(state("bovia/cadets/PX"), SlotState::Missing);
    // The partial extract fills no slot of its own.
    assert_eq!(state("pandex/cadets/PE"), SlotState::Missing);
    let present = slots
        .iter()
        .filter(|(_, s)| *s == SlotState::Present)
        .count();
    assert_eq!(present, 22);
}

#[apt_llm_testkit::needs(data)]
#[test]
fn derived_process_all_equals_the_stored_join() {
    let Some(cat) = catalog() else { return };
    for folder in ["pandex/clearscope", "bovia/clearscope"] {
        let id: ContextId = format!("{folder}/PE").parse().unwrap();
        let loaded = cat.load_folder(&id).unwrap();
        let stored = loaded
            .iter()
            .find(|c| c.id.aspect == Aspect::ProcessAll)
            .unwrap();
        let parts: Vec<&Context> = loaded
            .iter()
            .filter(|c| c.id.aspect != Aspect::ProcessAll)
            .map(|c| &c.context)
            .collect();
        let joined = Context::join_all(&parts);
        let as_sets = |c: &Context| -> BTreeSet<(String, BTreeSet<String>)> {
            c.records
                .iter()
                .map(|r| {
                    (
                        r.id.clone(),
                        c.attribute_names(r).map(String::from).collect(),
                    )
                })
                .collect()
        };
        let stored_cols: BTreeSet<&String> = stored.context.attributes.iter().collect();
        let joined_cols: BTreeSet<&String> = joined.attributes.iter().collect();
        assert_eq!(stored_cols, joined_cols, "{folder} columns");
        assert_eq!(as_sets(&stored.context), as_sets(&joined), "{folder} rows");
    }
}

#[apt_llm_testkit::needs(data)]
#[test]
fn derived_process_all_for_bovia_cadets() {
    let Some(cat) = catalog() else { return };
    let pa = cat.load(&"bovia/cadets/PA".parse().unwrap()).unwrap();
    assert!(pa.derived);
    // Union of ids of PE (23,225), PP (23,069) and PN (12); columns 28 + 19 + 44.
    assert_eq!(pa.context.attributes.len(), 28 + 19 + 44);
    assert!(pa.context.len() >= 23_225);
    assert_eq!(pa.attacks(), 18);
    assert!(pa.context.attributes.iter().any(|a| a == "X0_EVENT_READ"));
    assert!(pa.context.attributes.iter().any(|a| a.starts_with("X3_")));
}

#[apt_llm_testkit::needs(data)]
#[test]
fn quirks_are_handled() {
    let Some(cat) = catalog() else { return };
    // Empty attribute name in 5dir ProcessNetflow.
    let pn = cat.load(&"bovia/5dir/PN".parse().unwrap()).unwrap();
    assert_eq!(pn.context.attributes[0], "");
    // Empty id-column header in the partial extract; merged ground truth with duplicates.
    let part = cat
        .load(&"pandex/cadets-partial/PE".parse().unwrap())
        .unwrap();
    assert_eq!(part.context.len(), 31_008);
    assert_eq!(part.attacks(), 10);
    assert_eq!(part.labels.missing_attacks, 3);
    // CR-only ground truth of Android bovia.
    let pa = cat.load(&"bovia/clearscope/PA".parse().unwrap()).unwrap();
    assert_eq!(pa.attacks(), 4);
    // Placeholder parent tables.
    let pp = cat.load(&"bovia/clearscope/PP".parse().unwrap()).unwrap();
    assert!(pp.context.is_placeholder());
}

#[apt_llm_testkit::needs(data)]
#[test]
fn split_puts_every_attack_in_test_and_is_seeded() {
    let Some(cat) = catalog() else { return };
    let c = cat.load(&"bovia/cadets/PE".parse().unwrap()).unwrap();
    let cfg = SplitConfig::default();
    let s = cfg.split(&c.labels.flags).unwrap();
    assert_eq!(s, cfg.split(&c.labels.flags).unwrap());
    let normals = c.labels.normals();
    let test_attacks = s.test.iter().filter(|&&r| c.labels.flags[r]).count();
    assert_eq!(test_attacks, 18);
    assert_eq!(
        s.test.len() - test_attacks,
        (normals as f64 * 0.2).round() as usize
    );
    assert_eq!(
        s.train.len() + s.validation.len() + s.test.len(),
        c.context.len()
    );
    s.require_two_classes(&c.labels.flags, "bovia/cadets/PE")
        .unwrap();
    let other = SplitConfig { seed: 1, ..cfg }
        .split(&c.labels.flags)
        .unwrap();
    assert_ne!(s.train, other.train);
}

#[apt_llm_testkit::needs(data)]
#[test]
fn single_class_test_sets_are_reported() {
    let Some(cat) = catalog() else { return };
    let c = cat.load(&"bovia/clearscope/PP".parse().unwrap()).unwrap();
    let s = SplitConfig::default().split(&c.labels.flags).unwrap();
    let err = s
        .require_two_classes(&c.labels.flags, "bovia/clearscope/PP")
        .unwrap_err();
    assert!(err.to_string().contains("single class"), "{err}");
}
