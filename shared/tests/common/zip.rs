//! A tiny ZIP writer for tests: every entry field that a hostile archive lies about can be set by hand.

use std::io::Write;

use flate2::Compression;
use flate2::write::DeflateEncoder;

/// One entry to write.
#[derive(Clone)]
pub struct Entry {
    pub name: String,
    /// The bytes as they should inflate.
    pub data: Vec<u8>,
    /// The bytes written (compressed, or raw for stored and unknown methods).
    pub written: Vec<u8>,
    pub method: u16,
    pub flags: u16,
    pub made_by: u16,
    pub external: u32,
    pub descriptor: bool,
    pub crc: u32,
    pub declared_len: u32,
}

impl Entry {
    pub fn stored(name: &str, data: &[u8]) -> Entry {
        Entry {
            name: name.to_string(),
            data: data.to_vec(),
            written: data.to_vec(),
            method: 0,
            flags: 0x0800,
            made_by: 0x031E,
            external: 0o100644 << 16,
            descriptor: false,
            crc: crc32fast::hash(data),
            declared_len: data.len() as u32,
        }
    }

    pub fn deflated(name: &str, data: &[u8]) -> Entry {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).expect("deflate into memory");
        let written = encoder.finish().expect("deflate into memory");
        Entry {
            method: 8,
            written,
            ..Entry::stored(name, data)
        }
    }

    /// An entry with a compression method this reader does not support (its bytes kept raw).
    pub fn with_method(mut self, method: u16) -> Entry {
        self.method = method;
        self
    }

    pub fn encrypted(mut self) -> Entry {
        self.flags |= 0x0001;
        self
    }

    pub fn symlink(mut self) -> Entry {
        self.external = 0o120777 << 16;
        self
    }

    pub fn with_descriptor(mut self) -> Entry {
        self.descriptor = true;
        self.flags |= 0x0008;
        self
    }

    pub fn with_crc(mut self, crc: u32) -> Entry {
        self.crc = crc;
        self
    }

    pub fn with_declared_len(mut self, len: u32) -> Entry {
        self.declared_len = len;
        self
    }
}

/// An archive to write.
#[derive(Clone, Default)]
pub struct Zip {
    pub entries: Vec<Entry>,
    pub zip64: bool,
}

fn u16le(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn u32le(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn u64le(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

impl Zip {
    pub fn new() -> Zip {
        Zip::default()
    }

    /// Adds a deflated file.
    pub fn file(mut self, name: &str, data: &[u8]) -> Zip {
        self.entries.push(Entry::deflated(name, data));
        self
    }

    pub fn entry(mut self, entry: Entry) -> Zip {
        self.entries.push(entry);
        self
    }

    /// Writes ZIP64 records (end of central directory and extra fields) as Info-ZIP does for large archives.
    pub fn zip64(mut self) -> Zip {
        self.zip64 = true;
        self
    }

    /// The local header of an entry (used by the zip bomb builder too).
    pub fn local_header(entry: &Entry, zip64: bool) -> Vec<u8> {
        let mut out = Vec::new();
        u32le(&mut out, 0x0403_4b50);
        u16le(&mut out, if zip64 { 45 } else { 20 });
        u16le(&mut out, entry.flags);
        u16le(&mut out, entry.method);
        u16le(&mut out, 0);
        u16le(&mut out, 0x21);
        let (crc, csize, usize) = if entry.descriptor {
            (0, 0, 0)
        } else if zip64 {
            (entry.crc, 0xFFFF_FFFF, 0xFFFF_FFFF)
        } else {
            (entry.crc, entry.written.len() as u32, entry.declared_len)
        };
        u32le(&mut out, crc);
        u32le(&mut out, csize);
        u32le(&mut out, usize);
        u16le(&mut out, entry.name.len() as u16);
        u16le(&mut out, if zip64 { 20 } else { 0 });
        out.extend_from_slice(entry.name.as_bytes());
        if zip64 {
            u16le(&mut out, 1);
            u16le(&mut out, 16);
            u64le(&mut out, u64::from(entry.declared_len));
            u64le(&mut out, entry.written.len() as u64);
        }
        out
    }

    /// The central directory entry of an entry whose local header is at `offset`.
    pub fn central_header(entry: &Entry, offset: u64, zip64: bool) -> Vec<u8> {
        let mut out = Vec::new();
        u32le(&mut out, 0x0201_4b50);
        u16le(&mut out, entry.made_by);
        u16le(&mut out, if zip64 { 45 } else { 20 });
        u16le(&mut out, entry.flags);
        u16le(&mut out, entry.method);
        u16le(&mut out, 0);
        u16le(&mut out, 0x21);
        u32le(&mut out, entry.crc);
        if zip64 {
            u32le(&mut out, 0xFFFF_FFFF);
            u32le(&mut out, 0xFFFF_FFFF);
        } else {
            u32le(&mut out, entry.written.len() as u32);
            u32le(&mut out, entry.declared_len);
        }
        u16le(&mut out, entry.name.len() as u16);
        u16le(&mut out, if zip64 { 28 } else { 0 });
        u16le(&mut out, 0);
        u16le(&mut out, 0);
        u16le(&mut out, 0);
        u32le(&mut out, entry.external);
        u32le(&mut out, if zip64 { 0xFFFF_FFFF } else { offset as u32 });
        out.extend_from_slice(entry.name.as_bytes());
        if zip64 {
            u16le(&mut out, 1);
            u16le(&mut out, 24);
            u64le(&mut out, u64::from(entry.declared_len));
            u64le(&mut out, entry.written.len() as u64);
            u64le(&mut out, offset);
        }
        out
    }

    /// The end of central directory records for `count` entries.
    pub fn end_records(
        count: u64,
        directory_start: u64,
        directory_len: u64,
        zip64: bool,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        if zip64 {
            let record_at = directory_start + directory_len;
            u32le(&mut out, 0x0606_4b50);
            u64le(&mut out, 44);
            u16le(&mut out, 0x031E);
            u16le(&mut out, 45);
            u32le(&mut out, 0);
            u32le(&mut out, 0);
            u64le(&mut out, count);
            u64le(&mut out, count);
            u64le(&mut out, directory_len);
            u64le(&mut out, directory_start);
            u32le(&mut out, 0x0706_4b50);
            u32le(&mut out, 0);
            u64le(&mut out, record_at);
            u32le(&mut out, 1);
        }
        u32le(&mut out, 0x0605_4b50);
        u16le(&mut out, 0);
        u16le(&mut out, 0);
        let short_count = if zip64 { 0xFFFF } else { count as u16 };
        u16le(&mut out, short_count);
        u16le(&mut out, short_count);
        u32le(
            &mut out,
            if zip64 {
                0xFFFF_FFFF
            } else {
                directory_len as u32
            },
        );
        u32le(
            &mut out,
            if zip64 {
                0xFFFF_FFFF
            } else {
                directory_start as u32
            },
        );
        u16le(&mut out, 0);
        out
    }

    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut offsets = Vec::new();
        for entry in &self.entries {
            offsets.push(out.len() as u64);
            out.extend(Zip::local_header(entry, self.zip64));
            out.extend_from_slice(&entry.written);
            if entry.descriptor {
                u32le(&mut out, 0x0807_4b50);
                u32le(&mut out, entry.crc);
                if self.zip64 {
                    u64le(&mut out, entry.written.len() as u64);
                    u64le(&mut out, u64::from(entry.declared_len));
                } else {
                    u32le(&mut out, entry.written.len() as u32);
                    u32le(&mut out, entry.declared_len);
                }
            }
        }
        let directory_start = out.len() as u64;
        for (entry, offset) in self.entries.iter().zip(offsets) {
            out.extend(Zip::central_header(entry, offset, self.zip64));
        }
        let directory_len = out.len() as u64 - directory_start;
        out.extend(Zip::end_records(
            self.entries.len() as u64,
            directory_start,
            directory_len,
            self.zip64,
        ));
        out
    }
}

/// An overlapping-file zip bomb as David Fifield publishes it ("A better zip bomb", 2019): one deflate kernel shared
/// by every file; each file's data first quotes the next file's local header in a stored (non-compressed) deflate
/// block, so every file inflates to all later headers plus the kernel. `files` files over a kernel of `kernel_len`
/// zero bytes: about `files × kernel_len` bytes inflated from a few kilobytes.
pub fn overlapping_zip_bomb(files: usize, kernel_len: usize) -> Vec<u8> {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
    encoder
        .write_all(&vec![0u8; kernel_len])
        .expect("deflate into memory");
    let kernel = encoder.finish().expect("deflate into memory");
    let names: Vec<String> = (0..files).map(|i| format!("{i:04}.bin")).collect();
    // Built from the last file back: each header's CRC and sizes cover everything that follows it.
    let mut headers: Vec<Vec<u8>> = vec![Vec::new(); files];
    let mut entries: Vec<Option<Entry>> = vec![None; files];
    // CRC and length of what the current file inflates to, combined rather than materialised.
    let mut tail_crc = crc32fast::Hasher::new();
    tail_crc.update(&vec![0u8; kernel_len]);
    let mut tail_len = kernel_len;
    let mut compressed_tail: Vec<u8> = kernel.clone();
    for i in (0..files).rev() {
        if i + 1 < files {
            let next = &headers[i + 1];
            let mut quote = vec![0u8];
            quote.extend_from_slice(&(next.len() as u16).to_le_bytes());
            quote.extend_from_slice(&(!(next.len() as u16)).to_le_bytes());
            let mut crc = crc32fast::Hasher::new();
            crc.update(next);
            crc.combine(&tail_crc);
            tail_crc = crc;
            tail_len += next.len();
            let mut compressed = quote;
            compressed.extend_from_slice(next);
            compressed.extend_from_slice(&compressed_tail);
            compressed_tail = compressed;
        }
        let entry = Entry {
            name: names[i].clone(),
            data: Vec::new(),
            written: compressed_tail.clone(),
            method: 8,
            flags: 0,
            made_by: 0x031E,
            external: 0o100644 << 16,
            descriptor: false,
            crc: tail_crc.clone().finalize(),
            declared_len: tail_len as u32,
        };
        headers[i] = Zip::local_header(&entry, false);
        entries[i] = Some(entry);
    }
    // The file: header 0, quote of header 1, header 1, ... header n-1, kernel.
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for (i, header) in headers.iter().enumerate() {
        offsets.push(out.len() as u64);
        out.extend_from_slice(header);
        if i + 1 < files {
            let next = &headers[i + 1];
            out.push(0);
            out.extend_from_slice(&(next.len() as u16).to_le_bytes());
            out.extend_from_slice(&(!(next.len() as u16)).to_le_bytes());
        }
    }
    out.extend_from_slice(&kernel);
    let directory_start = out.len() as u64;
    for (entry, offset) in entries.iter().flatten().zip(offsets) {
        out.extend(Zip::central_header(entry, offset, false));
    }
    let directory_len = out.len() as u64 - directory_start;
    out.extend(Zip::end_records(
        files as u64,
        directory_start,
        directory_len,
        false,
    ));
    out
}
