//! Any bytes as a kubeconfig: parsing never panics, and the error never quotes the file (its
//! lines hold tokens, keys and passwords).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(msg) = pangeo_render::kube::client::parse_kubeconfig(text) {
        for word in text.split(|c: char| c.is_whitespace() || "\"':,{}[]".contains(c)) {
            // Credential-like words: long, with a digit; not an API group the message may name.
            if word.len() >= 12 && word.bytes().any(|b| b.is_ascii_digit()) && !word.contains("k8s.io") {
                assert!(!msg.contains(word), "error quotes the kubeconfig: {msg}");
            }
        }
    }
});
