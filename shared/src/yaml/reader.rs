//! The YAML reader: text to [`Value`], one pass, no event list in between.
//!
//! It reads the YAML that configuration files are written in, as libyaml (through serde_norway, which the project
//! used before) reads it: block mappings and lists (a list may sit at its key's column), plain scalars over several
//! lines, single- and double-quoted scalars with escapes, literal and folded block scalars with their chomping and
//! indentation indicators, flow collections over several lines, comments, anchors and aliases, merge keys, tags
//! (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null` as YAML defines them; other tags are dropped, the value kept),
//! several documents, `%YAML` directives. Scalars resolve by YAML 1.2's core schema as serde_norway resolves them:
//! `null`/`Null`/`NULL`/`~`/nothing, `true`/`True`/`TRUE` and the same for false (`yes` and `on` are text),
//! integers in decimal, `0x`, `0o` and `0b` (a leading zero makes digits text: `007`), floats (`1.5`, `.5`, `1e3`,
//! `.inf`, `.nan`; a float that does not fit is text). `fuzz/harness.rs` checks it against serde_norway.
//!
//! Everything it builds is paid for from the [`Budget`] and it goes no deeper than the depth limit, so neither
//! nesting nor aliases can make it use more than the bounds of [`super`]. An error names its line and column.

use std::collections::BTreeMap;

use super::{Budget, Failure, NODE_COST, Value};

/// How far an implicit key (`key: value`, no `? `) may reach from its start to its `:`, in bytes, as in libyaml
/// (YAML limits it to 1024 characters).
const MAX_KEY_BYTES: usize = 1024;

const KEY_TOO_LONG: &str = "a mapping key must be on one line with its `:` and at most 1024 bytes long (write a longer one as `? key`)";

const NOT_A_KEY: &str = "a mapping key must be a string, number or boolean, not a list or mapping";

/// Why a text is not YAML the reader accepts, and where.
#[derive(Debug)]
pub(super) struct Error {
    pub line: u64,
    pub column: u64,
    pub message: String,
    pub failure: Option<Failure>,
}

type Result<T> = std::result::Result<T, Error>;

/// Reads the documents of a text, at most `most`; whether more follow (a `---` after them).
pub(super) fn documents(text: &str, budget: &Budget, most: usize) -> Result<(Vec<Value>, bool)> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        line: 1,
        line_start: 0,
        budget,
        anchors: BTreeMap::new(),
        pending: Vec::new(),
        scanned_to: 0,
    };
    if let Some(at) = text.find(|c| !printable(c)) {
        // Placed on the line and column an editor shows.
        while reader.pos < at {
            if !reader.line_break() {
                reader.pos += 1;
            }
        }
        let c = u32::from(reader.char().unwrap_or_default());
        return reader.error(format!(
            "the control character U+{c:04X} is not allowed in YAML (is it a binary file?)"
        ));
    }
    reader.stream(most)
}

/// The characters YAML allows in a file (YAML 1.2, 5.1).
fn printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        || c >= '\u{10000}'
}

/// A position to come back to.
#[derive(Clone, Copy)]
struct Mark {
    pos: usize,
    line: u64,
    line_start: usize,
}

/// Where a tab may separate tokens (see [`Reader::skip_to_content`]).
#[derive(Clone, Copy, PartialEq)]
enum Tabs {
    /// In a flow collection.
    Anywhere,
    /// Up to the line break: after a value, `:` or `---`.
    BeforeLineBreak,
    /// After `- `, `? ` or a line break.
    Nowhere,
}

/// A node's tag, as far as it changes the value.
#[derive(Clone, Copy, PartialEq)]
enum Tag {
    /// No tag, or one that only names the node (`!secret`, `!`): the value reads as if untagged.
    None,
    /// `!!str`, `!!binary` and the like: a scalar is text.
    Text,
    Bool,
    Int,
    Float,
    Null,
}

#[derive(Default)]
struct Properties {
    anchor: Option<String>,
    tag: Option<Tag>,
}

impl Properties {
    fn given(&self) -> bool {
        self.anchor.is_some() || self.tag.is_some()
    }
}

/// The start of a node in a place where it may turn out to be a mapping's key: a scalar not yet resolved (its
/// tag may come from elsewhere), or a flow collection or alias already read.
enum Head {
    Scalar { text: String, plain: bool },
    Node(Value),
}

struct Reader<'t, 'b> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
    line: u64,
    line_start: usize,
    budget: &'b Budget,
    /// Anchored nodes, by name; an anchor written later replaces one of the same name written earlier.
    anchors: BTreeMap<String, Value>,
    /// Anchors whose node is still being read: an alias to one would repeat forever.
    pending: Vec<String>,
    /// How far the last plain scalar read the blanks and line breaks after it: libyaml's scanner takes them as
    /// part of the scalar, so a tab among them is allowed where the scalar's own rule allows it.
    scanned_to: usize,
}

impl Reader<'_, '_> {
    // -- Positions and characters ------------------------------------------------------------------------------

    fn byte(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn is(&self, byte: u8) -> bool {
        self.byte(0) == Some(byte)
    }

    /// End of text, a blank or a line break `ahead` bytes on.
    fn blankz(&self, ahead: usize) -> bool {
        matches!(self.byte(ahead), None | Some(b' ' | b'\t' | b'\n' | b'\r'))
    }

    fn at_break(&self) -> bool {
        matches!(self.byte(0), None | Some(b'\n' | b'\r'))
    }

    fn column(&self) -> usize {
        self.pos - self.line_start
    }

    fn mark(&self) -> Mark {
        Mark {
            pos: self.pos,
            line: self.line,
            line_start: self.line_start,
        }
    }

    fn reset(&mut self, mark: Mark) {
        self.pos = mark.pos;
        self.line = mark.line;
        self.line_start = mark.line_start;
    }

    /// The character here (the text is UTF-8 and `pos` always on a character's start).
    fn char(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn advance_char(&mut self) -> Option<char> {
        let c = self.char()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Consumes one line break, if there is one here.
    fn line_break(&mut self) -> bool {
        match self.byte(0) {
            Some(b'\r') => self.pos += if self.byte(1) == Some(b'\n') { 2 } else { 1 },
            Some(b'\n') => self.pos += 1,
            _ => return false,
        }
        self.line += 1;
        self.line_start = self.pos;
        true
    }

    fn skip_blanks(&mut self) {
        while matches!(self.byte(0), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// Skips blanks and a comment, up to the line break. Between tokens `#` always starts a comment (`"x"#c`), as
    /// libyaml reads it; inside a plain scalar only after a blank (`a#b` is text).
    fn skip_comment(&mut self) {
        self.skip_blanks();
        if self.is(b'#') {
            while !self.at_break() {
                self.pos += 1;
            }
        }
    }

    /// Skips blanks, comments and line breaks up to the next content. In block context a tab may separate only
    /// on the line of a value, `:` or `---`, as libyaml reads YAML: not in the indentation, not after `- ` or `? `.
    fn skip_to_content(&mut self, tabs: Tabs) -> Result<()> {
        let mut same_line = tabs == Tabs::BeforeLineBreak;
        loop {
            while let Some(b @ (b' ' | b'\t')) = self.byte(0) {
                let allowed = tabs == Tabs::Anywhere
                    || same_line && !self.first_on_line()
                    || self.pos < self.scanned_to;
                if b == b'\t' && !allowed {
                    return self.error(
                        "a tab character where YAML allows only spaces (in the indentation, or after `- ` or `? `)",
                    );
                }
                self.pos += 1;
            }
            self.skip_comment();
            if !self.line_break() {
                return Ok(());
            }
            same_line = false;
        }
    }

    /// Whether only blanks precede the position on its line.
    fn first_on_line(&self) -> bool {
        self.bytes[self.line_start..self.pos]
            .iter()
            .all(|&b| b == b' ' || b == b'\t')
    }

    fn at_document_marker(&self) -> bool {
        self.column() == 0
            && (self.text[self.pos..].starts_with("---")
                || self.text[self.pos..].starts_with("..."))
            && self.blankz(3)
    }

    /// The end of the text, a document marker, or a directive (`%` at a line's start), which libyaml takes as the
    /// end of the document before it.
    fn at_end_of_block(&self) -> bool {
        self.pos >= self.bytes.len()
            || self.at_document_marker()
            || self.column() == 0 && self.is(b'%')
    }

    // -- Errors and the budget ---------------------------------------------------------------------------------

    fn error_at<T>(&self, mark: Mark, message: impl Into<String>) -> Result<T> {
        let column = self.text[mark.line_start..mark.pos].chars().count() as u64 + 1;
        Err(Error {
            line: mark.line,
            column,
            message: message.into(),
            failure: None,
        })
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T> {
        self.error_at(self.mark(), message)
    }

    fn fail_at<T>(&self, mark: Mark, failure: Failure, message: String) -> Result<T> {
        self.error_at(mark, message).map_err(|error| Error {
            failure: Some(failure),
            ..error
        })
    }

    fn charge(&self, cost: u64) -> Result<()> {
        if self.budget.charge(cost) {
            return Ok(());
        }
        self.fail_at(
            self.mark(),
            Failure::TooLarge,
            "the document expands (through aliases) to far more than its own size".to_string(),
        )
    }

    /// One level deeper, for a collection.
    fn enter(&self, depth: u32) -> Result<u32> {
        self.charge(NODE_COST)?;
        if depth >= self.budget.max_depth {
            return self.fail_at(
                self.mark(),
                Failure::TooDeep,
                format!("nesting deeper than {} levels", self.budget.max_depth),
            );
        }
        Ok(depth + 1)
    }

    // -- Documents ---------------------------------------------------------------------------------------------

    fn stream(&mut self, most: usize) -> Result<(Vec<Value>, bool)> {
        let mut documents = Vec::new();
        loop {
            // Anchors do not carry from one document to the next.
            self.anchors.clear();
            self.pending.clear();
            self.skip_to_content(Tabs::Nowhere)?;
            let mut directives = false;
            while self.column() == 0 && self.is(b'%') {
                self.directive(directives)?;
                directives = true;
                self.skip_to_content(Tabs::Nowhere)?;
            }
            if self.pos >= self.bytes.len() {
                if documents.is_empty() {
                    // A stream of nothing but comments is one empty document, as libyaml reads it.
                    documents.push(Value::Null);
                }
                if directives {
                    return self.error("a directive without a document after it (`---`)");
                }
                return Ok((documents, false));
            }
            let explicit = self.at_document_marker() && self.is(b'-');
            if explicit && documents.len() == most {
                return Ok((documents, true));
            }
            if explicit {
                self.pos += 3;
                self.skip_comment();
            } else if self.at_document_marker() {
                if documents.is_empty() {
                    return self.error("a document end (`...`) before any document");
                }
                self.document_end()?;
                continue;
            } else if directives || !documents.is_empty() {
                // Only a stream's first document may start without `---`.
                return self.error("did not find the expected document start (`---`)");
            }
            let value = self.block_node(-1, 0, false, !explicit, false)?;
            self.skip_to_content(Tabs::BeforeLineBreak)?;
            documents.push(value);
            if self.pos >= self.bytes.len() {
                return Ok((documents, false));
            }
            if !self.at_end_of_block() {
                return self.error("did not find the expected end of the document (a second document starts with `---`)");
            }
            if self.is(b'.') {
                self.document_end()?;
            }
        }
    }

    /// `...`: only a comment may follow it on its line.
    fn document_end(&mut self) -> Result<()> {
        self.pos += 3;
        self.skip_comment();
        if !self.at_break() {
            return self.error("did not find the expected line break after `...`");
        }
        Ok(())
    }

    /// `%YAML 1.2` is accepted; `%TAG` is not (no tag handles but `!` and `!!`).
    /// `after_another`: a directive came before it (only `%YAML` can have), so a `%YAML` now is its second.
    fn directive(&mut self, after_another: bool) -> Result<()> {
        let start = self.mark();
        let rest = &self.text[self.pos..];
        let line = &rest[..rest.find(['\n', '\r']).unwrap_or(rest.len())];
        let (name, value) = line.split_once([' ', '\t']).unwrap_or((line, ""));
        // `%YAML 1.2`, then blanks and a comment (`#` may follow the number directly).
        let value = value.trim_start();
        let (version, after) = value.split_at(
            value
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(value.len()),
        );
        let after = after.trim_start();
        match (name, version) {
            ("%YAML", _) if after_another => {
                return self.error_at(start, "a second %YAML directive for the same document");
            }
            ("%YAML", version)
                if matches!(yaml_version(version), Some((1, 1 | 2)))
                    && (after.is_empty() || after.starts_with('#')) => {}
            ("%YAML", _) => {
                return self.error_at(
                    start,
                    format!("YAML version `{}` is not 1.1 or 1.2", value.trim_end()),
                );
            }
            ("%TAG", _) => return self.error_at(start, "%TAG directives are not supported"),
            (name, _) => return self.error_at(start, format!("unknown directive `{name}`")),
        }
        self.pos += line.len();
        Ok(())
    }

    // -- Block context -----------------------------------------------------------------------------------------

    /// The node after an indicator (`key:`, `- `, `---`) or at a document's start. `indent` is the column of the
    /// enclosing block collection (-1 at the root): the node is empty unless it goes on further in. A list at the
    /// same column is the node when `compact_list` (a mapping's value); a block collection may start on the
    /// indicator's line only when `inline` (after `- `). A `key` (after `? `) that is a collection is refused where it
    /// starts, as serde_norway refuses it, before anything inside it is read.
    fn block_node(
        &mut self,
        indent: isize,
        depth: u32,
        compact_list: bool,
        inline: bool,
        key: bool,
    ) -> Result<Value> {
        self.skip_to_content(if inline {
            Tabs::Nowhere
        } else {
            Tabs::BeforeLineBreak
        })?;
        if self.empty_node_here(indent, compact_list) {
            return self.scalar(String::new(), true, None);
        }
        // Properties alone on their line belong to the node on the next lines (`key: &defaults` then a mapping).
        let mut node_props = Properties::default();
        while matches!(self.byte(0), Some(b'&' | b'!')) {
            let start = self.mark();
            let pending = self.pending.len();
            let props = self.properties(false)?;
            self.skip_comment();
            if !self.at_break() {
                // Read again below, with what follows them.
                self.pending.truncate(pending);
                self.reset(start);
                break;
            }
            node_props = self.one_set(node_props, props)?;
            self.skip_to_content(Tabs::Nowhere)?;
            if self.empty_node_here(indent, compact_list) {
                let value = self.scalar(String::new(), true, node_props.tag)?;
                return self.anchor(node_props.anchor, value);
            }
        }
        let block_ok = self.first_on_line() || inline;
        let start = self.mark();
        let column = self.column();
        let line_props = self.properties(false)?;
        let collection = self.is(b'-') && self.blankz(1) || self.is(b'?') && self.blankz(1);
        if key && (collection || matches!(self.byte(0), Some(b'[' | b'{'))) {
            return self.error(NOT_A_KEY);
        }
        if collection {
            if !block_ok || line_props.given() {
                return self.error(
                    "a block collection cannot start here (a list or `?` key on its key's line, or after an anchor or tag on the same line)",
                );
            }
            let value = if self.is(b'-') {
                self.block_list(column, depth)?
            } else {
                self.block_mapping(column, depth, None)?
            };
            return self.anchor(node_props.anchor, value);
        }
        if matches!(self.byte(0), Some(b'|' | b'>')) {
            let props = self.one_set(node_props, line_props)?;
            let text = self.block_scalar(indent)?;
            let value = self.scalar(text, false, props.tag)?;
            return self.anchor(props.anchor, value);
        }
        // A scalar, alias or flow collection, which may be a mapping's first key. Properties on both lines clash
        // unless it is a key; a flow collection cannot be one, so they are refused before it is read.
        if matches!(self.byte(0), Some(b'[' | b'{')) {
            self.clash(&node_props, &line_props)?;
        }
        let head = self.head(indent, depth, &line_props)?;
        self.skip_blanks();
        if self.is(b':') && self.blankz(1) {
            if !block_ok {
                return self.error("a mapping value is not allowed here (a `: ` inside a value that should be quoted?)");
            }
            if self.line != start.line || self.pos - start.pos > MAX_KEY_BYTES {
                return self.error_at(start, KEY_TOO_LONG);
            }
            if key {
                return self.error_at(start, NOT_A_KEY);
            }
            let key = self.finish(head, line_props)?;
            let key = self.key_text(key, start)?;
            let map = self.block_mapping(column, depth, Some((key, start)))?;
            return self.anchor(node_props.anchor, map);
        }
        self.end_of_line()?;
        let props = self.one_set(node_props, line_props)?;
        self.finish(head, props)
    }

    /// Whether the node about to be read is empty: nothing more, or the next content is not further in.
    fn empty_node_here(&self, indent: isize, compact_list: bool) -> bool {
        if self.at_end_of_block() {
            return true;
        }
        if !self.first_on_line() {
            return false;
        }
        // At the parent's own column only a list (a mapping's value) or, as libyaml reads it, a block scalar.
        let column = self.column() as isize;
        let at_parent =
            compact_list && self.at_list_entry() || matches!(self.byte(0), Some(b'|' | b'>'));
        column < indent || column == indent && !at_parent
    }

    /// The properties of a node given on two lines, or on a line and before the value: each kind once.
    fn one_set(&self, first: Properties, second: Properties) -> Result<Properties> {
        self.clash(&first, &second)?;
        Ok(Properties {
            anchor: first.anchor.or(second.anchor),
            tag: first.tag.or(second.tag),
        })
    }

    fn clash(&self, first: &Properties, second: &Properties) -> Result<()> {
        if first.anchor.is_some() && second.anchor.is_some()
            || first.tag.is_some() && second.tag.is_some()
        {
            return self.error("a node has two anchors or two tags");
        }
        Ok(())
    }

    fn at_list_entry(&self) -> bool {
        self.is(b'-') && self.blankz(1)
    }

    /// Only a comment may follow a value on its line.
    fn end_of_line(&mut self) -> Result<()> {
        self.skip_comment();
        if self.at_break() {
            return Ok(());
        }
        self.error("did not find the expected end of the line after the value (a `:` or `- ` out of place, or text after a quoted value?)")
    }

    /// A block list whose `- ` entries sit at `column`.
    fn block_list(&mut self, column: usize, depth: u32) -> Result<Value> {
        let depth = self.enter(depth)?;
        let mut items = Vec::new();
        loop {
            // At `- `.
            self.pos += 1;
            items.push(self.block_node(column as isize, depth, false, true, false)?);
            self.skip_to_content(Tabs::BeforeLineBreak)?;
            if self.at_end_of_block() || self.column() < column {
                break;
            }
            if !self.first_on_line() {
                return self.error("did not find the expected line break after a list entry");
            }
            if self.column() > column {
                return self.error(format!(
                    "this line is indented more than the list's entries (column {}) but is not part of an entry",
                    column + 1
                ));
            }
            if !self.at_list_entry() {
                // A key at a mapping's column, after a list at the key's column: the mapping's.
                break;
            }
        }
        Ok(Value::List(items))
    }

    /// A block mapping whose keys sit at `column`; `first` is its first key when already read.
    fn block_mapping(
        &mut self,
        column: usize,
        depth: u32,
        first: Option<(String, Mark)>,
    ) -> Result<Value> {
        let depth = self.enter(depth)?;
        let mut map = Entries::default();
        let mut next = first;
        loop {
            let (key, at, explicit) = match next.take() {
                Some((key, at)) => (key, at, false),
                None => self.block_key(column, depth)?,
            };
            // A duplicate is reported before anything wrong in its value, as the file reads.
            map.refuse_duplicate(self, &key, at)?;
            let value = if explicit {
                // After `? key`, an optional `: value` at the mapping's column.
                self.skip_to_content(Tabs::BeforeLineBreak)?;
                if !self.at_end_of_block()
                    && self.column() == column
                    && self.is(b':')
                    && self.blankz(1)
                {
                    self.pos += 1;
                    self.block_node(column as isize, depth, true, true, false)?
                } else {
                    self.scalar(String::new(), true, None)?
                }
            } else {
                // At the `:`.
                self.pos += 1;
                self.block_node(column as isize, depth, true, false, false)?
            };
            map.insert(self, key, at, value)?;
            self.skip_to_content(Tabs::BeforeLineBreak)?;
            if self.at_end_of_block() || self.column() < column {
                break;
            }
            if !self.first_on_line() {
                return self.error("did not find the expected line break after a mapping value");
            }
            if self.column() > column {
                return self.error(format!(
                    "this line is indented more than the mapping's keys (column {}) but is not part of a value",
                    column + 1
                ));
            }
            if self.at_list_entry() {
                return self.error("a list entry (`- `) where a mapping key is expected");
            }
        }
        map.finish(self)
    }

    /// A key of a block mapping: `? key` (explicit) or `key:` (then at the `:`).
    fn block_key(&mut self, column: usize, depth: u32) -> Result<(String, Mark, bool)> {
        let at = self.mark();
        if self.is(b'?') && self.blankz(1) {
            self.pos += 1;
            let key = self.block_node(column as isize, depth, false, true, true)?;
            return Ok((self.key_text(key, at)?, at, true));
        }
        let props = self.properties(false)?;
        let head = self.head(column as isize, depth, &props)?;
        self.skip_blanks();
        if !(self.is(b':') && self.blankz(1)) {
            return self.error_at(at, "did not find the expected `:` after a mapping key");
        }
        if self.line != at.line || self.pos - at.pos > MAX_KEY_BYTES {
            return self.error_at(at, KEY_TOO_LONG);
        }
        let key = self.finish(head, props)?;
        Ok((self.key_text(key, at)?, at, false))
    }

    /// A block scalar (`|` literal, `>` folded), its header at the position; `indent` is its parent's column.
    fn block_scalar(&mut self, indent: isize) -> Result<String> {
        let literal = self.is(b'|');
        self.pos += 1;
        // Chomping: clip (one final line break), strip (`-`) or keep (`+`); an indentation indicator.
        let mut chomp = 0i8;
        let mut increment = 0usize;
        for _ in 0..2 {
            match self.byte(0) {
                Some(b'+') if chomp == 0 => chomp = 1,
                Some(b'-') if chomp == 0 => chomp = -1,
                Some(b'0') if increment == 0 => {
                    return self.error("an indentation indicator of 0 (it must be 1 to 9)");
                }
                Some(digit @ b'1'..=b'9') if increment == 0 => {
                    increment = usize::from(digit - b'0')
                }
                _ => break,
            }
            self.pos += 1;
        }
        // A comment may follow the header directly (`|# note`).
        self.skip_blanks();
        if self.is(b'#') {
            while !self.at_break() {
                self.pos += 1;
            }
        }
        if !self.at_break() {
            return self.error(
                "did not find the expected comment or line break after a block scalar's header",
            );
        }
        self.line_break();
        let parent_indent = indent;
        let mut indent = match usize::try_from(indent) {
            _ if increment == 0 => 0,
            Ok(parent) => parent + increment,
            Err(_) => increment,
        };
        let mut text = String::new();
        let mut trailing = String::new();
        let mut leading = String::new();
        let mut leading_blank = false;
        self.block_scalar_breaks(&mut indent, parent_indent, &mut trailing)?;
        while self.column() == indent && self.pos < self.bytes.len() {
            let trailing_blank = matches!(self.byte(0), Some(b' ' | b'\t'));
            if !literal && leading.starts_with('\n') && !leading_blank && !trailing_blank {
                if trailing.is_empty() {
                    text.push(' ');
                }
                leading.clear();
            } else {
                text.push_str(&leading);
                leading.clear();
            }
            text.push_str(&trailing);
            trailing.clear();
            leading_blank = trailing_blank;
            let start = self.pos;
            while !self.at_break() {
                self.pos += 1;
            }
            text.push_str(&self.text[start..self.pos]);
            if !self.line_break() {
                break;
            }
            leading.push('\n');
            self.block_scalar_breaks(&mut indent, parent_indent, &mut trailing)?;
        }
        if chomp != -1 {
            text.push_str(&leading);
        }
        if chomp == 1 {
            text.push_str(&trailing);
        }
        Ok(text)
    }

    fn block_scalar_breaks(
        &mut self,
        indent: &mut usize,
        parent_indent: isize,
        breaks: &mut String,
    ) -> Result<()> {
        let mut max_indent = 0;
        loop {
            while (*indent == 0 || self.column() < *indent) && self.is(b' ') {
                self.pos += 1;
            }
            max_indent = max_indent.max(self.column());
            if (*indent == 0 || self.column() < *indent) && self.is(b'\t') {
                return self.error(
                    "a tab character where a block scalar's indentation (spaces) is expected",
                );
            }
            if !matches!(self.byte(0), Some(b'\n' | b'\r')) {
                break;
            }
            self.line_break();
            breaks.push('\n');
        }
        if *indent == 0 {
            // The first line with content sets the indentation, at least one column in from the parent.
            *indent = max_indent
                .max(usize::try_from(parent_indent + 1).unwrap_or(0))
                .max(1);
        }
        Ok(())
    }

    // -- Nodes that may be keys: scalars, aliases, flow collections --------------------------------------------

    /// A scalar, alias or flow collection; `indent` is the enclosing block's column (a plain scalar goes on over
    /// the lines indented further).
    fn head(&mut self, indent: isize, depth: u32, props: &Properties) -> Result<Head> {
        // Properties with nothing after them (`!!str : value`, `&a` then another tag): an empty node.
        let empty = self.at_break()
            || matches!(self.byte(0), Some(b'!' | b'&'))
            || self.is(b':') && self.blankz(1);
        if props.given() && empty {
            return Ok(Head::Scalar {
                text: String::new(),
                plain: true,
            });
        }
        Ok(match self.byte(0) {
            Some(b'*') => {
                if props.given() {
                    return self.error("an alias (`*name`) cannot have an anchor or a tag");
                }
                Head::Node(self.alias()?)
            }
            Some(b'[' | b'{') => Head::Node(self.flow_collection(depth, indent)?),
            Some(b'"' | b'\'') => Head::Scalar {
                text: self.quoted()?,
                plain: false,
            },
            _ => Head::Scalar {
                text: self.plain(indent, false)?,
                plain: true,
            },
        })
    }

    /// The value of a head, with its properties.
    fn finish(&mut self, head: Head, props: Properties) -> Result<Value> {
        let value = match head {
            Head::Scalar { text, plain } => self.scalar(text, plain, props.tag)?,
            Head::Node(value) => value,
        };
        self.anchor(props.anchor, value)
    }

    /// Remembers an anchored node.
    fn anchor(&mut self, anchor: Option<String>, value: Value) -> Result<Value> {
        if let Some(name) = anchor {
            if let Some(at) = self.pending.iter().rposition(|pending| *pending == name) {
                self.pending.remove(at);
            }
            self.anchors.entry(name).or_insert_with(|| value.clone());
        }
        Ok(value)
    }

    /// A mapping key's text: a string as it is, a number or boolean as it reads (`0x10:` is the key `16`).
    fn key_text(&self, key: Value, at: Mark) -> Result<String> {
        match key {
            Value::String(text) => Ok(text),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Integer(i) => Ok(i.to_string()),
            Value::Float(f) => Ok(f.to_string()),
            other => self.error_at(
                at,
                format!(
                    "a mapping key must be a string, number or boolean, not a {}",
                    other.type_name()
                ),
            ),
        }
    }

    /// `&anchor` and `!tag`, in either order, with the blanks after them.
    fn properties(&mut self, flow: bool) -> Result<Properties> {
        let mut props = Properties::default();
        loop {
            match self.byte(0) {
                Some(b'&') if props.anchor.is_none() => {
                    self.pos += 1;
                    let name = self.name("an anchor")?;
                    // An anchor is defined from where it is written: this one replaces an earlier one of
                    // the same name now, and is itself replaced by one written inside its node.
                    self.anchors.remove(&name);
                    self.pending.push(name.clone());
                    props.anchor = Some(name);
                }
                Some(b'!') if props.tag.is_none() => props.tag = Some(self.tag(flow)?),
                _ => return Ok(props),
            }
            self.skip_blanks();
        }
    }

    /// An anchor's or alias's name, after its `&` or `*`.
    fn name(&mut self, what: &str) -> Result<String> {
        let start = self.pos;
        while matches!(
            self.byte(0),
            Some(b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'-' | b'_')
        ) {
            self.pos += 1;
        }
        let ends_well = self.blankz(0)
            || matches!(
                self.byte(0),
                Some(b'?' | b':' | b',' | b']' | b'}' | b'%' | b'@' | b'`')
            );
        if start == self.pos || !ends_well {
            return self.error(format!("{what}'s name must be letters, digits, `-` or `_`"));
        }
        Ok(self.text[start..self.pos].to_string())
    }

    /// A tag, at its `!`: what it makes of a scalar. Its characters are a URI's (`%` escapes a UTF-8 byte);
    /// `,`, `[` and `]` only in a verbatim tag (`!<...>`); a blank (or `,` in a flow collection) follows it.
    fn tag(&mut self, flow: bool) -> Result<Tag> {
        let at = self.mark();
        let start = self.pos;
        let verbatim = self.byte(1) == Some(b'<');
        self.pos += if verbatim { 2 } else { 1 };
        loop {
            match self.byte(0) {
                Some(b'%') => self.uri_escape(at)?,
                Some(b) if b.is_ascii_alphanumeric() || b"-_;/?:@&=+$.!~*'()".contains(&b) => {
                    self.pos += 1
                }
                Some(b',' | b'[' | b']') if verbatim => self.pos += 1,
                _ => break,
            }
        }
        let text = if verbatim {
            let text = &self.text[start + 2..self.pos];
            if text.is_empty() || !self.is(b'>') {
                return self.error_at(at, "a verbatim tag (`!<...>`) must be a URI closed by `>`");
            }
            self.pos += 1;
            text
        } else {
            &self.text[start..self.pos]
        };
        if !(self.blankz(0) || flow && self.is(b',')) {
            return self.error_at(at, "a tag must be followed by a blank or a line break");
        }
        let core = text
            .strip_prefix("!!")
            .or_else(|| text.strip_prefix("tag:yaml.org,2002:"));
        Ok(match core {
            Some("") => return self.error_at(at, "a tag `!!` without its name"),
            Some("bool") => Tag::Bool,
            Some("int") => Tag::Int,
            Some("float") => Tag::Float,
            Some("null") => Tag::Null,
            Some(_) => Tag::Text,
            None if named_handle(text) => {
                return self.error_at(
                    at,
                    format!("the tag handle of `{text}` is not defined (%TAG is not supported)"),
                );
            }
            None if text.starts_with('!') => Tag::None,
            None => Tag::Text,
        })
    }

    /// A tag's `%XX` escapes of one UTF-8 character.
    fn uri_escape(&mut self, at: Mark) -> Result<()> {
        let mut width = 0;
        loop {
            let hex = self.text.get(self.pos + 1..self.pos + 3);
            let Some(octet) = hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) else {
                return self.error_at(
                    at,
                    "a `%` in a tag must be followed by two hexadecimal digits",
                );
            };
            self.pos += 3;
            if width == 0 {
                width = match octet.leading_ones() {
                    0 => 1,
                    n @ 2..=4 => n,
                    _ => {
                        return self.error_at(
                            at,
                            "a tag's `%` escape is not the start of a UTF-8 character",
                        );
                    }
                };
            } else if octet & 0xc0 != 0x80 {
                return self.error_at(at, "a tag's `%` escapes are not one UTF-8 character");
            }
            width -= 1;
            if width == 0 {
                return Ok(());
            }
            if !self.is(b'%') {
                return self.error_at(
                    at,
                    "a tag's `%` escapes end in the middle of a UTF-8 character",
                );
            }
        }
    }

    /// `*name`: a copy of the anchored node, paid for again.
    fn alias(&mut self) -> Result<Value> {
        let at = self.mark();
        self.pos += 1;
        let name = self.name("an alias")?;
        if self.pending.contains(&name) {
            return self.fail_at(
                at,
                Failure::TooDeep,
                format!("the alias `*{name}` is inside its own anchor's node, so it would repeat forever"),
            );
        }
        let Some(value) = self.anchors.get(&name) else {
            return self.error_at(
                at,
                format!("unknown anchor `{name}` (an alias must come after its anchor)"),
            );
        };
        self.charge(cost(value))?;
        Ok(value.clone())
    }

    /// A scalar's value: plain text resolves to null, a boolean or a number when it reads as one; a tag decides
    /// otherwise.
    fn scalar(&self, text: String, plain: bool, tag: Option<Tag>) -> Result<Value> {
        self.charge(text.len() as u64 + NODE_COST)?;
        let wrong = |kind: &str| self.error(format!("`{text}` is not {kind}, as its tag says"));
        match tag.unwrap_or(Tag::None) {
            Tag::None if plain => Ok(resolve(text)),
            Tag::None | Tag::Text => Ok(Value::String(text)),
            Tag::Bool => bool_word(&text)
                .map(Value::Bool)
                .map_or_else(|| wrong("a boolean"), Ok),
            Tag::Int => integer(&text).map_or_else(|| wrong("an integer"), Ok),
            Tag::Float => float(&text)
                .map(Value::Float)
                .map_or_else(|| wrong("a float"), Ok),
            Tag::Null if null_word(&text) => Ok(Value::Null),
            Tag::Null => wrong("null"),
        }
    }

    /// A plain (unquoted) scalar; in block context it goes on over the lines indented further than `indent`.
    fn plain(&mut self, indent: isize, flow: bool) -> Result<String> {
        let starts = match self.byte(0) {
            Some(b'-') => !self.blankz(1),
            Some(b'?' | b':') => !self.blankz(1) && !flow,
            Some(
                b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
                | b'"' | b'%' | b'@' | b'`' | b' ' | b'\t' | b'\n' | b'\r',
            )
            | None => false,
            _ => true,
        };
        if !starts {
            return match self.char() {
                Some(c) => self.error(format!(
                    "found `{c}`, which cannot start a value here (quote the value)"
                )),
                None => self.error("found the end of the file where a value is expected"),
            };
        }
        let mut text = String::new();
        let mut whitespace = String::new();
        let mut leading_break = false;
        let mut trailing_breaks = 0;
        let mut end = self.mark();
        loop {
            if self.at_document_marker() || self.is(b'#') {
                break;
            }
            while !self.blankz(0) {
                let colon = self.is(b':');
                if flow
                    && colon
                    && matches!(self.byte(1), Some(b',' | b'?' | b'[' | b']' | b'{' | b'}'))
                {
                    return self
                        .error("found an unexpected `:` in a flow collection (quote the value)");
                }
                if colon && self.blankz(1)
                    || flow && matches!(self.byte(0), Some(b',' | b'[' | b']' | b'{' | b'}'))
                {
                    break;
                }
                if leading_break {
                    fold(&mut text, trailing_breaks);
                    leading_break = false;
                    trailing_breaks = 0;
                } else {
                    text.push_str(&whitespace);
                }
                whitespace.clear();
                let start = self.pos;
                self.advance_char();
                text.push_str(&self.text[start..self.pos]);
                end = self.mark();
            }
            if !matches!(self.byte(0), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                break;
            }
            while let Some(b @ (b' ' | b'\t' | b'\n' | b'\r')) = self.byte(0) {
                if b == b' ' || b == b'\t' {
                    if leading_break && (self.column() as isize) < indent + 1 && b == b'\t' {
                        return self
                            .error("a tab character in the indentation (indent with spaces)");
                    }
                    if !leading_break {
                        whitespace.push(char::from(b));
                    }
                    self.pos += 1;
                } else {
                    self.line_break();
                    if leading_break {
                        trailing_breaks += 1;
                    } else {
                        leading_break = true;
                    }
                }
            }
            if !flow && (self.column() as isize) < indent + 1 {
                break;
            }
        }
        self.scanned_to = self.pos;
        self.reset(end);
        Ok(text)
    }

    /// A single- or double-quoted scalar, at its quote.
    fn quoted(&mut self) -> Result<String> {
        let single = self.is(b'\'');
        let quote = if single { b'\'' } else { b'"' };
        let start = self.mark();
        self.pos += 1;
        let mut text = String::new();
        let mut whitespace = String::new();
        loop {
            if self.at_document_marker() {
                return self.error_at(
                    start,
                    "a quoted value runs into a document marker (`---` or `...`)",
                );
            }
            if self.pos >= self.bytes.len() {
                return self.error_at(
                    start,
                    "a quoted value is not closed before the end of the file",
                );
            }
            // A line break escaped by `\` joins the lines with nothing between them.
            let mut escaped_break = false;
            while !self.blankz(0) {
                match self.byte(0) {
                    Some(b'\'') if single && self.byte(1) == Some(b'\'') => {
                        text.push('\'');
                        self.pos += 2;
                    }
                    Some(b) if b == quote => break,
                    Some(b'\\') if !single && matches!(self.byte(1), Some(b'\n' | b'\r')) => {
                        self.pos += 1;
                        self.line_break();
                        escaped_break = true;
                        break;
                    }
                    Some(b'\\') if !single => self.escape(&mut text)?,
                    _ => {
                        let at = self.pos;
                        self.advance_char();
                        text.push_str(&self.text[at..self.pos]);
                    }
                }
            }
            if self.is(quote) && !escaped_break {
                self.pos += 1;
                return Ok(text);
            }
            let mut leading_break = false;
            let mut trailing_breaks = 0;
            while let Some(b @ (b' ' | b'\t' | b'\n' | b'\r')) = self.byte(0) {
                if b == b' ' || b == b'\t' {
                    if !leading_break && !escaped_break {
                        whitespace.push(char::from(b));
                    }
                    self.pos += 1;
                } else {
                    self.line_break();
                    if leading_break || escaped_break {
                        trailing_breaks += 1;
                    } else {
                        leading_break = true;
                    }
                }
            }
            if leading_break {
                fold(&mut text, trailing_breaks);
            } else if escaped_break {
                text.extend(std::iter::repeat_n('\n', trailing_breaks));
            } else {
                text.push_str(&whitespace);
            }
            whitespace.clear();
        }
    }

    /// A `\` escape of a double-quoted scalar, at the `\`.
    fn escape(&mut self, text: &mut String) -> Result<()> {
        let at = self.mark();
        self.pos += 1;
        let Some(c) = self.advance_char() else {
            return self.error_at(at, "a `\\` at the end of the file");
        };
        let digits = match c {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => {
                let escaped = match c {
                    '0' => '\0',
                    'a' => '\x07',
                    'b' => '\x08',
                    't' | '\t' => '\t',
                    'n' => '\n',
                    'v' => '\x0b',
                    'f' => '\x0c',
                    'r' => '\r',
                    'e' => '\x1b',
                    ' ' | '"' | '/' | '\\' => c,
                    'N' => '\u{85}',
                    '_' => '\u{a0}',
                    'L' => '\u{2028}',
                    'P' => '\u{2029}',
                    _ => {
                        return self.error_at(
                            at,
                            format!("an unknown escape `\\{c}` in a double-quoted value"),
                        );
                    }
                };
                text.push(escaped);
                return Ok(());
            }
        };
        let hex = self
            .text
            .get(self.pos..self.pos + digits)
            .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()));
        let code = hex.and_then(|hex| u32::from_str_radix(hex, 16).ok());
        match code.and_then(char::from_u32) {
            Some(escaped) => {
                text.push(escaped);
                self.pos += digits;
                Ok(())
            }
            None => self.error_at(
                at,
                format!("`\\{c}` needs {digits} hexadecimal digits of a Unicode character"),
            ),
        }
    }

    // -- Flow context ------------------------------------------------------------------------------------------

    /// Blanks, comments and line breaks inside a flow collection.
    fn skip_flow_space(&mut self, start: Mark) -> Result<()> {
        self.skip_to_content(Tabs::Anywhere)?;
        if self.at_document_marker() {
            return self.error_at(
                start,
                "a flow collection (`[` or `{`) is not closed before a document marker",
            );
        }
        Ok(())
    }

    /// `[a, b]` or `{a: 1, b: 2}`, at its bracket; `indent` is the enclosing block's column.
    fn flow_collection(&mut self, depth: u32, indent: isize) -> Result<Value> {
        let start = self.mark();
        let list = self.is(b'[');
        let close = if list { b']' } else { b'}' };
        let depth = self.enter(depth)?;
        self.pos += 1;
        let mut items = Vec::new();
        let mut entries = Entries::default();
        loop {
            self.skip_flow_space(start)?;
            if self.is(close) {
                self.pos += 1;
                break;
            }
            let at = self.mark();
            if self.is(b',') {
                return self.error("an empty entry in a flow collection (two commas?)");
            }
            let explicit = self.is(b'?');
            if explicit {
                self.pos += 1;
                self.skip_flow_space(start)?;
            }
            if (explicit || !list) && matches!(self.byte(0), Some(b'[' | b'{')) {
                // Refused before it is read, as serde_norway does: it may be deep.
                return self.error(
                    "a mapping key must be a string, number or boolean, not a flow collection",
                );
            }
            let first = self.flow_node(depth, indent)?;
            self.skip_flow_space(start)?;
            if self.is(b':')
                && !explicit
                && (self.line != at.line || self.pos - at.pos > MAX_KEY_BYTES)
            {
                return self.error_at(at, KEY_TOO_LONG);
            }
            if list && !explicit && !self.is(b':') {
                items.push(first);
            } else {
                let key = self.key_text(first, at)?;
                // `[a: 1]`: a list entry that is a mapping of one pair, one level deeper.
                let value_depth = if list {
                    self.enter(depth)?
                } else {
                    entries.refuse_duplicate(self, &key, at)?;
                    depth
                };
                let value = if self.is(b':') {
                    self.pos += 1;
                    self.skip_flow_space(start)?;
                    let value = self.flow_node(value_depth, indent)?;
                    self.skip_flow_space(start)?;
                    value
                } else {
                    Value::Null
                };
                if list {
                    let mut pair = Entries::default();
                    pair.insert(self, key, at, value)?;
                    items.push(pair.finish(self)?);
                } else {
                    entries.insert(self, key, at, value)?;
                }
            }
            match self.byte(0) {
                Some(b',') => self.pos += 1,
                Some(b) if b == close => {
                    self.pos += 1;
                    break;
                }
                None => {
                    return self.error_at(
                        start,
                        "a flow collection (`[` or `{`) is not closed before the end of the file",
                    );
                }
                _ => {
                    return self.error(format!(
                        "did not find the expected `,` or `{}`",
                        char::from(close)
                    ));
                }
            }
        }
        if list {
            Ok(Value::List(items))
        } else {
            entries.finish(self)
        }
    }

    /// A node inside a flow collection; empty before `,`, `:` or a closing bracket. `indent` is the enclosing
    /// block's column: a plain scalar's continuation lines may not be indented with tabs up to it.
    fn flow_node(&mut self, depth: u32, indent: isize) -> Result<Value> {
        let props = self.properties(true)?;
        if props.given() {
            self.skip_flow_space(self.mark())?;
        }
        if matches!(self.byte(0), Some(b',' | b':' | b']' | b'}')) {
            let value = self.scalar(String::new(), true, props.tag)?;
            return self.anchor(props.anchor, value);
        }
        let head = match self.byte(0) {
            Some(b'*' | b'[' | b'{' | b'"' | b'\'') => self.head(indent, depth, &props)?,
            _ => Head::Scalar {
                text: self.plain(indent, true)?,
                plain: true,
            },
        };
        self.finish(head, props)
    }
}

/// A mapping as it is read: duplicates refused, merge keys (`<<`) kept for the end.
#[derive(Default)]
struct Entries {
    map: BTreeMap<String, Value>,
    merged: Vec<(Value, Mark)>,
}

impl Entries {
    /// Refuses a key the mapping already has (`<<` may come several times).
    fn refuse_duplicate(&self, reader: &Reader, key: &str, at: Mark) -> Result<()> {
        if key != "<<" && self.map.contains_key(key) {
            return reader.fail_at(at, Failure::DuplicateKey, format!("duplicate key `{key}`"));
        }
        Ok(())
    }

    fn insert(&mut self, reader: &Reader, key: String, at: Mark, value: Value) -> Result<()> {
        self.refuse_duplicate(reader, &key, at)?;
        if key == "<<" {
            self.merged.push((value, at));
        } else {
            self.map.insert(key, value);
        }
        Ok(())
    }

    /// The mapping, with what `<<: *base` or `<<: [*a, *b]` brings: explicit keys win, then earlier merges.
    fn finish(self, reader: &Reader) -> Result<Value> {
        let mut map = self.map;
        for (value, at) in self.merged {
            let sources = match value {
                Value::List(items) => items,
                other => vec![other],
            };
            for source in sources {
                let Value::Map(source) = source else {
                    return reader.error_at(
                        at,
                        format!("`<<` merges mappings, not a {}", source.type_name()),
                    );
                };
                for (key, value) in source {
                    map.entry(key).or_insert(value);
                }
            }
        }
        Ok(Value::Map(map))
    }
}

/// A `%YAML` directive's `major.minor`, read as numbers (`1.02` is 1.2, as libyaml reads it).
fn yaml_version(version: &str) -> Option<(u32, u32)> {
    let (major, minor) = version.split_once('.')?;
    let number = |digits: &str| {
        (!digits.is_empty() && digits.len() <= 9 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten()
    };
    Some((number(major)?, number(minor)?))
}

/// Whether a tag starts with a named handle (`!name!suffix`), which only `%TAG` could define.
fn named_handle(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix('!') else {
        return false;
    };
    let word = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        .count();
    word > 0 && rest[word..].starts_with('!')
}

/// Folded line breaks: one becomes a space, each further one a line break.
fn fold(text: &mut String, trailing_breaks: usize) {
    if trailing_breaks == 0 {
        text.push(' ');
    } else {
        text.extend(std::iter::repeat_n('\n', trailing_breaks));
    }
}

/// What building a copy of `value` costs, as the reader charges it.
fn cost(value: &Value) -> u64 {
    NODE_COST
        + match value {
            Value::String(text) => text.len() as u64,
            Value::List(items) => items.iter().map(cost).sum(),
            Value::Map(map) => map
                .iter()
                .map(|(key, value)| key.len() as u64 + NODE_COST + cost(value))
                .sum(),
            _ => 0,
        }
}

/// An untagged plain scalar's value (YAML 1.2's core schema, as serde_norway reads it).
fn resolve(text: String) -> Value {
    if text.is_empty() || null_word(&text) {
        return Value::Null;
    }
    if let Some(b) = bool_word(&text) {
        return Value::Bool(b);
    }
    if let Some(number) = integer(&text) {
        return number;
    }
    if !digits_but_not_number(&text)
        && let Some(f) = float(&text)
    {
        return Value::Float(f);
    }
    Value::String(text)
}

fn null_word(text: &str) -> bool {
    matches!(text, "null" | "Null" | "NULL" | "~")
}

fn bool_word(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Leading zeros before more digits make text (YAML 1.2): `007`, `-01`.
fn digits_but_not_number(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    digits.len() > 1 && digits.starts_with('0') && digits[1..].bytes().all(|b| b.is_ascii_digit())
}

fn radix_prefix(text: &str) -> Option<(u32, &str)> {
    [("0x", 16), ("0o", 8), ("0b", 2)]
        .into_iter()
        .find_map(|(prefix, radix)| text.strip_prefix(prefix).map(|digits| (radix, digits)))
}

/// A whole number: decimal, `0x`, `0o` or `0b`, with a sign; one beyond `i64` is a float.
fn integer(text: &str) -> Option<Value> {
    if let Some(n) = unsigned(text) {
        return Some(i64::try_from(n).map_or(Value::Float(n as f64), Value::Integer));
    }
    let magnitude = text.strip_prefix('-')?;
    let negate = |digits: &str, radix| {
        let n = u64::from_str_radix(digits, radix)
            .ok()
            .filter(|_| !digits.starts_with('+'))?;
        0i64.checked_sub_unsigned(n)
    };
    if let Some(n) = radix_prefix(magnitude).and_then(|(radix, digits)| negate(digits, radix)) {
        return Some(Value::Integer(n));
    }
    if digits_but_not_number(text) {
        return None;
    }
    negate(magnitude, 10).map(Value::Integer)
}

fn unsigned(text: &str) -> Option<u64> {
    let unsigned = text.strip_prefix('+').unwrap_or(text);
    if let Some((radix, digits)) = radix_prefix(unsigned) {
        if digits.starts_with(['+', '-']) {
            return None;
        }
        if let Ok(n) = u64::from_str_radix(digits, radix) {
            return Some(n);
        }
    }
    if unsigned.starts_with(['+', '-']) || digits_but_not_number(text) {
        return None;
    }
    unsigned.parse().ok()
}

/// A finite float: `[+|-]digits[.digits][e[+|-]digits]` (digits on at least one side of the point), `.inf`,
/// `-.inf`, `.nan`.
fn float(text: &str) -> Option<f64> {
    let unsigned = match text.strip_prefix('+') {
        Some(rest) if rest.starts_with(['+', '-']) => return None,
        Some(rest) => rest,
        None => text,
    };
    match (unsigned, text) {
        (".inf" | ".Inf" | ".INF", _) => return Some(f64::INFINITY),
        (_, "-.inf" | "-.Inf" | "-.INF") => return Some(f64::NEG_INFINITY),
        (_, ".nan" | ".NaN" | ".NAN") => return Some(f64::NAN),
        _ => {}
    }
    let (negative, body) = match unsigned.strip_prefix('-') {
        Some(body) => (true, body),
        None => (false, unsigned),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    let exponent_digits = exponent.map(|e| e.strip_prefix(['+', '-']).unwrap_or(e));
    if exponent_digits.is_some_and(|e| e.is_empty() || !digits(e)) {
        return None;
    }
    // Written in JSON's syntax for serde_json's reader, which the console has anyway (core's own reader would
    // bring its 20 KB of tables into the wasm).
    let whole = whole.trim_start_matches('0');
    let mut json = String::with_capacity(body.len() + 3);
    if negative {
        json.push('-');
    }
    json.push_str(if whole.is_empty() { "0" } else { whole });
    if !fraction.is_empty() {
        json.push('.');
        json.push_str(fraction);
    }
    if let Some(exponent) = exponent {
        json.push('e');
        json.push_str(exponent);
    }
    let value: f64 = serde_json::from_str(&json).ok()?;
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    /// The documents of `text` as JSON text, or the error's line and message.
    fn read(text: &str) -> std::result::Result<String, (u64, String)> {
        let budget = Budget::new(text.len(), &Limits::default());
        documents(text, &budget, usize::MAX)
            .map(|(docs, _)| {
                let docs: Vec<_> = docs.iter().map(Value::to_json).collect();
                serde_json::Value::Array(docs).to_string()
            })
            .map_err(|error| (error.line, error.message))
    }

    #[test]
    fn reads_what_values_files_are_written_in() {
        let cases = [
            (
                "a: 1\nb:\n  c: [x, 'y', \"z\"]\n",
                r#"[{"a":1,"b":{"c":["x","y","z"]}}]"#,
            ),
            (
                "list:\n- a\n- b: 1\n  c: 2\nnext: ~\n",
                r#"[{"list":["a",{"b":1,"c":2}],"next":null}]"#,
            ),
            ("- - a\n  - b\n- c\n", r#"[[["a","b"],"c"]]"#),
            (
                "text: one\n  two\n\n  three\n",
                r#"[{"text":"one two\nthree"}]"#,
            ),
            (
                "a: |\n  line\n   more\nb: >-\n  one\n  two\n\n  three\n",
                r#"[{"a":"line\n more\n","b":"one two\nthree"}]"#,
            ),
            (
                "a: |+\n  keep\n\nb: |2\n    lead\n",
                r#"[{"a":"keep\n\n","b":"  lead\n"}]"#,
            ),
            (
                "a: \"t\\tx\\u00e9\\x41\\\n  y\"\nb: 'it''s\n  folded'\n",
                r#"[{"a":"t\txéAy","b":"it's folded"}]"#,
            ),
            (
                "n: [0x1F, 0o17, -0b101, +5, 007, 1.5, .5, 1e3, -.inf, 1e400, yes, True]\n",
                r#"[{"n":[31,15,-5,5,"007",1.5,0.5,1000.0,null,"1e400","yes",true]}]"#,
            ),
            (
                "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n",
                r#"[{"base":{"x":1,"y":2},"use":{"x":1,"y":3}}]"#,
            ),
            (
                "a: !!str 5\nb: !secret x\nc: !!int \"7\"\n",
                r#"[{"a":"5","b":"x","c":7}]"#,
            ),
            (
                "1: a\n0x10: b\ntrue: c\n",
                r#"[{"1":"a","16":"b","true":"c"}]"#,
            ),
            (
                "%YAML 1.2\n--- # c\na: 1\n...\n---\n- x\n",
                r#"[{"a":1},["x"]]"#,
            ),
            (
                "url: http://x:80/a # note\nhash: a#b\n",
                r#"[{"hash":"a#b","url":"http://x:80/a"}]"#,
            ),
            (
                "flow: {a: [1, 2,], b: {c: d}, e}\n",
                r#"[{"flow":{"a":[1,2],"b":{"c":"d"},"e":null}}]"#,
            ),
            ("? complex\n: value\n", r#"[{"complex":"value"}]"#),
            ("a: 1\r\nb: 2\r\n", r#"[{"a":1,"b":2}]"#),
            ("# only a comment\n", "[null]"),
        ];
        for (text, json) in cases {
            assert_eq!(read(text).as_deref(), Ok(json), "{text:?}");
        }
    }

    #[test]
    fn refuses_with_the_line_an_editor_shows() {
        let cases = [
            ("a: 1\n b: 2\n", 2, "not allowed here"),
            ("a:\n  b: 1\n c: 2\n", 3, "indented more"),
            ("a: [1\n", 1, "not closed"),
            ("a:\n\tb: 1\n", 2, "tab"),
            ("a: b: c\n", 1, "not allowed here"),
            ("a: *nowhere\n", 1, "unknown anchor"),
            ("a: &x [*x]\n", 1, "its own anchor"),
            ("a: \"\\q\"\n", 1, "unknown escape"),
            ("a: 1\nb: c\u{1}\n", 2, "control character U+0001"),
            ("[a, , b]\n", 1, "empty entry"),
            ("%TAG ! tag:x,2000:\n---\na\n", 1, "%TAG"),
        ];
        for (text, line, words) in cases {
            let (at, message) = read(text).expect_err(text);
            assert_eq!(at, line, "{text:?}: {message}");
            assert!(message.contains(words), "{text:?}: {message}");
        }
    }
}
