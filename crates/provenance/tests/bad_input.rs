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
    assert!(e.to_string().contains("no such directory"), "{e}");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let e = Catalog::discover(&file).unwrap_err();
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

// ---- Issue #14: hostile input. Each case asserts the variant, the line and that the
// message names the file and the reason.

fn loads(body: &[u8]) -> Result<Context, ProvenanceError> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ProcessExec.csv");
    fs::write(&p, body).unwrap();
    Context::from_csv(&p, Aspect::ProcessExec)
}

fn assert_names(e: &ProvenanceError, line: u64, reason: &str) {
    let msg = e.to_string();
    assert_eq!(line_of(e), line, "{msg}");
    assert!(
        msg.contains("ProcessExec.csv") || msg.contains(".csv"),
        "{msg}"
    );
    assert!(msg.contains(&format!(":{line}: ")), "{msg}");
    assert!(msg.contains(reason), "{msg}");
}

#[test]
fn line_numbers_are_right_for_every_line_ending() {
    for nl in ["\n", "\r\n", "\r"] {
        let body = ["Object_ID,a,b", "p1,1,0", "p2,1,1", "p3,1"].join(nl);
        let e = loads(body.as_bytes()).unwrap_err();
        assert_names(&e, 4, "ragged row");
        let body = ["Object_ID,a", "p1,1", "p2,7"].join(nl);
        assert_names(&loads(body.as_bytes()).unwrap_err(), 3, "is not 0 or 1");
        // A quoted cell spanning lines moves later lines down.
        let body = ["Object_ID,\"x", "y\"", "p1,1", "p1,0"].join(nl);
        let e = loads(body.as_bytes()).unwrap_err();
        assert_names(&e, 4, "duplicate process id");
        assert_eq!(
            e.issue(),
            Some(&ParseIssue::DuplicateId {
                id: "p1".into(),
                first_line: 3
            })
        );
    }
}

#[test]
fn invalid_utf8_in_an_id_is_an_error_not_a_lossy_rewrite() {
    // Two ids that lossy decoding would make identical.
    let e = loads(b"Object_ID,a\r\np\xff1,1\r\np\xfe1,0\r\n").unwrap_err();
    assert_eq!(
        e.issue(),
        Some(&ParseIssue::InvalidUtf8 {
            what: "process id",
            column: 1
        })
    );
    assert_names(&e, 2, "not valid UTF-8");
}

#[test]
fn invalid_utf8_in_an_attribute_name() {
    let e = loads(b"Object_ID,ok,bad\xc3(\np1,1,0\n").unwrap_err();
    assert_eq!(
        e.issue(),
        Some(&ParseIssue::InvalidUtf8 {
            what: "attribute name",
            column: 3
        })
    );
    assert_names(&e, 1, "attribute name in column 3 is not valid UTF-8");
}

#[test]
fn duplicate_column_names_are_an_error_naming_both() {
    let e = loads(b"Object_ID,a,b,a\np1,1,0,1\n").unwrap_err();
    assert_eq!(
        e.issue(),
        Some(&ParseIssue::DuplicateColumn {
            name: "a".into(),
            first: 2,
            second: 4
        })
    );
    assert_names(&e, 1, "duplicate column name \"a\" (columns 2 and 4)");
}

#[test]
fn ids_differing_only_in_case_are_one_process() {
    let e = loads(b"UUID,a\nABC-1,1\nabc-1,0\n").unwrap_err();
    assert_names(&e, 3, "duplicate process id \"abc-1\"");
}

#[test]
fn empty_id_and_whitespace_file() {
    assert_names(&loads(b"UUID,a\n ,1\n").unwrap_err(), 2, "empty process id");
    assert!(matches!(
        loads(b"   \n").unwrap_err().issue(),
        Some(ParseIssue::EmptyFile)
    ));
}

#[test]
fn ground_truth_line_numbers_in_a_cr_only_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "gt.csv",
        "uuid,label\rp1,AdmSubject::Node\rp2\rp3,AdmSubject::Node\r",
    );
    let e = GroundTruth::from_files(&[&p]).unwrap_err();
    assert_eq!(line_of(&e), 3, "{e}");
    assert!(e.to_string().contains("gt.csv:3: ragged row"), "{e}");
}

#[test]
fn ground_truth_invalid_utf8_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("gt.csv");
    fs::write(
        &p,
        b"uuid,label\r\np1,AdmSubject::Node\r\np\xff2,AdmSubject::Node\r\n",
    )
    .unwrap();
    let e = GroundTruth::from_files(&[&p]).unwrap_err();
    assert_eq!(
        e.issue(),
        Some(&ParseIssue::InvalidUtf8 {
            what: "uuid",
            column: 1
        })
    );
    assert!(e.to_string().contains("gt.csv:3: uuid in column 1"), "{e}");
    let p = write(dir.path(), "gt2.csv", "uuid,label\n,AdmSubject::Node\n");
    let e = GroundTruth::from_files(&[&p]).unwrap_err();
    assert!(e.to_string().contains("gt2.csv:2: empty process id"), "{e}");
    let p = write(dir.path(), "gt3.csv", "uuid,label\n");
    let e = GroundTruth::from_files(&[&p]).unwrap_err();
    assert!(matches!(e.issue(), Some(ParseIssue::HeaderOnly)), "{e}");
}

#[test]
fn ground_truth_ids_and_labels_match_case_insensitively() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bovia/cadets/ProcessEvent.csv",
        "Object_ID,A\n6e607c38-8781-3917-95eb-be6efdf5ff90,1\np2,0\nP3,1\n",
    );
    write(
        dir.path(),
        "bovia/cadets/gt.csv",
        "uuid,label\n6E607C38-8781-3917-95EB-BE6EFDF5FF90,AdmSubject::Node\np3,admsubject::node\np2,AdmFileObject::Node\n",
    );
    let cat = Catalog::discover(dir.path()).unwrap();
    let c = cat.load(&"bovia/cadets/PE".parse().unwrap()).unwrap();
    assert_eq!(c.labels.flags, vec![true, false, true]);
    assert_eq!(c.unmatched_attacks(), 0);
}

#[test]
fn ground_truth_without_an_attack_label_is_refused() {
    // A misspelt or foreign label scheme would make every process pass for normal.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bovia/cadets/ProcessEvent.csv",
        "Object_ID,A\np1,1\np2,0\n",
    );
    write(
        dir.path(),
        "bovia/cadets/gt.csv",
        "uuid,label\np1,AdmSubjct::Node\np2,1\np3,1\n",
    );
    let cat = Catalog::discover(dir.path()).unwrap();
    let e = cat
        .load(&"bovia/cadets/PE".parse().unwrap())
        .unwrap_err()
        .to_string();
    for part in [
        "gt.csv",
        "3 ids",
        "AdmSubject::Node",
        "\"1\" x2",
        "\"AdmSubjct::Node\" x1",
    ] {
        assert!(e.contains(part), "{part:?} not in {e}");
    }
}

#[test]
fn unmatched_attack_ids_are_counted_per_folder() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bovia/cadets/ProcessEvent.csv",
        "Object_ID,A\np1,1\np2,0\n",
    );
    write(
        dir.path(),
        "bovia/cadets/ProcessExec.csv",
        "Object_ID,B\np2,1\np4,1\n",
    );
    write(
        dir.path(),
        "bovia/cadets/gt.csv",
        "uuid,label\np1,AdmSubject::Node\np4,AdmSubject::Node\nQ9,AdmSubject::Node\nq8,AdmSubject::Node\nq7,AdmEvent::Node\n",
    );
    let cat = Catalog::discover(dir.path()).unwrap();
    let all = cat
        .load_folder(&"bovia/cadets/PE".parse().unwrap())
        .unwrap();
    for c in &all {
        assert_eq!(c.unmatched_attack_ids, vec!["q8".to_string(), "q9".into()]);
    }
    // Per context, the attacks absent from that context are counted too.
    let pe = all
        .iter()
        .find(|c| c.id.aspect == Aspect::ProcessEvent)
        .unwrap();
    assert_eq!(pe.labels.missing_attacks, 3);
}

#[cfg(unix)]
#[test]
fn a_dangling_context_symlink_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bovia/cadets/ProcessEvent.csv",
        "Object_ID,A\np1,1\n",
    );
    std::os::unix::fs::symlink(
        dir.path().join("nowhere.csv"),
        dir.path().join("bovia/cadets/ProcessExec.csv"),
    )
    .unwrap();
    let e = Catalog::discover(dir.path()).unwrap_err();
    assert!(matches!(e, ProvenanceError::UnknownLayout { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("ProcessExec.csv") && msg.contains("dangling"),
        "{msg}"
    );
}

#[test]
fn a_directory_named_like_a_context_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bovia/cadets/ProcessEvent.csv",
        "Object_ID,A\np1,1\n",
    );
    fs::create_dir_all(dir.path().join("bovia/cadets/ProcessNetflow.csv")).unwrap();
    let e = Catalog::discover(dir.path()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("ProcessNetflow.csv") && msg.contains("a directory, not a file"),
        "{msg}"
    );
    // A ground-truth name too.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bovia/cadets/ProcessEvent.csv",
        "Object_ID,A\np1,1\n",
    );
    fs::create_dir_all(dir.path().join("bovia/cadets/labels.csv")).unwrap();
    let msg = Catalog::discover(dir.path()).unwrap_err().to_string();
    assert!(msg.contains("labels.csv"), "{msg}");
}

#[test]
fn join_all_merges_ids_that_differ_in_case() {
    let pe = Context::from_reader(
        "Object_ID,a\nABC,1\n".as_bytes(),
        Aspect::ProcessEvent,
        Path::new("pe.csv"),
    )
    .unwrap();
    let px = Context::from_reader(
        "Object_ID,b\nabc,1\n".as_bytes(),
        Aspect::ProcessExec,
        Path::new("px.csv"),
    )
    .unwrap();
    let all = Context::join_all(&[&pe, &px]);
    assert_eq!(all.len(), 1);
    assert_eq!(all.records[0].attributes.len(), 2);
}

#[test]
fn an_attribute_name_of_ten_megabytes_is_refused_at_once() {
    let name = "a".repeat(10 << 20);
    let text = format!("Object_ID,{name},EVENT_READ\nabc,1,0\n");
    let e = apt_llm_provenance::Context::from_reader(
        text.as_bytes(),
        apt_llm_provenance::Aspect::ProcessEvent,
        std::path::Path::new("huge.csv"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("huge.csv:1:") && e.contains("column 2"), "{e}");
    assert!(e.contains("10485760 bytes"), "{e}");
}
