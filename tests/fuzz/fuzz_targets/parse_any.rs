//! Any bytes, read as a config and as an artifact: parsing, schema checks and (for configs that
//! load) rendering must never panic, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

const CONFIG: &str = include_str!("../../../fixtures/walkthrough/pangeo.yaml");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = pangeo_render::yaml::parse_documents(text);
    // The same text as each kind of file `validate` recognises, alone and beside the walkthrough
    // config, so cross-file rules see it too.
    let alone = pangeo_render::validate::validate_texts(&[("fuzz.yaml", text)]);
    let beside = pangeo_render::validate::validate_texts(&[("pangeo.yaml", CONFIG), ("daskhub.yaml", text)]);
    // No diagnostic quotes anything shaped like a secret (a hex token, a password hash).
    for d in alone.iter().chain(&beside) {
        for s in [Some(&d.message), d.field.as_ref(), d.hint.as_ref()].into_iter().flatten() {
            assert_eq!(&pangeo_render::secrets::mask::mask_shapes(s), s, "a diagnostic quotes a secret");
        }
    }
    // As every command does: the rules first, and only a config they accept is rendered.
    let loaded = pangeo_render::config::load_str(Path::new("fuzz.yaml"), text).ok().filter(|loaded| {
        !pangeo_render::validate::check_config(loaded).iter().any(pangeo_render::diag::Diagnostic::is_error)
    });
    if let Some(loaded) = loaded {
        // Fixed secrets: hashing a password per input would make fuzzing 600,000 times slower.
        let secrets = pangeo_render::secrets::Secrets {
            api_version: "pangeo-render/v1alpha1".into(),
            kind: "PangeoSecrets".into(),
            proxy_secret_token: "1".repeat(64),
            dask_gateway_api_token: "2".repeat(64),
            admin_password_hash: "$pbkdf2-sha256$i=600000,l=32$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        };
        let _ = pangeo_render::render::render(&loaded.config, &secrets, &Default::default(), "fuzz.yaml");
    }
});
