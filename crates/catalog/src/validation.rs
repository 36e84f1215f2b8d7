//! Field rules for catalog items, and the error that lists every field that broke them.

use serde::Serialize;

/// Longest name, in characters (not bytes), after trimming.
pub const NAME_MAX_CHARS: usize = 100;
/// Longest description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 2_000;

/// One field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

/// Input that broke one or more field rules; lists all of them so a client can fix everything in
/// one round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("invalid input: {}", summary(.fields))]
pub struct ValidationError {
    pub fields: Vec<FieldError>,
}

fn summary(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.field, f.problem))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ValidationError {
    pub fn push(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.fields.push(FieldError {
            field: field.into(),
            problem: problem.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// `Ok(())` when no field failed.
    pub fn into_result(self) -> Result<(), ValidationError> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

/// Checks an already-trimmed name.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars == 0 {
        return Err("must not be empty".into());
    }
    if chars > NAME_MAX_CHARS {
        return Err(format!(
            "must be at most {NAME_MAX_CHARS} characters (got {chars})"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    // Items are addressed as /{collection}/{name}; a slash would make the name unaddressable.
    if name.contains('/') {
        return Err("must not contain '/'".into());
    }
    Ok(())
}

pub(crate) fn check_description(description: &str) -> Result<(), String> {
    let chars = description.chars().count();
    if chars > DESCRIPTION_MAX_CHARS {
        return Err(format!(
            "must be at most {DESCRIPTION_MAX_CHARS} characters (got {chars})"
        ));
    }
    // Line breaks and tabs are text; other control characters are not.
    if description
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err("must not contain control characters other than line breaks and tabs".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::NewItem;

    fn fields(result: Result<NewItem, crate::ValidationError>) -> Vec<String> {
        result
            .unwrap_err()
            .fields
            .into_iter()
            .map(|f| f.field)
            .collect()
    }

    #[test]
    fn name_is_trimmed_and_kept() {
        let item = NewItem::parse("  Kubernetes \t", None, None).unwrap();
        assert_eq!(item.name(), "Kubernetes");
        assert_eq!(item.description(), "");
    }

    #[test]
    fn empty_or_blank_name_is_rejected() {
        assert_eq!(fields(NewItem::parse("", None, None)), ["name"]);
        assert_eq!(fields(NewItem::parse("   ", None, None)), ["name"]);
    }

    #[test]
    fn name_length_counts_characters_not_bytes() {
        let hundred_wide = "é".repeat(100);
        assert!(NewItem::parse(&hundred_wide, None, None).is_ok());
        let err = NewItem::parse(&"é".repeat(101), None, None).unwrap_err();
        assert!(err.fields[0].problem.contains("at most 100"), "{err}");
        // Trimming happens before counting.
        assert!(NewItem::parse(&format!("  {}  ", "a".repeat(100)), None, None).is_ok());
    }

    #[test]
    fn control_characters_and_slashes_in_names_are_rejected() {
        assert_eq!(fields(NewItem::parse("a\u{0}b", None, None)), ["name"]);
        assert_eq!(fields(NewItem::parse("a\nb", None, None)), ["name"]);
        assert_eq!(fields(NewItem::parse("a\u{7f}b", None, None)), ["name"]);
        assert_eq!(fields(NewItem::parse("a/b", None, None)), ["name"]);
    }

    #[test]
    fn description_limit_and_control_characters() {
        assert!(NewItem::parse("x", Some(&"d".repeat(2000)), None).is_ok());
        assert_eq!(
            fields(NewItem::parse("x", Some(&"d".repeat(2001)), None)),
            ["description"]
        );
        assert!(NewItem::parse("x", Some("line one\nline two\ttabbed\r\n"), None).is_ok());
        assert_eq!(
            fields(NewItem::parse("x", Some("bell\u{7}"), None)),
            ["description"]
        );
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let err = NewItem::parse("", Some(&"d".repeat(2001)), None).unwrap_err();
        assert_eq!(err.fields.len(), 2);
        assert!(err.to_string().contains("name:") && err.to_string().contains("description:"));
    }
}
