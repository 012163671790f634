//! Line numbers that are right whatever the line endings (LF, CRLF or CR only).
//!
//! The csv crate splits records on LF, CRLF and CR alike, but counts lines by LF only, so
//! every record of a CR-only file (the real Android ground truth is one) would be reported
//! at line 1. [`LineCounted`] watches the bytes as the csv reader pulls them and records
//! where each line break is; [`LineBreaks::line_at`] maps a record's byte offset to its
//! 1-based line.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;
use std::rc::Rc;

/// Byte offsets of the line breaks seen so far (a CRLF pair is one break, at its CR).
///
/// Queries come in increasing order (record after record), so breaks before the last
/// query are only counted, not kept: memory stays bounded by the reader's read-ahead.
#[derive(Debug, Default)]
pub(crate) struct LineBreaks {
    /// Breaks at or after the last queried offset.
    pending: VecDeque<u64>,
    /// Breaks before the last queried offset.
    passed: u64,
    /// Bytes seen so far.
    seen: u64,
    /// The last byte seen was a CR (a following LF belongs to the same break).
    after_cr: bool,
}

impl LineBreaks {
    fn observe(&mut self, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            let at = self.seen + i as u64;
            match b {
                b'\r' => self.pending.push_back(at),
                b'\n' if !self.after_cr => self.pending.push_back(at),
                _ => {}
            }
            self.after_cr = b == b'\r';
        }
        self.seen += bytes.len() as u64;
    }

    /// The 1-based line holding byte `offset` (offsets must not decrease between calls;
    /// an earlier one gets the line of the latest).
    pub(crate) fn line_at(&mut self, offset: u64) -> u64 {
        while self.pending.front().is_some_and(|&b| b < offset) {
            self.pending.pop_front();
            self.passed += 1;
        }
        1 + self.passed
    }
}

/// A reader that records the line breaks of what passes through it.
pub(crate) struct LineCounted<R> {
    inner: R,
    breaks: Rc<RefCell<LineBreaks>>,
}

impl<R: Read> LineCounted<R> {
    /// Wrap `inner`; the returned handle reads the breaks seen so far.
    pub(crate) fn new(inner: R) -> (Self, Rc<RefCell<LineBreaks>>) {
        let breaks = Rc::new(RefCell::new(LineBreaks::default()));
        (
            LineCounted {
                inner,
                breaks: Rc::clone(&breaks),
            },
            breaks,
        )
    }
}

impl<R: Read> Read for LineCounted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.breaks.borrow_mut().observe(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_for_every_ending() {
        for nl in ["\n", "\r\n", "\r"] {
            let text = ["a", "bb", "", "c"].join(nl);
            let mut lb = LineBreaks::default();
            // Split so a CRLF pair straddles two reads.
            let (x, y) = text.as_bytes().split_at(3);
            lb.observe(x);
            lb.observe(y);
            let c = text.rfind('c').unwrap() as u64;
            assert_eq!(lb.line_at(0), 1, "{nl:?}");
            assert_eq!(lb.line_at(c), 4, "{nl:?}");
        }
    }
}
