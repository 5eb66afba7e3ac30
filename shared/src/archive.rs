//! The bounded ZIP reader, written over the raw bytes so that every limit is ours to enforce.
//!
//! [`ZipScan::open`] reads the end of central directory (ZIP64 too), the central directory and every local header:
//! all the cheap checks (entry count, encryption, compression method, unsafe or duplicate names, symlinks, entries
//! whose compressed bytes overlap, which is how David Fifield's "better zip bomb" reuses one kernel for every file)
//! happen there, before a byte is inflated. [`ZipScan::step`] then inflates a slice of the work at a time (so the
//! browser can yield between slices), in one pass per entry: inflate (flate2's low-level `Decompress`, in chunks),
//! CRC-32 and MD5 over the same output, counting the per-entry and total limits while inflating and never trusting
//! the sizes the headers claim. [`ZipScan::finish`] hands over the extracted entries as a [`Bundle`].
//!
//! `__MACOSX/`, `.DS_Store` and directory entries are checked for safety but not extracted.

use std::collections::{BTreeMap, BTreeSet};

use flate2::{Decompress, FlushDecompress, Status};
use md5::{Digest, Md5};

use crate::limits::Limits;
use crate::report::Finding;

const EOCD_SIGNATURE: u32 = 0x0605_4b50;
const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
const ZIP64_EOCD_SIGNATURE: u32 = 0x0606_4b50;
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
const LOCAL_SIGNATURE: u32 = 0x0403_4b50;
/// How much compressed input one inflate call gets.
const INPUT_CHUNK: usize = 256 * 1024;
/// The most output one inflate call may make.
const OUTPUT_WINDOW: usize = 256 * 1024;
/// The smallest output window: enough for a small entry in one call, whatever its header says.
const MIN_WINDOW: usize = 4 * 1024;

/// The files of a ZIP, extracted and checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bundle {
    /// The uploaded file's name, for messages.
    pub file_name: String,
    /// Path inside the ZIP (with `/` separators) → its content.
    pub entries: BTreeMap<String, BundleEntry>,
}

/// One extracted file.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleEntry {
    /// The inflated bytes.
    pub bytes: Vec<u8>,
    /// MD5 of `bytes`, computed while inflating.
    pub md5: [u8; 16],
}

impl BundleEntry {
    /// A file from its bytes (for uploads that are not ZIPs and for tests).
    pub fn new(bytes: Vec<u8>) -> BundleEntry {
        let md5 = Md5::digest(&bytes).into();
        BundleEntry { bytes, md5 }
    }

    /// The MD5 as lowercase hex, as `md5sum` prints it.
    pub fn md5_hex(&self) -> String {
        hex(&self.md5)
    }
}

impl Bundle {
    /// The entry at `path`, if the ZIP has it.
    pub fn get(&self, path: &str) -> Option<&BundleEntry> {
        self.entries.get(path)
    }

    /// The entries under `prefix` (which ends with `/`), with their paths relative to it.
    pub fn under<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a BundleEntry)> + 'a {
        self.entries
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .map_while(move |(path, entry)| path.strip_prefix(prefix).map(|rest| (rest, entry)))
    }
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether an upload is to be read as a ZIP: by its name or by its first bytes.
pub fn is_zip(file_name: &str, bytes: &[u8]) -> bool {
    file_name.to_ascii_lowercase().ends_with(".zip")
        || bytes.starts_with(b"PK\x03\x04")
        || bytes.starts_with(b"PK\x05\x06")
}

/// How far a scan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanProgress {
    /// Compressed bytes processed so far.
    pub done_bytes: u64,
    /// Compressed bytes to process in all.
    pub total_bytes: u64,
    /// Whether every entry is extracted and checked.
    pub finished: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Stored,
    Deflated,
}

/// An entry to extract, as the central directory and its local header describe it.
#[derive(Debug)]
struct Planned {
    name: String,
    method: Method,
    data_start: usize,
    compressed_len: usize,
    declared_len: u64,
    crc: u32,
}

/// The entry being extracted.
struct Extracting {
    decompress: Option<Decompress>,
    consumed: usize,
    out: Vec<u8>,
    /// CRC-32 of `out` so far.
    crc: u32,
    md5: Md5,
}

/// A ZIP being extracted slice by slice: `open`, then `step` until finished, then `finish`.
pub struct ZipScan<'a> {
    file_name: String,
    bytes: &'a [u8],
    limits: Limits,
    planned: Vec<Planned>,
    next: usize,
    current: Option<Extracting>,
    inflated_total: u64,
    done_bytes: u64,
    total_bytes: u64,
    extracted: BTreeMap<String, BundleEntry>,
}

/// Little-endian reads that fail instead of panicking past the end.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u16(&self, at: usize) -> Option<u16> {
        let b = self.0.get(at..at.checked_add(2)?)?;
        Some(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&self, at: usize) -> Option<u32> {
        let b = self.0.get(at..at.checked_add(4)?)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&self, at: usize) -> Option<u64> {
        let b = self.0.get(at..at.checked_add(8)?)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(b);
        Some(u64::from_le_bytes(array))
    }

    fn slice(&self, at: usize, len: usize) -> Option<&[u8]> {
        self.0.get(at..at.checked_add(len)?)
    }
}

/// Where the central directory is and how many entries it claims.
struct Directory {
    entries: u64,
    start: usize,
    len: usize,
    /// Bytes prepended to the archive (a self-extractor stub): added to every offset.
    base: usize,
}

/// One central directory entry, before extraction.
struct CentralEntry {
    name: String,
    raw_name: Vec<u8>,
    method: u16,
    flags: u16,
    crc: u32,
    compressed_len: u64,
    declared_len: u64,
    local_offset: u64,
    symlink: bool,
}

impl<'a> ZipScan<'a> {
    /// Reads the directory and every local header and runs every check that needs no inflating.
    pub fn open(file_name: &str, bytes: &'a [u8], limits: &Limits) -> Result<ZipScan<'a>, Finding> {
        let invalid = |why: String| zip_finding(file_name, "zip-invalid", why);
        if bytes.len() as u64 > limits.max_upload_bytes {
            return Err(zip_finding(
                file_name,
                "zip-too-large",
                format!(
                    "it is {} bytes, more than the {} bytes an upload may have",
                    bytes.len(),
                    limits.max_upload_bytes
                ),
            ));
        }
        let directory = find_directory(file_name, bytes)?;
        if directory.entries > limits.max_zip_entries {
            return Err(zip_finding(
                file_name,
                "zip-too-large",
                format!(
                    "it has {} entries, more than the {} a ZIP may have",
                    directory.entries, limits.max_zip_entries
                ),
            ));
        }
        let reader = Reader(bytes);
        let mut at = directory.start;
        let end = directory.start + directory.len;
        let mut names = BTreeSet::new();
        // (start of local header, end of compressed data, name) of every entry, to find overlaps.
        let mut ranges: Vec<(usize, usize, usize)> = Vec::new();
        let mut all_names: Vec<String> = Vec::new();
        let mut planned = Vec::new();
        for _ in 0..directory.entries {
            let entry = read_central_entry(&reader, at, end).ok_or_else(|| {
                invalid(format!(
                    "its central directory is truncated or corrupt at byte {at}"
                ))
            })?;
            at = entry.1;
            let entry = entry.0;
            let name = &entry.name;
            if entry.flags & 0x0001 != 0 || entry.flags & 0x0040 != 0 || entry.method == 99 {
                return Err(zip_finding(
                    file_name,
                    "zip-encrypted",
                    format!("entry `{name}` is encrypted"),
                ));
            }
            check_safe_name(file_name, name, &entry)?;
            let normalized = normalize(name);
            let name = &normalized;
            let ignored = is_ignored(name);
            let method = match entry.method {
                0 => Method::Stored,
                8 => Method::Deflated,
                other if !ignored => {
                    return Err(zip_finding(
                        file_name,
                        "zip-unsupported-compression",
                        format!(
                            "entry `{name}` uses compression method {other} ({}); only stored (0) and deflate (8) are supported",
                            method_name(other)
                        ),
                    ));
                }
                _ => Method::Stored,
            };
            if !names.insert(name.clone()) {
                return Err(zip_finding(
                    file_name,
                    "zip-duplicate-entry",
                    format!("entry `{name}` appears more than once"),
                ));
            }
            // The local header: where the data really starts, and whether it agrees with the directory.
            let local = usize::try_from(entry.local_offset)
                .ok()
                .and_then(|offset| offset.checked_add(directory.base))
                .ok_or_else(|| {
                    invalid(format!("entry `{name}` points past the end of the file"))
                })?;
            if reader.u32(local) != Some(LOCAL_SIGNATURE) {
                return Err(invalid(format!(
                    "entry `{name}` has no local header at byte {local} (truncated or corrupt)"
                )));
            }
            let local_flags = reader.u16(local + 6).unwrap_or(0);
            if local_flags & 0x0001 != 0 {
                return Err(zip_finding(
                    file_name,
                    "zip-encrypted",
                    format!("entry `{name}` is encrypted"),
                ));
            }
            let name_len = reader.u16(local + 26).map(usize::from);
            let extra_len = reader.u16(local + 28).map(usize::from);
            let (Some(name_len), Some(extra_len)) = (name_len, extra_len) else {
                return Err(invalid(format!(
                    "the local header of entry `{name}` is truncated"
                )));
            };
            if reader.slice(local + 30, name_len) != Some(entry.raw_name.as_slice()) {
                return Err(invalid(format!(
                    "the local header of entry `{name}` names another file than the central directory"
                )));
            }
            let data_start = local + 30 + name_len + extra_len;
            let compressed_len = usize::try_from(entry.compressed_len).unwrap_or(usize::MAX);
            let data_end = data_start
                .checked_add(compressed_len)
                .filter(|&data_end| data_end <= bytes.len())
                .ok_or_else(|| {
                    invalid(format!(
                        "entry `{name}` is truncated: its data runs past the end of the file"
                    ))
                })?;
            ranges.push((local, data_end, all_names.len()));
            all_names.push(name.clone());
            if ignored || name.ends_with('/') {
                continue;
            }
            if method == Method::Stored && entry.compressed_len != entry.declared_len {
                return Err(invalid(format!(
                    "entry `{name}` is stored but its sizes differ ({} compressed, {} uncompressed)",
                    entry.compressed_len, entry.declared_len
                )));
            }
            planned.push(Planned {
                name: name.clone(),
                method,
                data_start,
                compressed_len,
                declared_len: entry.declared_len,
                crc: entry.crc,
            });
        }
        ranges.sort_unstable();
        for pair in ranges.windows(2) {
            let (first, second) = (pair[0], pair[1]);
            if second.0 < first.1 {
                return Err(zip_finding(
                    file_name,
                    "zip-overlapping-entries",
                    format!(
                        "entries `{}` and `{}` share compressed bytes (a zip bomb builds many files from one kernel this way)",
                        all_names[first.2], all_names[second.2]
                    ),
                ));
            }
        }
        // After the overlap check, so that a zip bomb is named as one: an honest header that announces too much
        // is refused here, a lying one while inflating.
        let mut declared_total: u64 = 0;
        for entry in &planned {
            if entry.declared_len > limits.max_zip_entry_bytes {
                return Err(entry_too_large(file_name, &entry.name, limits));
            }
            declared_total = declared_total.saturating_add(entry.declared_len);
            if declared_total > limits.max_zip_inflated_bytes {
                return Err(total_too_large(file_name, limits));
            }
        }
        // Ties (empty entries) by name, so the order never depends on the sort; an unstable sort is less code in
        // the console's wasm than a stable one.
        planned.sort_unstable_by(|a, b| {
            a.data_start
                .cmp(&b.data_start)
                .then_with(|| a.name.cmp(&b.name))
        });
        let total_bytes = planned
            .iter()
            .map(|entry| entry.compressed_len as u64)
            .sum();
        Ok(ZipScan {
            file_name: file_name.to_string(),
            bytes,
            limits: *limits,
            planned,
            next: 0,
            current: None,
            inflated_total: 0,
            done_bytes: 0,
            total_bytes,
            extracted: BTreeMap::new(),
        })
    }

    /// Extracts and checks about `max_bytes` of work (compressed bytes read plus bytes inflated), at least one chunk.
    pub fn step(&mut self, max_bytes: u64) -> Result<ScanProgress, Finding> {
        let mut work: u64 = 0;
        while self.next < self.planned.len() && work < max_bytes {
            work += self.advance()?;
        }
        Ok(self.progress())
    }

    /// How far the scan is.
    pub fn progress(&self) -> ScanProgress {
        ScanProgress {
            done_bytes: self.done_bytes,
            total_bytes: self.total_bytes,
            finished: self.next >= self.planned.len(),
        }
    }

    /// Extracts whatever is left and hands over the entries.
    pub fn finish(mut self) -> Result<Bundle, Finding> {
        self.step(u64::MAX)?;
        Ok(Bundle {
            file_name: self.file_name,
            entries: self.extracted,
        })
    }

    /// One chunk of the current entry; returns the work done.
    fn advance(&mut self) -> Result<u64, Finding> {
        let entry = &self.planned[self.next];
        let current = self.current.get_or_insert_with(|| {
            // Reserve what the header announces, within the limits and what the data could possibly inflate to
            // (deflate expands at most ~1032:1); a lie only costs regrowth.
            let likely = entry
                .declared_len
                .min(self.limits.max_zip_entry_bytes)
                .min(
                    self.limits
                        .max_zip_inflated_bytes
                        .saturating_sub(self.inflated_total),
                )
                .min(
                    (entry.compressed_len as u64)
                        .saturating_mul(1032)
                        .saturating_add(64),
                );
            Extracting {
                decompress: (entry.method == Method::Deflated).then(|| Decompress::new(false)),
                consumed: 0,
                out: Vec::with_capacity(usize::try_from(likely).unwrap_or(0)),
                crc: 0,
                md5: Md5::new(),
            }
        });
        let data = &self.bytes[entry.data_start..entry.data_start + entry.compressed_len];
        let input = &data[current.consumed..];
        let input = &input[..input.len().min(INPUT_CHUNK)];
        let before_out = current.out.len();
        let budget_left = (self
            .limits
            .max_zip_entry_bytes
            .saturating_sub(before_out as u64))
        .min(
            self.limits
                .max_zip_inflated_bytes
                .saturating_sub(self.inflated_total),
        );
        let budget_left = usize::try_from(budget_left).unwrap_or(usize::MAX);
        let mut stream_end = false;
        let read = match &mut current.decompress {
            None => {
                let take = input.len().min(budget_left.saturating_add(1));
                current.out.extend_from_slice(&input[..take]);
                stream_end = current.consumed + take == data.len();
                take
            }
            Some(decompress) => {
                // At most one window of output per call, so that a step stays short whatever the ratio; no more than
                // the header announces (plus one byte to notice a lie), so that a small entry does not hold a whole
                // window of memory.
                let announced = entry.declared_len.saturating_sub(before_out as u64);
                let announced = usize::try_from(announced)
                    .unwrap_or(usize::MAX)
                    .saturating_add(1);
                let window = OUTPUT_WINDOW
                    .min(budget_left.saturating_add(1))
                    .min(announced.max(MIN_WINDOW));
                if current.out.capacity() - before_out < window {
                    current
                        .out
                        .reserve_exact(window.max(before_out.min(budget_left)));
                }
                current.out.resize(before_out + window, 0);
                let (in_before, out_before) = (decompress.total_in(), decompress.total_out());
                let status = decompress.decompress(
                    input,
                    &mut current.out[before_out..],
                    FlushDecompress::None,
                );
                let produced =
                    usize::try_from(decompress.total_out() - out_before).unwrap_or(usize::MAX);
                current.out.truncate(before_out + produced);
                let status = status.map_err(|error| {
                    zip_finding(
                        &self.file_name,
                        "zip-invalid",
                        format!(
                            "the compressed data of entry `{}` is corrupt ({error})",
                            entry.name
                        ),
                    )
                })?;
                let read = usize::try_from(decompress.total_in() - in_before).unwrap_or(usize::MAX);
                match status {
                    Status::StreamEnd => stream_end = true,
                    // No input taken and no output made, with room for output: the data ends too soon.
                    Status::Ok | Status::BufError
                        if read == 0 && current.out.len() == before_out =>
                    {
                        return Err(zip_finding(
                            &self.file_name,
                            "zip-invalid",
                            format!("the compressed data of entry `{}` is truncated", entry.name),
                        ));
                    }
                    Status::Ok | Status::BufError => {}
                }
                read
            }
        };
        current.consumed += read;
        self.done_bytes += read as u64;
        let new = &current.out[before_out..];
        current.crc = zlib_rs::crc32::crc32(current.crc, new);
        current.md5.update(new);
        let work = (read + new.len()) as u64;
        self.inflated_total += new.len() as u64;
        if current.out.len() as u64 > self.limits.max_zip_entry_bytes {
            return Err(entry_too_large(&self.file_name, &entry.name, &self.limits));
        }
        if self.inflated_total > self.limits.max_zip_inflated_bytes {
            return Err(total_too_large(&self.file_name, &self.limits));
        }
        if stream_end {
            // Bytes after the end of the deflate stream count as done.
            self.done_bytes += (data.len() - current.consumed) as u64;
            let Some(done) = self.current.take() else {
                return Ok(work);
            };
            let entry = &self.planned[self.next];
            if done.out.len() as u64 != entry.declared_len {
                return Err(zip_finding(
                    &self.file_name,
                    "zip-invalid",
                    format!(
                        "entry `{}` inflates to {} bytes but its header says {}",
                        entry.name,
                        done.out.len(),
                        entry.declared_len
                    ),
                ));
            }
            if done.crc != entry.crc {
                return Err(zip_finding(
                    &self.file_name,
                    "zip-invalid",
                    format!("entry `{}` fails its CRC check (corrupt data)", entry.name),
                ));
            }
            let mut bytes = done.out;
            // Thousands of small entries must not each keep a window's worth of spare capacity.
            if bytes.capacity() - bytes.len() > bytes.len() / 8 + MIN_WINDOW {
                bytes.shrink_to_fit();
            }
            self.extracted.insert(
                entry.name.clone(),
                BundleEntry {
                    bytes,
                    md5: done.md5.finalize().into(),
                },
            );
            self.next += 1;
        }
        Ok(work.max(1))
    }
}
fn zip_finding(file_name: &str, code: &str, why: String) -> Finding {
    Finding::error(code, format!("{file_name}: {why}")).in_file(file_name)
}

fn entry_too_large(file_name: &str, name: &str, limits: &Limits) -> Finding {
    zip_finding(
        file_name,
        "zip-too-large",
        format!(
            "entry `{name}` inflates to more than the {} bytes one entry may have",
            limits.max_zip_entry_bytes
        ),
    )
}

fn total_too_large(file_name: &str, limits: &Limits) -> Finding {
    zip_finding(
        file_name,
        "zip-too-large",
        format!(
            "its entries inflate to more than the {} bytes a ZIP may hold in total",
            limits.max_zip_inflated_bytes
        ),
    )
}

fn method_name(method: u16) -> &'static str {
    match method {
        1..=6 => "shrink/reduce/implode",
        9 => "deflate64",
        12 => "bzip2",
        14 => "lzma",
        93 => "zstd",
        95 => "xz",
        98 => "ppmd",
        _ => "unknown",
    }
}

/// Finds the end of central directory (and its ZIP64 form) and where the central directory really is.
fn find_directory(file_name: &str, bytes: &[u8]) -> Result<Directory, Finding> {
    let invalid = |why: &str| zip_finding(file_name, "zip-invalid", why.to_string());
    let reader = Reader(bytes);
    let not_found = || {
        if bytes.starts_with(b"PK\x03\x04") {
            invalid("it is truncated: the end of its central directory is missing")
        } else {
            invalid("it is not a ZIP archive")
        }
    };
    if bytes.len() < 22 {
        return Err(not_found());
    }
    let lowest = bytes.len().saturating_sub(22 + 65_535);
    let eocd = (lowest..=bytes.len() - 22)
        .rev()
        .find(|&at| {
            reader.u32(at) == Some(EOCD_SIGNATURE)
                && reader
                    .u16(at + 20)
                    .is_some_and(|comment| at + 22 + usize::from(comment) <= bytes.len())
        })
        .ok_or_else(not_found)?;
    let field16 = |offset| reader.u16(eocd + offset).map_or(0, u64::from);
    let field32 = |offset| reader.u32(eocd + offset).map_or(0, u64::from);
    if field16(4) != 0 || field16(6) != 0 {
        return Err(invalid(
            "it is split over several disks, which is not supported",
        ));
    }
    let mut entries = field16(10);
    let mut len = field32(12);
    let mut offset = field32(16);
    let mut directory_end = eocd;
    let needs_zip64 = entries == 0xFFFF || len == 0xFFFF_FFFF || offset == 0xFFFF_FFFF;
    if eocd >= 20 && reader.u32(eocd - 20) == Some(ZIP64_LOCATOR_SIGNATURE) {
        let record = reader
            .u64(eocd - 20 + 8)
            .and_then(|at| usize::try_from(at).ok())
            .ok_or_else(|| invalid("its ZIP64 end of central directory locator is corrupt"))?;
        // The record normally sits right before the locator; with prepended bytes its stated offset is short.
        let record = if reader.u32(record) == Some(ZIP64_EOCD_SIGNATURE) {
            record
        } else if eocd >= 20 + 56 && reader.u32(eocd - 20 - 56) == Some(ZIP64_EOCD_SIGNATURE) {
            eocd - 20 - 56
        } else {
            return Err(invalid(
                "its ZIP64 end of central directory record is missing or corrupt",
            ));
        };
        let (Some(count), Some(size), Some(start)) = (
            reader.u64(record + 32),
            reader.u64(record + 40),
            reader.u64(record + 48),
        ) else {
            return Err(invalid(
                "its ZIP64 end of central directory record is truncated",
            ));
        };
        entries = count;
        len = size;
        offset = start;
        directory_end = record;
    } else if needs_zip64 {
        return Err(invalid("its ZIP64 end of central directory is missing"));
    }
    let len = usize::try_from(len).map_err(|_| invalid("its central directory size is corrupt"))?;
    let start = directory_end
        .checked_sub(len)
        .ok_or_else(|| invalid("it is truncated or corrupt: the central directory does not fit"))?;
    let stated = usize::try_from(offset).unwrap_or(usize::MAX);
    let base = start.checked_sub(stated).ok_or_else(|| {
        invalid("it is truncated or corrupt: the central directory is not where it says")
    })?;
    // Each central entry takes at least 46 bytes, so a count the directory cannot hold is a lie.
    if entries > (len as u64) / 46 {
        return Err(invalid(
            "it is truncated or corrupt: the central directory is too small for its entries",
        ));
    }
    Ok(Directory {
        entries,
        start,
        len,
        base,
    })
}

/// Reads one central directory entry at `at`; returns it and where the next one starts.
fn read_central_entry(reader: &Reader<'_>, at: usize, end: usize) -> Option<(CentralEntry, usize)> {
    if reader.u32(at)? != CENTRAL_SIGNATURE {
        return None;
    }
    let made_by = reader.u16(at + 4)?;
    let flags = reader.u16(at + 8)?;
    let method = reader.u16(at + 10)?;
    let crc = reader.u32(at + 16)?;
    let mut compressed_len = u64::from(reader.u32(at + 20)?);
    let mut declared_len = u64::from(reader.u32(at + 24)?);
    let name_len = usize::from(reader.u16(at + 28)?);
    let extra_len = usize::from(reader.u16(at + 30)?);
    let comment_len = usize::from(reader.u16(at + 32)?);
    let external = reader.u32(at + 38)?;
    let mut local_offset = u64::from(reader.u32(at + 42)?);
    let raw_name = reader.slice(at + 46, name_len)?.to_vec();
    let extra = reader.slice(at + 46 + name_len, extra_len)?;
    let next = at + 46 + name_len + extra_len + comment_len;
    if next > end {
        return None;
    }
    // ZIP64 extended information: only the fields whose 32-bit value is 0xFFFFFFFF, in this order.
    let extra_reader = Reader(extra);
    let mut i = 0;
    while i + 4 <= extra.len() {
        let id = extra_reader.u16(i)?;
        let size = usize::from(extra_reader.u16(i + 2)?);
        if id == 0x0001 {
            let mut field = i + 4;
            for value in [&mut declared_len, &mut compressed_len, &mut local_offset] {
                if *value == 0xFFFF_FFFF {
                    *value = extra_reader
                        .u64(field)
                        .filter(|_| field + 8 <= i + 4 + size)?;
                    field += 8;
                }
            }
        }
        i += 4 + size;
    }
    // Unix (3) and macOS (19) hosts keep the file mode in the high half of the external attributes.
    let host = made_by >> 8;
    let symlink = (host == 3 || host == 19) && (external >> 16) & 0o170_000 == 0o120_000;
    let name = String::from_utf8_lossy(&raw_name).replace('\\', "/");
    Some((
        CentralEntry {
            name,
            raw_name,
            method,
            flags,
            crc,
            compressed_len,
            declared_len,
            local_offset,
            symlink,
        },
        next,
    ))
}

fn check_safe_name(file_name: &str, name: &str, entry: &CentralEntry) -> Result<(), Finding> {
    let unsafe_entry = |why: &str| {
        zip_finding(
            file_name,
            "zip-unsafe-entry",
            format!("entry `{name}` {why}; refusing to extract it"),
        )
    };
    let bytes = name.as_bytes();
    if name.is_empty() || name.contains('\0') {
        return Err(unsafe_entry("has an empty name or a NUL in its name"));
    }
    if name.starts_with('/') {
        return Err(unsafe_entry("is an absolute path"));
    }
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err(unsafe_entry("starts with a drive letter"));
    }
    if name.split('/').any(|segment| segment == "..") {
        return Err(unsafe_entry("climbs out of the archive with `..`"));
    }
    if entry.symlink {
        return Err(unsafe_entry("is a symbolic link"));
    }
    Ok(())
}

/// `./a//b` → `a/b` (a directory keeps its trailing `/`), so that one path has one name.
fn normalize(name: &str) -> String {
    let mut normalized = name
        .split('/')
        .filter(|segment| !segment.is_empty() && *segment != ".")
        .collect::<Vec<_>>()
        .join("/");
    // A directory, or a name of only `.` and `/`, which holds no file.
    if name.ends_with('/') || normalized.is_empty() {
        normalized.push('/');
    }
    normalized
}

/// Entries that archivers add and nobody means: macOS resource forks and Finder files.
fn is_ignored(name: &str) -> bool {
    name.starts_with("__MACOSX/") || name.rsplit('/').next() == Some(".DS_Store")
}
