//! Hostile input at the command line (issue #14): every case exits with status 1 (2 for
//! argument errors) and a message naming the file, line or field and the reason; never a
//! panic (status 101) or an abort, never a silent success. No model is trained here.

use std::path::{Path, PathBuf};
use std::process::Command;

fn apt_llm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_apt-llm"))
}

/// Run, expecting exit status `code`; returns (stdout, stderr).
fn run_expect(cmd: &mut Command, code: i32) -> (String, String) {
    let out = cmd.output().expect("apt-llm runs");
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}:\n{so}\n{se}"
    );
    (so, se)
}

/// Expect failure (status 1) with an error naming every part.
fn fails_naming(cmd: &mut Command, parts: &[&str]) {
    let (_, err) = run_expect(cmd, 1);
    assert!(err.starts_with("error: "), "{err}");
    for p in parts {
        assert!(err.contains(p), "{p:?} not in {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

fn write(dir: &Path, name: &str, body: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, body).unwrap();
    p
}

/// A small valid data root.
fn data_root() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "bovia/cadets/ProcessEvent.csv",
        "Object_ID,EVENT_READ,EVENT_WRITE\np1,1,0\np2,0,1\np3,1,1\n",
    );
    write(
        d.path(),
        "bovia/cadets/gt.csv",
        "uuid,label\nP1,AdmSubject::Node\n",
    );
    d
}

fn tiny(name: &str) -> Option<(tempfile::TempDir, PathBuf)> {
    let root = apt_llm_testkit::model_fixtures()?;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for f in std::fs::read_dir(root.join(name)).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            std::fs::copy(&f, dir.join(f.file_name().unwrap())).unwrap();
        }
    }
    Some((tmp, dir))
}

#[test]
fn datasets_reports_unmatched_labels_and_matches_ids_across_case() {
    let d = data_root();
    write(
        d.path(),
        "bovia/cadets/gt2.csv",
        "uuid,label\rq1,AdmSubject::Node\rq2,ADMSUBJECT::NODE\r",
    );
    let (out, _) = run_expect(apt_llm().args(["datasets", "--data"]).arg(d.path()), 0);
    assert!(
        out.contains("bovia/cadets: 2 labelled attack ids match no process of the folder"),
        "{out}"
    );
    let (json, _) = run_expect(
        apt_llm()
            .args(["datasets", "--json", "--data"])
            .arg(d.path()),
        0,
    );
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(rows[0]["attacks"], 1, "P1 matches p1");
    assert_eq!(rows[0]["unmatched_attacks"], 2);
}

#[test]
fn datasets_on_a_missing_root() {
    fails_naming(
        apt_llm().args(["datasets", "--data", "/nonexistent/apt-llm-root"]),
        &["/nonexistent/apt-llm-root", "no such directory"],
    );
}

#[cfg(unix)]
#[test]
fn datasets_with_a_dangling_context_symlink() {
    let d = data_root();
    std::os::unix::fs::symlink(
        d.path().join("gone.csv"),
        d.path().join("bovia/cadets/ProcessExec.csv"),
    )
    .unwrap();
    fails_naming(
        apt_llm().args(["datasets", "--data"]).arg(d.path()),
        &["ProcessExec.csv", "dangling"],
    );
}

#[test]
fn datasets_with_a_directory_named_like_a_context() {
    let d = data_root();
    std::fs::create_dir_all(d.path().join("bovia/cadets/ProcessParent.csv")).unwrap();
    fails_naming(
        apt_llm().args(["datasets", "--data"]).arg(d.path()),
        &["ProcessParent.csv", "a directory, not a file"],
    );
}

#[test]
fn datasets_with_duplicate_columns() {
    let d = data_root();
    write(
        d.path(),
        "bovia/cadets/ProcessExec.csv",
        "Object_ID,sh,ls,sh\np1,1,0,0\n",
    );
    fails_naming(
        apt_llm().args(["datasets", "--data"]).arg(d.path()),
        &[
            "ProcessExec.csv:1:",
            "duplicate column name \"sh\" (columns 2 and 4)",
        ],
    );
}

#[test]
fn datasets_with_a_bad_row_in_a_cr_only_ground_truth() {
    let d = data_root();
    write(
        d.path(),
        "bovia/cadets/gt.csv",
        "uuid,label\rp1,AdmSubject::Node\rp2,AdmSubject::Node,extra\r",
    );
    fails_naming(
        apt_llm().args(["datasets", "--data"]).arg(d.path()),
        &["gt.csv:3:", "ragged row"],
    );
}

#[test]
fn datasets_with_invalid_utf8_in_an_id() {
    let d = data_root();
    write(
        d.path(),
        "bovia/cadets/ProcessEvent.csv",
        b"Object_ID,A\r\np1,1\r\np\xff,0\r\n",
    );
    fails_naming(
        apt_llm().args(["datasets", "--data"]).arg(d.path()),
        &[
            "ProcessEvent.csv:3:",
            "process id in column 1 is not valid UTF-8",
        ],
    );
}

#[test]
fn sentences_of_an_unknown_context() {
    let d = data_root();
    fails_naming(
        apt_llm()
            .args(["sentences", "--context", "bovia/trace/PE", "--data"])
            .arg(d.path()),
        &["bovia/trace/PE"],
    );
}

#[apt_llm_testkit::needs(models)]
#[test]
fn embed_splits_cr_only_files_into_one_row_per_sentence() {
    let Some((_t, model)) = tiny("tiny-bert") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let s = write(d.path(), "s.txt", "one\rtwo\rthree\r");
    let out = d.path().join("e.npy");
    let (so, _) = run_expect(
        apt_llm()
            .args(["embed", "--model"])
            .arg(&model)
            .arg("--sentences")
            .arg(&s)
            .arg("--out")
            .arg(&out),
        0,
    );
    assert!(so.contains("[3 x 32]"), "{so}");
}

#[apt_llm_testkit::needs(models)]
#[test]
fn embed_errors_name_the_file_and_line() {
    let Some((_t, model)) = tiny("tiny-bert") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("e.npy");
    for (name, body, parts) in [
        (
            "blank.txt",
            &b"one\r\n\r\nthree\r\n"[..],
            ["blank.txt:2:", "blank line"],
        ),
        ("utf8.txt", &b"one\ntw\xffo\n"[..], ["utf8.txt:2:", "UTF-8"]),
        ("empty.txt", &b""[..], ["empty.txt:1:", "no sentences"]),
    ] {
        let s = write(d.path(), name, body);
        fails_naming(
            apt_llm()
                .args(["embed", "--model"])
                .arg(&model)
                .arg("--sentences")
                .arg(&s)
                .arg("--out")
                .arg(&out),
            &parts,
        );
    }
    fails_naming(
        apt_llm()
            .args(["embed", "--model"])
            .arg(&model)
            .arg("--sentences")
            .arg(d.path().join("absent.txt"))
            .arg("--out")
            .arg(&out),
        &["absent.txt"],
    );
    assert!(!out.exists(), "no output on failure");
}

#[apt_llm_testkit::needs(models)]
#[test]
fn embed_with_a_pad_id_beyond_the_vocabulary_fails_cleanly() {
    let Some((_t, model)) = tiny("tiny-bert") else {
        return;
    };
    let cfg = model.join("config.json");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("\"pad_token_id\": 0", "\"pad_token_id\": 99999"),
    )
    .unwrap();
    let d = tempfile::tempdir().unwrap();
    let s = write(d.path(), "s.txt", "a\nlonger sentence here\n");
    fails_naming(
        apt_llm()
            .args(["embed", "--model"])
            .arg(&model)
            .arg("--sentences")
            .arg(&s)
            .arg("--out")
            .arg(d.path().join("e.npy")),
        &["config.json", "pad_token_id is 99999"],
    );
}

#[apt_llm_testkit::needs(models)]
#[test]
fn embed_with_fewer_layers_in_the_config_than_the_checkpoint() {
    let Some((_t, model)) = tiny("tiny-bert") else {
        return;
    };
    let cfg = model.join("config.json");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 1"),
    )
    .unwrap();
    let d = tempfile::tempdir().unwrap();
    let s = write(d.path(), "s.txt", "a\n");
    fails_naming(
        apt_llm()
            .args(["embed", "--model"])
            .arg(&model)
            .arg("--sentences")
            .arg(&s)
            .arg("--out")
            .arg(d.path().join("e.npy")),
        &["model.safetensors", "encoder.layer.1."],
    );
}

#[apt_llm_testkit::needs(models)]
#[test]
fn embed_option_errors() {
    let Some((_t, model)) = tiny("tiny-bert") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let s = write(d.path(), "s.txt", "a\n");
    let base = |extra: &[&str]| {
        let mut c = apt_llm();
        c.args(["embed", "--model"])
            .arg(&model)
            .arg("--sentences")
            .arg(&s)
            .arg("--out")
            .arg(d.path().join("e.npy"))
            .args(extra);
        c
    };
    fails_naming(&mut base(&["--batch", "0"]), &["batch_size"]);
    // Argument errors are clap's (status 2), closed choices listing the possible values.
    for (flag, bad, valid) in [
        ("--pooling", "max", "mean, cls"),
        ("--backend", "onnx", "burn, tch"),
    ] {
        let (_, err) = run_expect(&mut base(&[flag, bad]), 2);
        assert!(
            err.contains(flag) && err.contains(bad) && err.contains(valid),
            "{err}"
        );
    }
    let (_, err) = run_expect(&mut base(&["--batch", "-3"]), 2);
    assert!(err.contains("-3"), "{err}");
}

/// A model file of the current format pointing at `detector`, a saved `kind`.
fn pipeline(dir: &Path, detector: &str, kind: &str) -> PathBuf {
    let template = serde_json::json!({
        "name": "paper",
        "opening_with_id": "Process {id} has ",
        "opening": "The process has ",
        "with_id": false,
        "separator": " and ",
        "closing": ".",
        "empty": "no recorded activity",
        "phrases": {"event": "event {}", "exec": "executed {}", "parent": "been spawned by {}", "netflow": "network activity {}"},
        "event_naming": "describe",
        "unnamed": "an unnamed endpoint"
    });
    let p = serde_json::json!({
        "format": apt_llm::runner::MODEL_FORMAT,
        "kind": kind,
        "detector": detector,
        "combination": "x",
        "representation": "embedding",
        "encoder": "minilm",
        "encoder_identity": null,
        "template": template,
        "trained_on": "bovia/cadets/PE",
        "scenario": "bovia",
        "os": "BSD",
        "aspect": "PE",
        "attributes": [],
        "threshold": {"percentile": 95.0, "value": 0.5},
        "normal_scores": [],
        "normal_weights": [],
        "auc": null
    });
    write(dir, "m.pipeline.json", p.to_string())
}

#[test]
fn score_with_a_prior_that_names_itself_fails_without_a_stack_overflow() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "det.json",
        r#"{"kind":"frequency-prior","model":{"inner":"det.json","memory":{"dim":1,"rows":[0.0],"weights":[1.0],"total":1.0},"shift":0.0,"scale":1.0,"blend":0.5}}"#,
    );
    let p = pipeline(d.path(), "det.json", "frequency-prior");
    fails_naming(
        apt_llm()
            .args(["score", "--context", "bovia/cadets/PE", "--model"])
            .arg(&p),
        &["det.json", "loops back"],
    );
}

#[test]
fn score_with_a_rarity_memory_of_more_rows_than_weights() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "det.json",
        r#"{"kind":"rarity","model":{"dim":2,"rows":[0.0,1.0,2.0,3.0],"weights":[1.0],"total":1.0}}"#,
    );
    let p = pipeline(d.path(), "det.json", "rarity");
    fails_naming(
        apt_llm()
            .args(["score", "--context", "bovia/cadets/PE", "--model"])
            .arg(&p),
        &["det.json", "field \"rows\" holds 4 values"],
    );
}

#[test]
fn score_with_a_detector_path_at_a_non_detector_json() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "notes.json", r#"{"author": "me"}"#);
    let p = pipeline(d.path(), "notes.json", "rarity");
    fails_naming(
        apt_llm()
            .args(["score", "--context", "bovia/cadets/PE", "--model"])
            .arg(&p),
        &["notes.json", "not a saved detector"],
    );
}

#[test]
fn score_with_a_file_that_is_not_a_pipeline() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "x.json", "[1,2]");
    fails_naming(
        apt_llm()
            .args(["score", "--context", "bovia/cadets/PE", "--model"])
            .arg(&p),
        &["x.json", "not a model file"],
    );
}

#[test]
fn score_with_a_detector_of_an_unknown_kind_or_another_kind() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "det.json", r#"{"kind":"my-knn","model":{}}"#);
    // No loader is registered for the kind: the error lists those that are.
    let p = pipeline(d.path(), "det.json", "my-knn");
    fails_naming(
        apt_llm()
            .args(["score", "--context", "bovia/cadets/PE", "--model"])
            .arg(&p),
        &["det.json", "\"my-knn\"", "autoencoder", "rarity"],
    );
    // The model file names another kind than the detector file holds.
    let p = pipeline(d.path(), "det.json", "rarity");
    fails_naming(
        apt_llm()
            .args(["score", "--context", "bovia/cadets/PE", "--model"])
            .arg(&p),
        &["m.pipeline.json", "\"rarity\"", "\"my-knn\""],
    );
}

#[test]
fn score_with_a_model_file_of_an_older_format() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "old.pipeline.json",
        r#"{"encoder":"minilm","detector":"det.json","threshold":0.5}"#,
    );
    fails_naming(
        apt_llm()
            .args(["score", "--context", "bovia/cadets/PE", "--model"])
            .arg(&p),
        &["old.pipeline.json", "format 1", "older", "--save-models"],
    );
}

#[test]
fn unknown_arguments_are_usage_errors() {
    let (_, err) = run_expect(apt_llm().args(["datasets", "--frobnicate"]), 2);
    assert!(err.contains("--frobnicate"), "{err}");
    let (_, err) = run_expect(apt_llm().args(["no-such-command"]), 2);
    assert!(err.contains("no-such-command"), "{err}");
}

#[test]
fn hunt_with_a_missing_garbage_or_tampered_model_directory() {
    let d = data_root();
    let out = tempfile::tempdir().unwrap();
    let models = out.path().join("models");
    // Neither a host nor saved models; both --model and --save-models: usage errors.
    run_expect(apt_llm().args(["hunt", "--data"]).arg(d.path()), 2);
    run_expect(
        apt_llm()
            .args(["hunt", "--data"])
            .arg(d.path())
            .arg("--model")
            .arg(&models)
            .arg("--save-models")
            .arg(&models),
        2,
    );
    let saved_model = || {
        let mut cmd = apt_llm();
        cmd.args(["hunt", "--data"])
            .arg(d.path())
            .arg("--model")
            .arg(&models);
        cmd
    };
    fails_naming(&mut saved_model(), &["hunt.json", "No such file"]);
    write(&models, "hunt.json", "{\"format\": 1, \"host\": ");
    fails_naming(&mut saved_model(), &["hunt.json", "not a hunt manifest"]);
    // Saved for real (AVF reads attribute rows: no encoder), then tampered with.
    run_expect(
        apt_llm()
            .args([
                "hunt",
                "--host",
                "bovia/cadets",
                "--detector",
                "avf",
                "--data",
            ])
            .arg(d.path())
            .arg("--save-models")
            .arg(&models),
        0,
    );
    run_expect(&mut saved_model(), 0);
    // An autoencoder's option with AVF's models, or with an AVF fit: refused, not ignored.
    fails_naming(
        saved_model().args(["--attention", "on"]),
        &["hunt.json", "attention", "autoencoders only", "AVF"],
    );
    fails_naming(
        apt_llm()
            .args(["hunt", "--host", "bovia/cadets", "--detector", "avf"])
            .args(["--epochs", "5", "--data"])
            .arg(d.path()),
        &["--epochs", "autoencoders only", "AVF"],
    );
    // So is an encoder's precision with detectors of attribute rows.
    fails_naming(
        saved_model().args(["--precision", "bf16"]),
        &[
            "hunt.json",
            "precision",
            "detectors of embeddings only",
            "AVF",
        ],
    );
    fails_naming(
        apt_llm()
            .args(["hunt", "--host", "bovia/cadets", "--detector", "avf"])
            .args(["--precision", "bf16", "--data"])
            .arg(d.path()),
        &["--precision", "detectors of embeddings only", "AVF"],
    );
    fails_naming(
        apt_llm()
            .args(["hunt", "--host", "bovia/cadets", "--detector", "avf"])
            .args(["--encoder", "minilm", "--data"])
            .arg(d.path()),
        &["--encoder", "detectors of embeddings only", "AVF"],
    );
    let pe = models.join("bovia_cadets_PE.pipeline.json");
    let text = std::fs::read_to_string(&pe).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["normal_scores"][0] = serde_json::json!(1e39);
    std::fs::write(&pe, doc.to_string()).unwrap();
    fails_naming(
        &mut saved_model(),
        &[
            "bovia_cadets_PE.pipeline.json",
            "normal_scores",
            "not finite",
        ],
    );
    std::fs::write(&pe, &text[..text.len() / 2]).unwrap();
    fails_naming(
        &mut saved_model(),
        &["bovia_cadets_PE.pipeline.json", "not a model file"],
    );
    std::fs::remove_file(&pe).unwrap();
    fails_naming(
        &mut saved_model(),
        &["bovia_cadets_PE.pipeline.json", "No such file"],
    );
}

/// `--host-p-values` is written inside the run: a path that cannot hold it is refused
/// before any work, naming it, instead of losing the run's results at the end.
#[test]
fn evaluate_refuses_a_host_p_values_path_it_cannot_write() {
    let out = tempfile::tempdir().unwrap();
    std::fs::create_dir(out.path().join("host_pvalues.csv")).unwrap();
    fails_naming(
        apt_llm()
            .args([
                "evaluate",
                "--synthetic",
                "--quiet",
                "--host-p-values",
                "--out",
            ])
            .arg(out.path()),
        &["host_pvalues.csv", "cannot write it"],
    );
    assert!(!out.path().join("results.csv").exists(), "nothing ran");
}

#[test]
fn evaluate_removes_what_an_earlier_run_wrote_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // What an earlier run listed goes; a user's file stays, and so does anything a
    // hostile list names outside the directory or under another folder.
    write(&out, "fig4_auc_heatmap_old.png", "stale");
    write(&out, "notes.txt", "mine");
    write(tmp.path(), "escape.txt", "outside");
    write(&out, "sub/x.txt", "under another folder");
    write(
        &out,
        ".apt-llm-outputs",
        "fig4_auc_heatmap_old.png\n../escape.txt\n/etc/hostname\nsub/x.txt\nmodels/../notes.txt\n",
    );
    let evaluate = || {
        let mut cmd = apt_llm();
        cmd.args([
            "evaluate",
            "--synthetic",
            "--detectors",
            "oc3",
            "--quiet",
            "--no-cache",
            "--out",
        ])
        .arg(&out);
        cmd
    };
    let (_, err) = run_expect(&mut evaluate(), 0);
    assert!(
        err.contains("removed 1 files an earlier run wrote"),
        "{err}"
    );
    assert!(!out.join("fig4_auc_heatmap_old.png").exists());
    for kept in [
        out.join("notes.txt"),
        tmp.path().join("escape.txt"),
        out.join("sub/x.txt"),
    ] {
        assert!(kept.is_file(), "{}", kept.display());
    }
    let listed = std::fs::read_to_string(out.join(".apt-llm-outputs")).unwrap();
    assert!(listed.lines().any(|l| l == "results.csv"), "{listed}");
    assert!(!listed.contains("notes.txt"), "{listed}");
    // A second run removes the first one's files and writes them again.
    let (_, err) = run_expect(&mut evaluate(), 0);
    assert!(err.contains("files an earlier run wrote"), "{err}");
    assert!(out.join("results.csv").is_file());
    // Not through a link: `models` pointing elsewhere keeps what it points to, and a
    // list that is a link is refused before anything is written through it.
    let elsewhere = tmp.path().join("store");
    write(&elsewhere, "keep.model.json", "a user's model");
    std::os::unix::fs::symlink(&elsewhere, out.join("models")).unwrap();
    write(&out, ".apt-llm-outputs", "models/keep.model.json\n");
    run_expect(&mut evaluate(), 0);
    assert!(elsewhere.join("keep.model.json").is_file());
    std::fs::remove_file(out.join(".apt-llm-outputs")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("escape.txt"), out.join(".apt-llm-outputs"))
        .unwrap();
    let (_, err) = run_expect(&mut evaluate(), 1);
    assert!(
        err.contains(".apt-llm-outputs: not a regular file"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("escape.txt")).unwrap(),
        "outside"
    );
    std::fs::remove_file(out.join(".apt-llm-outputs")).unwrap();
    std::fs::remove_file(out.join("models")).unwrap();
    // Saving models of a run without an autoencoder saves none, and says so.
    let (_, err) = run_expect(evaluate().arg("--save-models"), 0);
    assert!(err.contains("--save-models saved nothing"), "{err}");
    // The directory of hunt models is not an evaluate output directory.
    write(&out, "hunt.json", "{}");
    fails_naming(&mut evaluate(), &["--out", "hunt.json"]);
}
