//! Leave-one-attribute-out explanations.

use crate::error::Result;
use apt_llm_detect::Detector;
use apt_llm_embed::SentenceEncoder;
use apt_llm_textualize::Textualizer;

/// For a process with `attributes`, re-score its sentence without each attribute in turn
/// (at most `max_attributes` of them) and return each attribute's phrase with the drop in
/// score its removal causes, largest first: the words that make the process look
/// anomalous.
pub fn leave_one_out(
    text: &Textualizer,
    attributes: &[u32],
    encoder: &dyn SentenceEncoder,
    detector: &dyn Detector,
    max_attributes: usize,
) -> Result<Vec<(String, f32)>> {
    let considered = &attributes[..attributes.len().min(max_attributes)];
    let mut sentences = vec![text.sentence_of(attributes, None)];
    for (i, _) in considered.iter().enumerate() {
        let rest: Vec<u32> = attributes
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, &a)| a)
            .collect();
        sentences.push(text.sentence_of(&rest, None));
    }
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let x = encoder.encode(&refs)?;
    let s = detector.score(x.view())?;
    let mut out: Vec<(String, f32)> = considered
        .iter()
        .enumerate()
        .map(|(i, &a)| (text.phrase(a).to_string(), s[0] - s[i + 1]))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(out)
}
