//! # apt-llm-textualize
//!
//! Turn a provenance process record into a sentence a language model can embed.
//!
//! Two templates ship: the paper's ("Process 123 has event open a file and event write to
//! the file and event send network data.") and the authors' compact one ("The process has
//! performed READ, executed cmd.exe, network activity 128.55.12.167, spawned sshd .").
//! Templates are plain values: change any phrase, or build your own.
//!
//! ```
//! use apt_llm_provenance::{Aspect, Context, ProcessRecord};
//! use apt_llm_textualize::{Template, Textualizer};
//!
//! let ctx = Context {
//!     aspect: Aspect::ProcessEvent,
//!     attributes: vec!["EVENT_OPEN".into(), "EVENT_WRITE".into(), "EVENT_SENDTO".into()],
//!     records: vec![ProcessRecord { id: "123".into(), attributes: vec![0, 1, 2] }],
//!     source: None,
//! };
//! let paper = Textualizer::new(Template::paper().with_ids(true), &ctx);
//! assert_eq!(
//!     paper.sentence(&ctx.records[0]),
//!     "Process 123 has event open a file and event write to the file and event send network data."
//! );
//! let compact = Textualizer::new(Template::compact(), &ctx);
//! assert_eq!(
//!     compact.sentence(&ctx.records[0]),
//!     "The process has performed OPEN, performed WRITE, performed SENDTO ."
//! );
//! ```

use apt_llm_provenance::{Aspect, Context, ProcessRecord};
use serde::{Deserialize, Serialize};

/// How CDM event names (`EVENT_READ`) are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventNaming {
    /// A short English description: `EVENT_WRITE` -> "write to the file".
    Describe,
    /// The bare CDM name without its prefix: `EVENT_WRITE` -> "WRITE".
    Short,
    /// The name as written in the column header.
    Raw,
}

/// The words a template uses for each aspect; `{}` stands for the attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AspectPhrases {
    pub event: String,
    pub exec: String,
    pub parent: String,
    pub netflow: String,
}

/// A sentence template. Every field is public: adapt it freely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// Name shown in reports (`paper`, `compact`, ...).
    pub name: String,
    /// Start of a sentence when the id is shown; `{id}` is replaced by the process id.
    pub opening_with_id: String,
    /// Start of a sentence without an id.
    pub opening: String,
    /// Whether to show process ids (off by default: an id only adds noise to an embedding).
    pub with_id: bool,
    /// Between two attribute phrases.
    pub separator: String,
    /// End of the sentence.
    pub closing: String,
    /// Said of a process with no attribute.
    pub empty: String,
    /// Per-aspect phrases.
    pub phrases: AspectPhrases,
    /// How event names are rendered.
    pub event_naming: EventNaming,
    /// How an empty attribute name (a real 5dir netflow column) is shown.
    pub unnamed: String,
}

impl Template {
    /// The paper's template.
    pub fn paper() -> Template {
        Template {
            name: "paper".into(),
            opening_with_id: "Process {id} has ".into(),
            opening: "The process has ".into(),
            with_id: false,
            separator: " and ".into(),
            closing: ".".into(),
            empty: "no recorded activity".into(),
            phrases: AspectPhrases {
                event: "event {}".into(),
                exec: "executed {}".into(),
                parent: "been spawned by {}".into(),
                netflow: "network activity {}".into(),
            },
            event_naming: EventNaming::Describe,
            unnamed: "an unnamed endpoint".into(),
        }
    }

    /// The compact template of the authors' code.
    pub fn compact() -> Template {
        Template {
            name: "compact".into(),
            opening_with_id: "The process {id} has ".into(),
            opening: "The process has ".into(),
            with_id: false,
            separator: ", ".into(),
            closing: " .".into(),
            empty: "nothing".into(),
            phrases: AspectPhrases {
                event: "performed {}".into(),
                exec: "executed {}".into(),
                parent: "spawned {}".into(),
                netflow: "network activity {}".into(),
            },
            event_naming: EventNaming::Short,
            unnamed: "<unnamed>".into(),
        }
    }

    /// A built-in template by name (`paper` or `compact`).
    pub fn named(name: &str) -> Option<Template> {
        match name {
            "paper" => Some(Template::paper()),
            "compact" => Some(Template::compact()),
            _ => None,
        }
    }

    /// Show (or hide) process ids.
    pub fn with_ids(mut self, on: bool) -> Template {
        self.with_id = on;
        self
    }

    fn phrase(&self, aspect: Aspect, name: &str) -> String {
        let (aspect, name) = split_all_prefix(aspect, name);
        let shown = match aspect {
            Aspect::ProcessEvent => event_name(name, self.event_naming),
            _ if name.trim().is_empty() => self.unnamed.clone(),
            _ => name.trim().to_string(),
        };
        let pattern = match aspect {
            Aspect::ProcessEvent => &self.phrases.event,
            Aspect::ProcessExec => &self.phrases.exec,
            Aspect::ProcessParent => &self.phrases.parent,
            Aspect::ProcessNetflow | Aspect::ProcessAll => &self.phrases.netflow,
        };
        pattern.replacen("{}", &shown, 1)
    }
}

/// A ProcessAll column (`X0_EVENT_READ`) maps back to its base aspect and bare name.
fn split_all_prefix(aspect: Aspect, name: &str) -> (Aspect, &str) {
    if aspect != Aspect::ProcessAll {
        return (aspect, name);
    }
    for base in Aspect::BASE {
        if let Some(rest) = base.all_prefix().and_then(|p| name.strip_prefix(p)) {
            return (base, rest);
        }
    }
    (Aspect::ProcessAll, name)
}

/// English for CDM event types.
const EVENT_DESCRIPTIONS: &[(&str, &str)] = &[
    ("ACCEPT", "accept a network connection"),
    ("ADD_OBJECT_ATTRIBUTE", "add an object attribute"),
    ("BIND", "bind a network socket"),
    ("BLIND", "perform an unobserved action"),
    ("BOOT", "boot the system"),
    ("CHANGE_PRINCIPAL", "change its user identity"),
    ("CHECK_FILE_ATTRIBUTES", "check file attributes"),
    ("CLONE", "clone a process"),
    ("CLOSE", "close a file"),
    ("CONNECT", "connect to a remote host"),
    ("CORRELATION", "correlate events"),
    ("CREATE_OBJECT", "create an object"),
    ("CREATE_THREAD", "create a thread"),
    ("DUP", "duplicate a file descriptor"),
    ("EXECUTE", "execute a program"),
    ("EXIT", "exit"),
    ("FCNTL", "control a file descriptor"),
    ("FLOWS_TO", "pass data to another object"),
    ("FORK", "fork a child process"),
    ("LINK", "link a file"),
    ("LOADLIBRARY", "load a library"),
    ("LOGCLEAR", "clear a log"),
    ("LOGIN", "log in"),
    ("LOGOUT", "log out"),
    ("LSEEK", "seek in a file"),
    ("MMAP", "map memory"),
    ("MODIFY_FILE_ATTRIBUTES", "modify file attributes"),
    ("MODIFY_PROCESS", "modify a process"),
    ("MOUNT", "mount a file system"),
    ("MPROTECT", "change memory protection"),
    ("OPEN", "open a file"),
    ("OTHER", "perform another action"),
    ("READ", "read from a file"),
    ("READ_SOCKET_PARAMS", "read socket parameters"),
    ("RECVFROM", "receive network data"),
    ("RECVMSG", "receive a network message"),
    ("RENAME", "rename a file"),
    ("SENDMSG", "send a network message"),
    ("SENDTO", "send network data"),
    ("SERVICEINSTALL", "install a service"),
    ("SHM", "use shared memory"),
    ("SIGNAL", "send a signal"),
    ("STARTSERVICE", "start a service"),
    ("TRUNCATE", "truncate a file"),
    ("UMOUNT", "unmount a file system"),
    ("UNIT", "start a unit of work"),
    ("UNLINK", "delete a file"),
    ("UPDATE", "update an object"),
    ("WAIT", "wait for a process"),
    ("WRITE", "write to the file"),
    ("WRITE_SOCKET_PARAMS", "write socket parameters"),
];

/// Render a CDM event name: `event_name("EVENT_READ", EventNaming::Short) == "READ"`.
pub fn event_name(name: &str, naming: EventNaming) -> String {
    let trimmed = name.trim();
    let bare = trimmed.strip_prefix("EVENT_").unwrap_or(trimmed);
    match naming {
        EventNaming::Raw => trimmed.to_string(),
        EventNaming::Short => bare.to_string(),
        EventNaming::Describe => EVENT_DESCRIPTIONS
            .iter()
            .find(|(k, _)| *k == bare)
            .map(|(_, v)| (*v).to_string())
            .unwrap_or_else(|| bare.to_ascii_lowercase().replace('_', " ")),
    }
}

/// A template bound to a context: attribute phrases are rendered once, sentences are then
/// cheap joins. Attribute order in a sentence is column order, so it is stable.
#[derive(Debug, Clone)]
pub struct Textualizer {
    template: Template,
    phrases: Vec<String>,
}

impl Textualizer {
    /// Bind `template` to the columns of `context`.
    pub fn new(template: Template, context: &Context) -> Textualizer {
        let phrases = context
            .attributes
            .iter()
            .map(|a| template.phrase(context.aspect, a))
            .collect();
        Textualizer { template, phrases }
    }

    /// The template in use.
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// The sentence of a record (its id shown if the template says so).
    pub fn sentence(&self, record: &ProcessRecord) -> String {
        self.sentence_of(&record.attributes, Some(&record.id))
    }

    /// The sentence of an attribute set (indices into the bound context's columns).
    pub fn sentence_of(&self, attributes: &[u32], id: Option<&str>) -> String {
        let t = &self.template;
        let mut s = match id {
            Some(id) if t.with_id => t.opening_with_id.replace("{id}", id),
            _ => t.opening.clone(),
        };
        if attributes.is_empty() {
            s.push_str(&t.empty);
        }
        for (i, &a) in attributes.iter().enumerate() {
            if i > 0 {
                s.push_str(&t.separator);
            }
            s.push_str(&self.phrases[a as usize]);
        }
        s.push_str(&t.closing);
        s
    }

    /// The phrase of one attribute column.
    pub fn phrase(&self, attribute: u32) -> &str {
        &self.phrases[attribute as usize]
    }
}

/// Sentence lengths in tokens against an encoder's limit, so truncation is visible.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LengthReport {
    pub sentences: usize,
    pub limit: usize,
    pub mean: f64,
    pub median: usize,
    pub p95: usize,
    pub max: usize,
    /// Sentences longer than `limit`.
    pub over_limit: usize,
    /// Tokens beyond the limit, summed over sentences.
    pub tokens_cut: usize,
}

impl LengthReport {
    /// Measure sentences with any token counter (e.g. a tokenizer's encode length).
    ///
    /// ```
    /// use apt_llm_textualize::LengthReport;
    /// let r = LengthReport::measure(["a b c", "a b c d e f"], |s| s.split(' ').count(), 4);
    /// assert_eq!((r.max, r.over_limit, r.tokens_cut), (6, 1, 2));
    /// ```
    pub fn measure<'a, I, F>(sentences: I, mut count: F, limit: usize) -> LengthReport
    where
        I: IntoIterator<Item = &'a str>,
        F: FnMut(&str) -> usize,
    {
        let mut lens: Vec<usize> = sentences.into_iter().map(&mut count).collect();
        lens.sort_unstable();
        let n = lens.len();
        let at = |q: f64| -> usize {
            if n == 0 {
                0
            } else {
                lens[((n - 1) as f64 * q).round() as usize]
            }
        };
        LengthReport {
            sentences: n,
            limit,
            mean: if n == 0 {
                0.0
            } else {
                lens.iter().sum::<usize>() as f64 / n as f64
            },
            median: at(0.5),
            p95: at(0.95),
            max: lens.last().copied().unwrap_or(0),
            over_limit: lens.iter().filter(|&&l| l > limit).count(),
            tokens_cut: lens.iter().map(|&l| l.saturating_sub(limit)).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(aspect: Aspect, names: &[&str]) -> Context {
        Context {
            aspect,
            attributes: names.iter().map(|s| s.to_string()).collect(),
            records: vec![ProcessRecord {
                id: "p1".into(),
                attributes: (0..names.len() as u32).collect(),
            }],
            source: None,
        }
    }

    #[test]
    fn compact_matches_the_authors_example_for_process_all() {
        let c = ctx(
            Aspect::ProcessAll,
            &["X0_EVENT_READ", "X1_cmd.exe", "X3_128.55.12.167", "X2_sshd"],
        );
        let t = Textualizer::new(Template::compact(), &c);
        assert_eq!(
            t.sentence(&c.records[0]),
            "The process has performed READ, executed cmd.exe, network activity 128.55.12.167, spawned sshd ."
        );
    }

    #[test]
    fn empty_names_and_empty_records_read_well() {
        let mut c = ctx(Aspect::ProcessNetflow, &["", "10.0.0.1"]);
        let t = Textualizer::new(Template::paper(), &c);
        assert_eq!(
            t.sentence(&c.records[0]),
            "The process has network activity an unnamed endpoint and network activity 10.0.0.1."
        );
        c.records[0].attributes.clear();
        assert_eq!(
            t.sentence(&c.records[0]),
            "The process has no recorded activity."
        );
    }

    #[test]
    fn unknown_events_are_humanised() {
        assert_eq!(
            event_name("EVENT_FOO_BAR", EventNaming::Describe),
            "foo bar"
        );
        assert_eq!(
            event_name("EVENT_SENDTO", EventNaming::Describe),
            "send network data"
        );
        assert_eq!(event_name("EVENT_SENDTO", EventNaming::Raw), "EVENT_SENDTO");
    }

    #[test]
    fn user_templates_are_values() {
        let mut t = Template::paper();
        t.phrases.exec = "ran {}".into();
        t.separator = "; ".into();
        let c = ctx(Aspect::ProcessExec, &["ls", "cat"]);
        let tx = Textualizer::new(t, &c);
        assert_eq!(
            tx.sentence(&c.records[0]),
            "The process has ran ls; ran cat."
        );
    }
}
