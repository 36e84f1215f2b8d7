//! API Gateway access log lines: the stage's format with its `$context` variables filled in.

use std::collections::BTreeMap;

/// The values of one request, by `$context` variable name (without the `$context.` prefix).
#[derive(Debug, Default, Clone)]
pub struct AccessRecord {
    values: BTreeMap<&'static str, String>,
}

impl AccessRecord {
    pub fn set(&mut self, variable: &'static str, value: impl Into<String>) -> &mut Self {
        self.values.insert(variable, value.into());
        self
    }

    /// Fills `format` in. Unknown or unset variables become `-`, as API Gateway writes them;
    /// values are escaped for a JSON string, since the formats put them inside quotes.
    pub fn render(&self, format: &str) -> String {
        let mut out = String::with_capacity(format.len() + 64);
        let mut rest = format;
        while let Some(start) = rest.find("$context.") {
            out.push_str(&rest[..start]);
            let after = &rest[start + "$context.".len()..];
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')))
                .unwrap_or(after.len());
            let name = after[..end].trim_end_matches('.');
            match self.values.get(name).filter(|v| !v.is_empty()) {
                Some(value) => escape_into(&mut out, value),
                None => out.push('-'),
            }
            rest = &after[name.len()..];
        }
        out.push_str(rest);
        out
    }
}

fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_variables_and_dashes_the_rest() {
        let mut record = AccessRecord::default();
        record
            .set("requestId", "r-1")
            .set("status", "201")
            .set("authorizer.claims.cognito:username", "alice");
        let line = record.render(r#"{"id":"$context.requestId","s":"$context.status","u":"$context.authorizer.claims.cognito:username","e":"$context.error.message"}"#);
        assert_eq!(line, r#"{"id":"r-1","s":"201","u":"alice","e":"-"}"#);
        assert!(serde_json::from_str::<serde_json::Value>(&line).is_ok());
    }

    #[test]
    fn values_cannot_break_the_json() {
        let mut record = AccessRecord::default();
        record.set("error.message", "bad \"quote\"\n");
        let line = record.render(r#"{"e":"$context.error.message"}"#);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&line).unwrap()["e"],
            "bad \"quote\"\n"
        );
    }
}
