//! Error messages about input files that never repeat a value: a roster, policy or answers
//! file may hold a PIN or a secret in the wrong place, and an error goes to stderr, logs and
//! `--json`.

/// Words after which serde and toml quote the offending *value* (never a field name).
const VALUE_MARKERS: &[&str] = &[
    "variant ",
    "integer ",
    "floating point ",
    "boolean ",
    "string ",
    "character ",
    "char ",
    "value ",
];

/// A serde/toml message with every quoted value replaced by `(value not shown)`. Field names
/// ("unknown field `always_UV`") and the allowed values ("expected `random` or ...") stay.
pub fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find(['`', '"']) {
        let (before, from) = rest.split_at(i);
        out.push_str(before);
        let quote = from.chars().next().unwrap_or('`');
        let after = &from[1..];
        let Some(end) = after.find(quote) else {
            out.push_str(from);
            return out;
        };
        if VALUE_MARKERS.iter().any(|m| out.ends_with(m)) {
            out.push_str("(value not shown)");
        } else {
            out.push(quote);
            out.push_str(&after[..end]);
            out.push(quote);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Four or more digits and nothing else: what a PIN looks like. Such a value is not echoed
/// even where other values are (an answers file's answers as they are read).
pub fn looks_like_pin(value: &str) -> bool {
    let v = value.trim();
    v.len() >= 4 && v.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::without_values;

    #[test]
    fn values_go_names_and_allowed_values_stay() {
        assert_eq!(
            without_values("unknown variant `735901`, expected `random` or `set-at-enrollment`"),
            "unknown variant (value not shown), expected `random` or `set-at-enrollment`"
        );
        assert_eq!(
            without_values("invalid type: string \"735901\", expected u32"),
            "invalid type: string (value not shown), expected u32"
        );
        assert_eq!(
            without_values("invalid type: integer `735901`, expected a boolean"),
            "invalid type: integer (value not shown), expected a boolean"
        );
        assert_eq!(
            without_values("unknown field `always_UV`, expected one of `always_uv`"),
            "unknown field `always_UV`, expected one of `always_uv`"
        );
    }
}
