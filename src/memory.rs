//! Memory sizes, as each program that reads one understands it.
//!
//! Three readers disagree about the same letters:
//! - the config says what the user means, in Kubernetes quantity syntax: `G` is 10⁹ bytes, `Gi` is
//!   2³⁰, a bare number is bytes (Kubernetes' `resource.Quantity`);
//! - JupyterHub's `ByteSpecification` (the trait behind `c.Spawner.mem_limit`/`mem_guarantee`, which
//!   Z2JH fills from `singleuser.memory`) accepts only an integer number of bytes or a number with
//!   one of `K`, `M`, `G`, `T` — and reads those as powers of **1024**. `8Gi` makes every spawn fail
//!   (`TraitError: 8Gi is not a valid memory specification`), and `8G` there means 8 GiB;
//! - KubeSpawner hands JupyterHub's integer to the pod as a plain byte count.
//!
//! So the config is parsed exactly (no floating point), and rendered in the form JupyterHub reads
//! as the same number of bytes: a binary quantity keeps a suffix (`8Gi` → `8G`, `1.5Gi` → `1536M`),
//! anything else becomes an integer (`8G` → `8000000000`). [`hub_bytes`] is JupyterHub's parser,
//! mirrored from jupyterhub/traitlets.py (`ByteSpecification.validate`, identical in 4.0.2 and 5.5.0),
//! for checking a hand-edited `daskhub.yaml` before the hub sees it.

use std::fmt;

/// The largest size we accept: far above any node, well inside JupyterHub's integers and f64's
/// exact range (so the float in `ByteSpecification` cannot round it).
const MAX_BYTES: u128 = 1 << 52;

const BINARY: [(&str, u32); 6] = [("Ki", 1), ("Mi", 2), ("Gi", 3), ("Ti", 4), ("Pi", 5), ("Ei", 6)];
const DECIMAL: [(&str, u32); 6] = [("k", 1), ("M", 2), ("G", 3), ("T", 4), ("P", 5), ("E", 6)];

/// JupyterHub's suffixes, largest first.
const HUB_SUFFIXES: [(&str, u32); 4] = [("T", 4), ("G", 3), ("M", 2), ("K", 1)];

/// A memory size from the config: its exact byte count and whether it was written in binary units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    pub bytes: u64,
    binary: bool,
}

/// Why a config value is not a memory size; the text completes "not a memory size: …".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SizeError(pub String);

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What to write in `daskhub.yaml` for JupyterHub: a YAML integer or a suffixed string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HubForm {
    Bytes(u64),
    Suffixed(String),
}

impl fmt::Display for HubForm {
    /// As a YAML scalar: the integer bare, the suffixed form double-quoted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HubForm::Bytes(b) => write!(f, "{b}"),
            HubForm::Suffixed(s) => write!(f, "\"{s}\""),
        }
    }
}

impl Size {
    /// A size written in the config as text: a Kubernetes quantity with a binary (`Ki`…`Ei`) or
    /// decimal (`k`, `M`…`E`) suffix, or none (bytes).
    pub fn parse(text: &str) -> Result<Size, SizeError> {
        let t = text.trim();
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        if number.is_empty() {
            return Err(SizeError("it does not start with a number".into()));
        }
        let (multiplier, binary) = if unit.is_empty() {
            (1u128, false)
        } else if let Some((_, p)) = BINARY.iter().find(|(s, _)| *s == unit) {
            (1024u128.pow(*p), true)
        } else if let Some((_, p)) = DECIMAL.iter().find(|(s, _)| *s == unit) {
            (1000u128.pow(*p), false)
        } else if unit == "K" {
            // Kubernetes has no `K`, and JupyterHub reads it as 1024: say which one is meant.
            return Err(SizeError(
                "`K` means 1000 bytes to Kubernetes' `k` but 1024 to JupyterHub; write `k` or `Ki`".into(),
            ));
        } else {
            return Err(SizeError(format!("unknown unit `{unit}`")));
        };
        let (mantissa, scale) = decimal(number).ok_or_else(|| SizeError("not a number".into()))?;
        let scaled = mantissa.checked_mul(multiplier).ok_or_else(too_large)?;
        let divisor = 10u128.pow(scale);
        if scaled % divisor != 0 {
            return Err(SizeError("it is not a whole number of bytes".into()));
        }
        Size::from_bytes(scaled / divisor, binary)
    }

    /// A size written as a YAML number: bytes.
    pub fn from_number(n: f64) -> Result<Size, SizeError> {
        if !n.is_finite() || n < 0.0 {
            return Err(SizeError("it is not a positive number of bytes".into()));
        }
        if n.fract() != 0.0 {
            return Err(SizeError("it is not a whole number of bytes".into()));
        }
        if n > MAX_BYTES as f64 {
            return Err(too_large());
        }
        Size::from_bytes(n as u128, false)
    }

    fn from_bytes(bytes: u128, binary: bool) -> Result<Size, SizeError> {
        if bytes == 0 {
            return Err(SizeError("it is zero".into()));
        }
        if bytes > MAX_BYTES {
            return Err(too_large());
        }
        Ok(Size { bytes: bytes as u64, binary })
    }

    /// The value for JupyterHub's `mem_limit`/`mem_guarantee` that means exactly these bytes.
    pub fn hub_form(self) -> HubForm {
        if self.binary {
            for (suffix, p) in HUB_SUFFIXES {
                let unit = 1024u64.pow(p);
                if self.bytes.is_multiple_of(unit) {
                    return HubForm::Suffixed(format!("{}{suffix}", self.bytes / unit));
                }
            }
        }
        HubForm::Bytes(self.bytes)
    }
}

fn too_large() -> SizeError {
    SizeError("it is larger than any node (over 4 PiB)".into())
}

/// `"1.25"` → `(125, 2)`: digits with at most one point, as an integer and a decimal scale.
fn decimal(text: &str) -> Option<(u128, u32)> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && frac.is_empty() || frac.contains('.') || frac.len() > 18 {
        return None;
    }
    let digits = format!("{whole}{frac}");
    let mantissa = digits.parse::<u128>().ok()?;
    Some((mantissa, frac.len() as u32))
}

/// How JupyterHub reads a `mem_limit`/`mem_guarantee` value from its config, or why it refuses it:
/// jupyterhub/traitlets.py `ByteSpecification.validate` (4.0.2 and 5.5.0): a number is bytes
/// (`int(value)`); a string must be a float followed by exactly one of K, M, G, T (powers of 1024).
pub enum HubValue<'a> {
    Number(f64),
    Text(&'a str),
}

pub fn hub_bytes(value: HubValue<'_>) -> Result<u64, String> {
    match value {
        HubValue::Number(n) if n.is_finite() && n >= 0.0 => Ok(n.trunc() as u64),
        HubValue::Number(_) => Err("not a number of bytes JupyterHub can use".into()),
        HubValue::Text(t) => {
            let refuse = || {
                format!(
                    "JupyterHub refuses {t:?}: it takes an integer number of bytes or a number with \
                     one of K, M, G, T (powers of 1024), such as 8G; Kubernetes units like Gi are refused"
                )
            };
            let mut chars = t.chars();
            let suffix = chars.next_back().ok_or_else(refuse)?;
            let (_, p) = HUB_SUFFIXES.iter().find(|(s, _)| s.starts_with(suffix)).ok_or_else(refuse)?;
            let number = chars.as_str();
            // Python's float() accepts surrounding blanks, signs, exponents and underscores;
            // none of those belongs in a size, so only plain decimals pass here.
            if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                return Err(refuse());
            }
            let n: f64 = number.parse().map_err(|_| refuse())?;
            Ok((n * 1024f64.powi(*p as i32)) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(text: &str) -> HubForm {
        Size::parse(text).unwrap().hub_form()
    }

    #[test]
    fn binary_units_keep_a_suffix_jupyterhub_reads_as_the_same_bytes() {
        assert_eq!(hub("8Gi"), HubForm::Suffixed("8G".into()));
        assert_eq!(hub("1.5Gi"), HubForm::Suffixed("1536M".into()));
        assert_eq!(hub("512Mi"), HubForm::Suffixed("512M".into()));
        assert_eq!(hub("2Ti"), HubForm::Suffixed("2T".into()));
        assert_eq!(hub("3Pi"), HubForm::Suffixed("3072T".into()));
        for t in ["8Gi", "1.5Gi", "512Mi", "2Ti", "3Pi", "100Ki"] {
            let size = Size::parse(t).unwrap();
            let HubForm::Suffixed(s) = size.hub_form() else { panic!("{t}") };
            assert_eq!(hub_bytes(HubValue::Text(&s)).unwrap(), size.bytes, "{t}");
        }
    }

    #[test]
    fn decimal_units_and_bytes_become_integers() {
        assert_eq!(hub("8G"), HubForm::Bytes(8_000_000_000));
        assert_eq!(hub("1.5G"), HubForm::Bytes(1_500_000_000));
        assert_eq!(hub("512k"), HubForm::Bytes(512_000));
        assert_eq!(hub("4294967296"), HubForm::Bytes(4_294_967_296));
        assert_eq!(Size::from_number(17179869184.0).unwrap().hub_form(), HubForm::Bytes(17_179_869_184));
    }

    #[test]
    fn refuses_what_is_not_a_whole_positive_size() {
        for bad in
            ["", "Gi", "8 Gi", "8gi", "8K", "1.3Mi.5", "0.1", "0", "0Gi", "1e9", "-1G", "8GB", "9999999Ei"]
        {
            assert!(Size::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Size::parse("0.5").is_err(), "half a byte");
        assert!(Size::from_number(1.5).is_err());
        assert!(Size::from_number(f64::INFINITY).is_err());
        assert!(Size::from_number(-1.0).is_err());
        assert!(Size::parse("8K").unwrap_err().0.contains("`Ki`"));
    }

    #[test]
    fn jupyterhub_parser_matches_byte_specification() {
        assert_eq!(hub_bytes(HubValue::Text("8G")).unwrap(), 8 << 30);
        assert_eq!(hub_bytes(HubValue::Text("1.5G")).unwrap(), 3 << 29);
        assert_eq!(hub_bytes(HubValue::Number(1234.0)).unwrap(), 1234);
        for bad in ["8Gi", "16Gi", "8g", "8", "G", "8 G", "1e3G", "8GB"] {
            assert!(hub_bytes(HubValue::Text(bad)).is_err(), "{bad:?} accepted");
        }
    }
}
