//! The server's configuration file: any text parses to a config or an
//! error, never a panic, and a parsed config survives a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voice_server::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = toml::from_str::<Config>(text) else {
        return;
    };
    let _ = config.handshake_timeout();
    let _ = config.data_dir();
    if let Ok(again) = toml::to_string(&config) {
        let back: Config = toml::from_str(&again).expect("a written config reads back");
        // NaN rates never compare equal; compare the text instead.
        assert_eq!(toml::to_string(&back).ok(), Some(again));
    }
});
