//! Every kind of bad input is a typed error naming the file, the line and the reason.

use apt_llm_provenance::{Aspect, Catalog, Context, GroundTruth, ParseIssue, ProvenanceError};
use std::fs;
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, body).unwrap();
    p
}

fn load_err(body: &str) -> (ProvenanceError, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "ProcessEvent.csv", body);
    let e = Context::from_csv(&p, Aspect::ProcessEvent).unwrap_err();
    (e, p)
}

fn line_of(e: &ProvenanceError) -> u64 {
    match e {
        ProvenanceError::Parse { line, .. } => *line,
        other => panic!("not a parse error: {other}"),
    }
}

#[test]
fn ragged_row() {
    let (e, p) = load_err("Object_ID,A,B\nx,0,1\ny,1\n");
    assert_eq!(
        e.issue(),
        Some(&ParseIssue::RaggedRow {
            expected: 3,
            found: 2
        })
    );
    assert_eq!(line_of(&e), 3);
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("{}:3: ragged row", p.display())),
        "{msg}"
    );
}

#[test]
fn cell_other_than_zero_or_one() {
    let (e, _) = load_err("UUID,A,\"B, quoted \"\"x\"\"\"\nx,0,1\ny,1,2\n");
    assert_eq!(
        e.issue(),
        Some(&ParseIssue::BadCell {
            column: "B, quoted \"x\"".into(),
            value: "2".into()
        })
    );
    assert_eq!(line_of(&e), 3);
    assert!(e.to_string().contains("is not 0 or 1"));
}

#[test]
fn duplicate_ids() {
    let (e, _) = load_err("Object_ID,A\nx,0\ny,1\nx,1\n");
    assert_eq!(
        e.issue(),
        Some(&ParseIssue::DuplicateId {
            id: "x".into(),
            first_line: 2
        })
    );
    assert_eq!(line_of(&e), 4);
}

#[test]
fn empty_file() {
    let (e, _) = load_err("");
    assert_eq!(e.issue(), Some(&ParseIssue::EmptyFile));
    assert!(e.to_string().contains(":1: empty file"));
}

#[test]
fn header_only_file() {
    let (e, _) = load_err("Object_ID,A,B\n");
    assert_eq!(e.issue(), Some(&ParseIssue::HeaderOnly));
}

#[test]
fn unknown_id_column() {
    let (e, _) = load_err("pid,A\n1,0\n");
    assert_eq!(e.issue(), Some(&ParseIssue::UnknownIdColumn("pid".into())));
    assert!(e.to_string().contains("unknown layout"));
}

#[test]
fn line_endings_crlf_and_cr_only_parse_alike() {
    let dir = tempfile::tempdir().unwrap();
    for (i, nl) in ["\n", "\r\n", "\r"].iter().enumerate() {
        let body = ["Object_ID,\"a,b\",c", "p1,1,0", "p2,1,1", ""].join(nl);
        let p = write(dir.path(), &format!("{i}/ProcessExec.csv"), &body);
        let c = Context::from_csv(&p, Aspect::ProcessExec).unwrap();
        assert_eq!(c.attributes, vec!["a,b".to_string(), "c".into()]);
        assert_eq!(c.records[1].attributes, vec![0, 1]);
    }
}

#[test]
fn ground_truth_with_wrong_header() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "gt.csv", "id,kind\nx,AdmSubject::Node\n");
    let e = GroundTruth::from_files(&[&p]).unwrap_err();
    assert!(matches!(
        e.issue(),
        Some(ParseIssue::UnknownGroundTruthHeader(_))
    ));
}

#[test]
fn ground_truth_naming_no_known_process() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bovia/cadets/ProcessEvent.csv",
        "Object_ID,A\np1,1\np2,0\n",
    );
    write(
        dir.path(),
        "bovia/cadets/gt.csv",
        "uuid,label\nq9,AdmSubject::Node\n",
    );
    let cat = Catalog::discover(dir.path()).unwrap();
    let e = cat.load(&"bovia/cadets/PE".parse().unwrap()).unwrap_err();
    assert!(
        matches!(e, ProvenanceError::NoKnownProcess { ids: 1, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("gt.csv"));
}

#[test]
fn ground_truth_duplicates_are_counted_and_labels_unioned() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bovia/cadets/ProcessEvent.csv",
        "Object_ID,A\np1,1\np2,0\np3,1\n",
    );
    write(
        dir.path(),
        "bovia/cadets/a.csv",
        "\"uuid\",\"label\"\n\"p1\",\"AdmSubject::Node\"\n\"p1\",\"AdmSubject::Node\"\n",
    );
    write(
        dir.path(),
        "bovia/cadets/b.csv",
        "uuid,label\rp3,AdmSubject::Node\rp2,AdmFileObject::Node\r",
    );
    let cat = Catalog::discover(dir.path()).unwrap();
    let c = cat.load(&"bovia/cadets/PE".parse().unwrap()).unwrap();
    assert_eq!(c.labels.flags, vec![true, false, true]);
}

#[test]
fn unknown_layouts() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "scenario9/cadets/ProcessEvent.csv",
        "Object_ID,A\np1,1\n",
    );
    let e = Catalog::discover(dir.path()).unwrap_err();
    assert!(matches!(e, ProvenanceError::UnknownLayout { .. }));
    assert!(e.to_string().contains("scenario9"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bovia/cadets/ProcessFoo.csv",
        "Object_ID,A\np1,1\n",
    );
    let e = Catalog::discover(dir.path()).unwrap_err();
    assert!(e.to_string().contains("ProcessFoo.csv"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let e = Catalog::discover(dir.path()).unwrap_err();
    assert!(
        e.to_string()
            .contains("no {scenario}/{performer}/Process*.csv"),
        "{e}"
    );

    let e = Catalog::discover(dir.path().join("nope")).unwrap_err();
    assert!(e.to_string().contains("not a directory"), "{e}");
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let e = Context::from_csv("/nonexistent/ProcessEvent.csv", Aspect::ProcessEvent).unwrap_err();
    assert!(matches!(e, ProvenanceError::Io { .. }));
    assert!(e.to_string().contains("/nonexistent/ProcessEvent.csv"));
}

#[test]
fn types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Context>();
    check::<ProvenanceError>();
    check::<apt_llm_provenance::LabeledContext>();
}
