//! Strict JSON parsing, Statement validation (both versions) and the `format` views.
#![no_main]

use commonplace::xapi::json::parse_json;
use commonplace::xapi::statement::parse_statements;
use commonplace::xapi::{format, Version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = parse_json(data, 64) else {
        return;
    };
    for version in [Version::V1_0_3, Version::V2_0_0] {
        if let Ok(parsed) = parse_statements(value.clone(), version) {
            for statement in parsed {
                let ids = format::ids(&statement.body);
                assert_eq!(format::ids(&ids), ids);
                let _ = format::canonical(&statement.body, &["en-US".into()], &|_| None);
            }
        }
    }
});
