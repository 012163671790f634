//! Contexts: the per-process attribute tables of one aspect, and their CSV loader.

use crate::error::{ParseIssue, ProvenanceError, Result};
use crate::lines::LineCounted;
use crate::types::Aspect;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// One process: its id and the sorted indices of the attributes it has (the `1` cells).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProcessRecord {
    /// Process UUID as written in the file.
    pub id: String,
    /// Indices into [`Context::attributes`], ascending.
    pub attributes: Vec<u32>,
}

/// The records of one aspect with their attribute names: a sparse binary table.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// Which attributes the table holds.
    pub aspect: Aspect,
    /// Column names, without the id column, in file order. Names may be empty or hold
    /// commas and quotes.
    pub attributes: Vec<String>,
    /// One record per data row, in file order.
    pub records: Vec<ProcessRecord>,
    /// The file it was read from (`None` for derived or synthetic contexts).
    pub source: Option<PathBuf>,
}

impl Context {
    /// Number of processes.
    pub fn len(&self) -> usize {
        self.records.len()
    }
    /// True when the context holds no process.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
    /// Names of a record's attributes, in column order.
    pub fn attribute_names<'a>(
        &'a self,
        record: &'a ProcessRecord,
    ) -> impl Iterator<Item = &'a str> {
        record
            .attributes
            .iter()
            .map(|&i| self.attributes[i as usize].as_str())
    }
    /// A map from process id to row index.
    pub fn index_by_id(&self) -> HashMap<&str, usize> {
        self.records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect()
    }
    /// True for the 2-row placeholder tables some performers ship instead of data
    /// (ClearScope's ProcessParent: ids `abc`/`def`, columns `Dummy1`, `Dummy2`).
    pub fn is_placeholder(&self) -> bool {
        !self.attributes.is_empty()
            && self
                .attributes
                .iter()
                .all(|a| a.trim().to_ascii_lowercase().starts_with("dummy"))
    }

    /// Read a context CSV (`Object_ID`/`UUID`/empty header cell, then one 0/1 column per
    /// attribute). Rows are streamed; only the sparse attribute sets are kept.
    ///
    /// ```no_run
    /// use apt_llm_provenance::{Aspect, Context};
    /// let ctx = Context::from_csv("data/bovia/cadets/ProcessEvent.csv", Aspect::ProcessEvent)?;
    /// println!("{} processes, {} attributes", ctx.len(), ctx.attributes.len());
    /// # Ok::<(), apt_llm_provenance::ProvenanceError>(())
    /// ```
    pub fn from_csv(path: impl AsRef<Path>, aspect: Aspect) -> Result<Context> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| ProvenanceError::io(path, e))?;
        let mut ctx = Context::from_reader(BufReader::with_capacity(1 << 20, file), aspect, path)?;
        ctx.source = Some(path.to_path_buf());
        Ok(ctx)
    }

    /// Read a context from any reader; `path` is only used in error messages.
    ///
    /// Line numbers in errors are right for LF, CRLF and CR-only files. Ids and attribute
    /// names must be valid UTF-8 (an error naming the line and column, never a lossy
    /// rewrite that could merge two distinct ids); attribute names must be distinct.
    pub fn from_reader<R: Read>(reader: R, aspect: Aspect, path: &Path) -> Result<Context> {
        let (reader, breaks) = LineCounted::new(reader);
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(reader);
        let mut record = csv::ByteRecord::new();
        let line_of =
            |pos: Option<&csv::Position>| pos.map_or(0, |p| breaks.borrow_mut().line_at(p.byte()));
        let csv_err = |e: csv::Error| {
            let line = line_of(e.position());
            let message = e.to_string();
            match e.into_kind() {
                csv::ErrorKind::Io(source) => ProvenanceError::io(path, source),
                _ => ProvenanceError::parse(path, line, ParseIssue::Csv(message)),
            }
        };
        // Header.
        if !rdr.read_byte_record(&mut record).map_err(csv_err)? {
            return Err(ProvenanceError::parse(path, 1, ParseIssue::EmptyFile));
        }
        let header_line = line_of(record.position()).max(1);
        let mut header: Vec<String> = Vec::with_capacity(record.len());
        for (j, cell) in record.iter().enumerate() {
            let name = std::str::from_utf8(cell).map_err(|_| {
                ProvenanceError::parse(
                    path,
                    header_line,
                    ParseIssue::InvalidUtf8 {
                        what: if j == 0 {
                            "id column name"
                        } else {
                            "attribute name"
                        },
                        column: j + 1,
                    },
                )
            })?;
            header.push(name.to_string());
        }
        if header.len() == 1 && header[0].trim().is_empty() {
            return Err(ProvenanceError::parse(
                path,
                header_line,
                ParseIssue::EmptyFile,
            ));
        }
        let id_col = header[0].trim().trim_start_matches('\u{feff}');
        if !(id_col.is_empty()
            || id_col.eq_ignore_ascii_case("object_id")
            || id_col.eq_ignore_ascii_case("uuid"))
        {
            return Err(ProvenanceError::parse(
                path,
                header_line,
                ParseIssue::UnknownIdColumn(header[0].clone()),
            ));
        }
        let attributes: Vec<String> = header[1..].to_vec();
        // Two columns of one name would make one attribute of the sentence twice, and
        // ProcessAll's join ambiguous.
        let mut columns: HashMap<&str, usize> = HashMap::with_capacity(attributes.len());
        for (j, name) in attributes.iter().enumerate() {
            // A name becomes a phrase of every sentence that has it: a megabyte-long one
            // makes every later step crawl (real names are at most a few hundred bytes).
            if name.len() > crate::MAX_NAME_BYTES {
                return Err(ProvenanceError::parse(
                    path,
                    header_line,
                    ParseIssue::NameTooLong {
                        column: j + 2,
                        bytes: name.len(),
                    },
                ));
            }
            if let Some(first) = columns.insert(name.as_str(), j + 2) {
                return Err(ProvenanceError::parse(
                    path,
                    header_line,
                    ParseIssue::DuplicateColumn {
                        name: name.clone(),
                        first,
                        second: j + 2,
                    },
                ));
            }
        }
        let width = header.len();
        let mut records = Vec::new();
        let mut seen: HashMap<String, u64> = HashMap::new();
        while rdr.read_byte_record(&mut record).map_err(csv_err)? {
            let line = line_of(record.position());
            // A trailing blank line parses as one empty cell: skip it, it holds no data.
            if record.len() == 1 && record[0].is_empty() {
                continue;
            }
            if record.len() != width {
                return Err(ProvenanceError::parse(
                    path,
                    line,
                    ParseIssue::RaggedRow {
                        expected: width,
                        found: record.len(),
                    },
                ));
            }
            let id = std::str::from_utf8(&record[0])
                .map_err(|_| {
                    ProvenanceError::parse(
                        path,
                        line,
                        ParseIssue::InvalidUtf8 {
                            what: "process id",
                            column: 1,
                        },
                    )
                })?
                .trim()
                .to_string();
            if id.is_empty() {
                return Err(ProvenanceError::parse(path, line, ParseIssue::EmptyId));
            }
            let mut attrs = Vec::new();
            for (j, cell) in record.iter().enumerate().skip(1) {
                match cell {
                    b"0" => {}
                    b"1" => attrs.push((j - 1) as u32),
                    other => {
                        let trimmed = std::str::from_utf8(other).map(str::trim);
                        match trimmed {
                            Ok("0") | Ok("0.0") => {}
                            Ok("1") | Ok("1.0") => attrs.push((j - 1) as u32),
                            _ => {
                                return Err(ProvenanceError::parse(
                                    path,
                                    line,
                                    ParseIssue::BadCell {
                                        column: attributes[j - 1].clone(),
                                        value: String::from_utf8_lossy(other).into_owned(),
                                    },
                                ));
                            }
                        }
                    }
                }
            }
            // UUIDs are case-insensitive (RFC 4122): ids that differ only in case are one
            // process written twice.
            let key = id.to_ascii_lowercase();
            if let Some(&first_line) = seen.get(&key) {
                return Err(ProvenanceError::parse(
                    path,
                    line,
                    ParseIssue::DuplicateId { id, first_line },
                ));
            }
            seen.insert(key, line);
            records.push(ProcessRecord {
                id,
                attributes: attrs,
            });
        }
        if records.is_empty() {
            return Err(ProvenanceError::parse(
                path,
                header_line,
                ParseIssue::HeaderOnly,
            ));
        }
        Ok(Context {
            aspect,
            attributes,
            records,
            source: None,
        })
    }

    /// Build ProcessAll from base-aspect contexts as the ADAPT join does: the union of
    /// process ids (in order of first appearance, compared case-insensitively), every attribute of aspect `k` renamed
    /// with its `Xk_` prefix, absent cells zero. Placeholder tables are skipped.
    pub fn join_all(parts: &[&Context]) -> Context {
        let mut attributes = Vec::new();
        let mut offsets = Vec::new();
        let mut kept: Vec<&Context> = parts
            .iter()
            .copied()
            .filter(|c| c.aspect != Aspect::ProcessAll && !c.is_placeholder())
            .collect();
        kept.sort_by_key(|c| c.aspect);
        for c in &kept {
            offsets.push(attributes.len() as u32);
            let prefix = c.aspect.all_prefix().unwrap_or("");
            attributes.extend(c.attributes.iter().map(|a| format!("{prefix}{a}")));
        }
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut records: Vec<ProcessRecord> = Vec::new();
        for (c, &off) in kept.iter().zip(&offsets) {
            for r in &c.records {
                // Files of one folder may write a UUID in different cases.
                let row = *index.entry(r.id.to_ascii_lowercase()).or_insert_with(|| {
                    records.push(ProcessRecord {
                        id: r.id.clone(),
                        attributes: Vec::new(),
                    });
                    records.len() - 1
                });
                // Aspects are visited in prefix order, so appending keeps indices sorted.
                records[row]
                    .attributes
                    .extend(r.attributes.iter().map(|a| a + off));
            }
        }
        Context {
            aspect: Aspect::ProcessAll,
            attributes,
            records,
            source: None,
        }
    }
}
