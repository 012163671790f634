//! Ground truth: which processes are attacks.

use crate::context::Context;
use crate::error::{ParseIssue, ProvenanceError, Result};
use crate::lines::LineCounted;
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// The label that marks a process (a CDM Subject) in the ADAPT ground truth.
pub const ATTACK_LABEL: &str = "AdmSubject::Node";

/// Attack process ids gathered from one or more `uuid,label` files.
///
/// A process is an attack iff its id appears with label [`ATTACK_LABEL`] in any file
/// (ids and labels compared case-insensitively).
/// Duplicate rows (merged files repeat ids) are counted, not errors.
#[derive(Debug, Clone, Default)]
pub struct GroundTruth {
    /// Ids labelled as attack processes, lower-cased.
    pub attacks: HashSet<String>,
    /// Every id named, whatever its label, lower-cased.
    pub all_ids: HashSet<String>,
    /// Files read.
    pub files: Vec<PathBuf>,
    /// Data rows read across files.
    pub rows: usize,
    /// Rows whose id had already been seen (within or across files).
    pub duplicate_rows: usize,
    /// Data rows per label, as written (trimmed).
    pub labels: std::collections::BTreeMap<String, usize>,
}

impl GroundTruth {
    /// Read and union ground-truth files.
    pub fn from_files<P: AsRef<Path>>(paths: &[P]) -> Result<GroundTruth> {
        let mut gt = GroundTruth::default();
        for p in paths {
            gt.add_file(p.as_ref())?;
        }
        Ok(gt)
    }

    /// Add one ground-truth file to the union.
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let file = File::open(path).map_err(|e| ProvenanceError::io(path, e))?;
        self.add_reader(BufReader::new(file), path)?;
        self.files.push(path.to_path_buf());
        Ok(())
    }

    /// Add ground truth from a reader; `path` names it in errors.
    ///
    /// Ids are matched case-insensitively (UUIDs are, by RFC 4122; exporters differ in the
    /// case they write), labels too (`admsubject::node` is [`ATTACK_LABEL`]). Line numbers
    /// are right for LF, CRLF and CR-only files; ids and labels must be valid UTF-8.
    pub fn add_reader<R: Read>(&mut self, reader: R, path: &Path) -> Result<()> {
        // The csv crate treats CR, LF and CRLF alike, which covers the CR-only Android file;
        // LineCounted gives the line numbers it would count wrong there.
        let (reader, breaks) = LineCounted::new(reader);
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(reader);
        let mut rec = csv::ByteRecord::new();
        let line_of =
            |pos: Option<&csv::Position>| pos.map_or(0, |p| breaks.borrow_mut().line_at(p.byte()));
        let err = |e: csv::Error| {
            let line = line_of(e.position());
            let message = e.to_string();
            match e.into_kind() {
                csv::ErrorKind::Io(source) => ProvenanceError::io(path, source),
                _ => ProvenanceError::parse(path, line, ParseIssue::Csv(message)),
            }
        };
        let text = |rec: &csv::ByteRecord, column: usize, what: &'static str, line: u64| {
            std::str::from_utf8(&rec[column])
                .map(|s| s.trim().to_string())
                .map_err(|_| {
                    ProvenanceError::parse(
                        path,
                        line,
                        ParseIssue::InvalidUtf8 {
                            what,
                            column: column + 1,
                        },
                    )
                })
        };
        if !rdr.read_byte_record(&mut rec).map_err(err)? {
            return Err(ProvenanceError::parse(path, 1, ParseIssue::EmptyFile));
        }
        let header: Vec<String> = rec
            .iter()
            .map(|c| String::from_utf8_lossy(c).trim().to_ascii_lowercase())
            .collect();
        if header.len() != 2
            || header[0].trim_start_matches('\u{feff}') != "uuid"
            || header[1] != "label"
        {
            return Err(ProvenanceError::parse(
                path,
                1,
                ParseIssue::UnknownGroundTruthHeader(
                    rec.iter()
                        .map(String::from_utf8_lossy)
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            ));
        }
        let mut rows = 0;
        while rdr.read_byte_record(&mut rec).map_err(err)? {
            let line = line_of(rec.position());
            if rec.len() == 1 && rec[0].is_empty() {
                continue;
            }
            if rec.len() != 2 {
                return Err(ProvenanceError::parse(
                    path,
                    line,
                    ParseIssue::RaggedRow {
                        expected: 2,
                        found: rec.len(),
                    },
                ));
            }
            let id = text(&rec, 0, "uuid", line)?.to_ascii_lowercase();
            let label = text(&rec, 1, "label", line)?;
            if id.is_empty() {
                return Err(ProvenanceError::parse(path, line, ParseIssue::EmptyId));
            }
            rows += 1;
            *self.labels.entry(label.clone()).or_default() += 1;
            if label.eq_ignore_ascii_case(ATTACK_LABEL) {
                self.attacks.insert(id.clone());
            }
            if !self.all_ids.insert(id) {
                self.duplicate_rows += 1;
            }
        }
        if rows == 0 {
            return Err(ProvenanceError::parse(path, 1, ParseIssue::HeaderOnly));
        }
        self.rows += rows;
        Ok(())
    }

    /// Attack ids that name no record of any of `contexts`, sorted: labelled attack
    /// processes the data cannot show (a folder holding only some aspects, or ground truth
    /// from another run).
    pub fn unmatched_attacks(&self, contexts: &[&Context]) -> Vec<String> {
        let known: HashSet<String> = contexts
            .iter()
            .flat_map(|c| c.records.iter().map(|r| r.id.to_ascii_lowercase()))
            .collect();
        let mut out: Vec<String> = self
            .attacks
            .iter()
            .filter(|id| !known.contains(*id))
            .cloned()
            .collect();
        out.sort();
        out
    }

    /// Is this process id an attack?
    pub fn is_attack(&self, id: &str) -> bool {
        if id.bytes().any(|b| b.is_ascii_uppercase()) {
            self.attacks.contains(&id.to_ascii_lowercase())
        } else {
            self.attacks.contains(id)
        }
    }

    /// Label every record of a context.
    pub fn label(&self, context: &Context) -> Labels {
        let flags: Vec<bool> = context
            .records
            .iter()
            .map(|r| self.is_attack(&r.id))
            .collect();
        let present = flags.iter().filter(|&&f| f).count();
        Labels {
            missing_attacks: self.attacks.len().saturating_sub(present),
            flags,
        }
    }
}

/// Per-record attack flags of one context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    /// `true` = attack, one per record.
    pub flags: Vec<bool>,
    /// Ground-truth attack processes that appear in no row of this context.
    pub missing_attacks: usize,
}

impl Labels {
    /// Number of attack records.
    pub fn attacks(&self) -> usize {
        self.flags.iter().filter(|&&f| f).count()
    }
    /// Number of normal records.
    pub fn normals(&self) -> usize {
        self.flags.len() - self.attacks()
    }
}
