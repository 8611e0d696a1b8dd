//! Arbitrary bytes through the fleet manifest parser, under each secret rule. Any panic,
//! hang or runaway allocation is a bug; a refusal must name at least one problem, and a
//! manifest taken must keep the promises its targets make.
#![no_main]

use engine::fleet::manifest::{
    self, MAX_ERRORS, MAX_TARGETS, Place, SecretPrefix, Secrets, valid_database, valid_name,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let prefix = SecretPrefix::parse("arn:aws:secretsmanager:eu-west-1:123456789012:secret:t/")
        .expect("a valid prefix");
    for secrets in [Secrets::Unset, Secrets::Local, Secrets::Prefix(&prefix)] {
        match manifest::parse(data, secrets) {
            Ok(m) => {
                assert!(!m.targets.is_empty() && m.targets.len() <= MAX_TARGETS);
                for t in &m.targets {
                    assert!(valid_name(&t.name), "{:?}", t.name);
                    match &t.place {
                        Place::Database(d) => assert!(valid_database(d), "{d:?}"),
                        Place::Secret(s) => assert!(s.starts_with(prefix.as_str()), "{s:?}"),
                    }
                }
            }
            Err(e) => {
                assert!(!e.errors.is_empty() && e.errors.len() <= MAX_ERRORS);
                let _ = e.to_string();
            }
        }
    }
});
