//! The `agent` query parameter (JSON text of an Agent or Group).
#![no_main]

use commonplace::xapi::agent::parse_agent_param;
use commonplace::xapi::Version;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for version in [Version::V1_0_3, Version::V2_0_0] {
        let _ = parse_agent_param(text, version);
    }
});
