//! Reading an event file whole, for `encode` and `replay`.
//!
//! A file of [`MAPPED_MIN`] or more is read into an anonymous mapping aligned to 2 MiB and
//! advised as transparent huge pages (`madvise(MADV_HUGEPAGE)`, Linux only): the kernel then
//! faults in 2 MiB at a time instead of 4 KiB. On a 5.5 MB event that is about 1,340 page faults
//! fewer, which was most of what `encode` spent beyond parsing (`docs/performance.md`). Smaller
//! files, standard input, other systems and a mapping the system refuses are read into a `Vec`,
//! as `std::fs::read` does. Either way the bytes are the file's, read to its end: a file that
//! grows or shrinks while it is read is read as `read` sees it, like `std::fs::read`. Without
//! transparent huge pages (`/sys/kernel/mm/transparent_hugepage/enabled` at `never`) the advice
//! has no effect and the mapping faults in 4 KiB pages like a `Vec`.

use std::fs::File;
use std::io::{self, Read};
use std::ops::Deref;
use std::path::Path;

/// Files of this size or more are read into huge pages. Below it, zeroing a whole 2 MiB page
/// costs more than the 4 KiB faults it saves.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) const MAPPED_MIN: usize = 1 << 20;

/// The size of a transparent huge page on x86-64 and on arm64 with 4 KiB pages; elsewhere the
/// alignment is only wasted address space.
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 << 20;

/// The bytes of one input file.
pub(crate) struct Input(Bytes);

enum Bytes {
    Heap(Vec<u8>),
    #[cfg(target_os = "linux")]
    Mapped {
        map: memmap2::MmapMut,
        start: usize,
        len: usize,
    },
}

impl Input {
    /// Whether the bytes lie in a huge-page mapping (for the tests).
    #[cfg(test)]
    fn is_mapped(&self) -> bool {
        !matches!(self.0, Bytes::Heap(_))
    }
}

impl Deref for Input {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Bytes::Heap(bytes) => bytes,
            #[cfg(target_os = "linux")]
            Bytes::Mapped { map, start, len } => &map[*start..*start + *len],
        }
    }
}

/// The whole of `path`, or of standard input for `-`.
pub(crate) fn read(path: &Path) -> io::Result<Input> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        io::stdin().lock().read_to_end(&mut bytes)?;
        return Ok(Input(Bytes::Heap(bytes)));
    }
    let mut file = File::open(path)?;
    let size = file.metadata().ok().map(|m| m.len());
    read_from(&mut file, size)
}

/// Everything `reader` gives until its end; `size` is what it is expected to give.
fn read_from(reader: &mut impl Read, size: Option<u64>) -> io::Result<Input> {
    let size = size.and_then(|s| usize::try_from(s).ok());
    #[cfg(target_os = "linux")]
    if let Some(size) = size.filter(|&s| s >= MAPPED_MIN)
        && let Some(input) = read_mapped(reader, size)?
    {
        return Ok(input);
    }
    let mut bytes = Vec::new();
    // As `std::fs::read`: room for the expected size, so that it is read without regrowing.
    bytes
        .try_reserve_exact(size.unwrap_or(0))
        .map_err(io::Error::other)?;
    reader.read_to_end(&mut bytes)?;
    Ok(Input(Bytes::Heap(bytes)))
}

/// `reader` read into a huge-page mapping with room for `size` bytes rounded up to a huge page;
/// `None` when the system gives no such mapping (the caller reads into a `Vec`).
#[cfg(target_os = "linux")]
fn read_mapped(reader: &mut impl Read, size: usize) -> io::Result<Option<Input>> {
    let Some(room) = size.checked_next_multiple_of(HUGE_PAGE) else {
        return Ok(None);
    };
    // One huge page more than the room, so that a huge-page boundary lies within its first.
    let Ok(mut map) = memmap2::MmapOptions::new().len(room + HUGE_PAGE).map_anon() else {
        return Ok(None);
    };
    let start = (map.as_ptr() as usize).next_multiple_of(HUGE_PAGE) - map.as_ptr() as usize;
    // Only advice: refused (no transparent huge pages in this kernel), the mapping still holds
    // the bytes, in 4 KiB pages.
    let _ = map.advise_range(memmap2::Advice::HugePage, start, room);
    let buf = &mut map[start..start + room];
    let mut len = 0;
    while len < room {
        match read_some(reader, &mut buf[len..])? {
            0 => break,
            n => len += n,
        }
    }
    if len == room {
        // Full: the file may have grown since its size was read. If it has, the rest goes into
        // a `Vec` after what is read so far.
        let mut more = [0; 8192];
        let n = read_some(reader, &mut more)?;
        if n > 0 {
            let mut bytes = Vec::new();
            bytes
                .try_reserve_exact(room + n)
                .map_err(io::Error::other)?;
            bytes.extend_from_slice(&map[start..start + room]);
            bytes.extend_from_slice(&more[..n]);
            reader.read_to_end(&mut bytes)?;
            return Ok(Some(Input(Bytes::Heap(bytes))));
        }
    }
    Ok(Some(Input(Bytes::Mapped { map, start, len })))
}

/// One `read`, tried again when interrupted.
#[cfg(target_os = "linux")]
fn read_some(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            done => return done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` bytes that differ from their neighbours and repeat only every 251 bytes, so that a
    /// byte read twice, skipped or moved shows.
    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8).collect()
    }

    /// A reader that gives at most `step` bytes a call and is interrupted every third call.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
        calls: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(3) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = self.step.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    const MIB: usize = 1 << 20;

    #[test]
    fn every_size_reads_the_same_bytes_and_large_ones_are_mapped() {
        for n in [
            0,
            1,
            4095,
            MAPPED_MIN - 1,
            MAPPED_MIN,
            MAPPED_MIN + 1,
            2 * MIB - 1,
            2 * MIB,
            2 * MIB + 1,
            5_498_861,
        ] {
            let bytes = pattern(n);
            let input = read_from(&mut &bytes[..], Some(n as u64)).unwrap();
            assert_eq!(input.len(), n, "size {n}");
            assert!(*input == bytes[..], "size {n}");
            assert_eq!(
                input.is_mapped(),
                cfg!(target_os = "linux") && n >= MAPPED_MIN,
                "size {n}"
            );
        }
    }

    #[test]
    fn a_file_that_grew_is_read_to_its_end() {
        // Expected 1 MiB (room: 2 MiB), given 3 MiB and 5 bytes: read on into a `Vec`.
        let bytes = pattern(3 * MIB + 5);
        let input = read_from(&mut &bytes[..], Some(MIB as u64)).unwrap();
        assert!(*input == bytes[..]);
        assert!(!input.is_mapped());
        // Grown, but still within the room: stays mapped.
        let bytes = pattern(MIB + 100);
        let input = read_from(&mut &bytes[..], Some(MIB as u64)).unwrap();
        assert!(*input == bytes[..]);
        // Exactly the room: the probe for more finds nothing.
        let bytes = pattern(2 * MIB);
        let input = read_from(&mut &bytes[..], Some(MIB as u64)).unwrap();
        assert!(*input == bytes[..]);
    }

    #[test]
    fn a_file_that_shrank_is_read_to_its_end() {
        let bytes = pattern(MIB + MIB / 2);
        let input = read_from(&mut &bytes[..], Some(3 * MIB as u64)).unwrap();
        assert!(*input == bytes[..]);
        let bytes = pattern(10);
        let input = read_from(&mut &bytes[..], Some(3 * MIB as u64)).unwrap();
        assert!(*input == bytes[..]);
    }

    #[test]
    fn short_and_interrupted_reads_lose_nothing() {
        for (n, size) in [(3 * MIB + 7, 3 * MIB + 7), (3 * MIB + 7, MIB), (1000, 1000)] {
            let bytes = pattern(n);
            let mut reader = Trickle {
                bytes: &bytes,
                step: n / 40 + 1,
                calls: 0,
            };
            let input = read_from(&mut reader, Some(size as u64)).unwrap();
            assert!(*input == bytes[..], "{n} bytes, {size} expected");
            assert!(reader.calls > 3, "the reader was interrupted");
        }
    }

    #[test]
    fn a_read_error_is_returned() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk on fire"));
                }
                let n = self.0.min(buf.len());
                buf[..n].fill(b'x');
                self.0 -= n;
                Ok(n)
            }
        }
        for size in [100, 3 * MIB] {
            let err = read_from(&mut Failing(size / 2), Some(size as u64))
                .err()
                .expect("an error");
            assert_eq!(err.to_string(), "disk on fire");
        }
    }

    #[test]
    fn a_file_on_disk_reads_as_std_fs_read_reads_it() {
        let dir = std::env::temp_dir().join(format!("s2s-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for n in [0, 70_000, 3 * MIB + 3] {
            let path = dir.join(format!("{n}.json"));
            std::fs::write(&path, pattern(n)).unwrap();
            let input = read(&path).unwrap();
            assert!(*input == std::fs::read(&path).unwrap()[..], "{n} bytes");
            assert!(*input == pattern(n)[..], "{n} bytes");
        }
        let missing = read(&dir.join("missing.json")).err().expect("an error");
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
