//! Any bytes as the secrets file: parsing and the completeness checks never panic, and no error
//! quotes a secret the file holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("fuzz.secrets.yaml");
    let stored = match pangeo_render::secrets::parse(path, text) {
        Ok(s) => s,
        Err(e) => {
            // Nothing parsed, so any value-like piece of the text must stay out of the message.
            let msg = e.to_string();
            for word in text.split(|c: char| c.is_whitespace() || "\"':,{}[]".contains(c)) {
                if word.len() >= 12 && word.bytes().any(|b| b.is_ascii_digit()) && !word.contains("v1alpha1")
                {
                    assert!(!msg.contains(word), "error quotes the file: {msg}");
                }
            }
            return;
        }
    };
    let values: Vec<String> =
        [&stored.proxy_secret_token, &stored.dask_gateway_api_token, &stored.admin_password_hash]
            .into_iter()
            .flatten()
            .filter(|v| v.len() >= 12 && v.bytes().any(|b| b.is_ascii_digit()) && !v.contains("v1alpha1"))
            .cloned()
            .collect();
    if let Err(e) = stored.complete(path) {
        let msg = e.to_string();
        for v in &values {
            assert!(!msg.contains(v.as_str()), "error quotes a secret: {msg}");
        }
    }
});
