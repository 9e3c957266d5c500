//! Torrent info dictionaries as the server's tracker reads a publish and
//! voiced reads a fetched torrent: parsing never panics, what it accepts is
//! consistent (one hash per piece of the size it states), and librqbit
//! loads every torrent we accept, so a file we list can be downloaded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voice_proto::torrent::parse_info;

fuzz_target!(|data: &[u8]| {
    let Ok(info) = parse_info(data, 1 << 20) else {
        return;
    };
    assert!(info.piece_length > 0);
    assert_eq!(info.pieces as u64, info.size.div_ceil(info.piece_length));
    assert!(info.files >= 1);
    assert!(!info.name.is_empty());
    let torrent = voiced::files::torrent::torrent_file(data);
    let parsed = librqbit::torrent_from_bytes(&torrent);
    assert!(parsed.is_ok(), "librqbit refuses what we accept: {parsed:?}");
    let parsed = parsed.unwrap_or_else(|_| unreachable!());
    assert_eq!(parsed.info_hash.0, voice_proto::torrent::info_hash(data));
});
