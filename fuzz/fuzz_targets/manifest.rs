//! Manifest parsing (JSON and TOML) and plug-in creation from arbitrary bytes: never
//! a panic, and a manifest that parses serialises back to an equal one.
#![no_main]

use interplug::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(manifest) = Manifest::from_json(text) {
            let again = Manifest::from_json(&manifest.to_json()).expect("own JSON parses");
            assert_eq!(again, manifest);
        }
        let _ = Manifest::from_toml(text);
    }
    // Whatever the bytes, creation answers with a plug-in or an error. Files and URLs
    // are not followed here: only data that carries its own modules.
    if !data.windows(4).any(|w| w == b"path" || w == b"url\"") {
        let _ = interplug::Plugin::new(data, [], false);
    }
});
