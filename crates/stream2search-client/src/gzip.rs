//! Request body compression.

use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;

/// gzip level 1: bulk NDJSON is repetitive, so the fastest level already shrinks it several
/// times over, at a fraction of the CPU of the default level (see `docs/performance.md`).
const LEVEL: u32 = 1;

/// Compresses `ndjson` into a gzip member.
pub(crate) fn compress(ndjson: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(ndjson.len() / 4 + 64),
        Compression::new(LEVEL),
    );
    // Writing into a Vec cannot fail.
    encoder.write_all(ndjson).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read as _;

    #[test]
    fn compressed_body_decodes_to_the_same_bytes() {
        let ndjson = b"{\"index\":{\"_index\":\"t\",\"_id\":\"1\"}}\n{\"a\":1}\n".repeat(100);
        let gz = compress(&ndjson);
        assert!(gz.len() < ndjson.len() / 5);
        let mut back = Vec::new();
        GzDecoder::new(&gz[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, ndjson);
    }
}
