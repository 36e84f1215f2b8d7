//! Catalog items (projects and technologies) and the collections that hold them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::validation::{self, ValidationError};

/// The two collections of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Collection {
    Projects,
    Technologies,
}

impl Collection {
    pub const ALL: [Collection; 2] = [Collection::Projects, Collection::Technologies];

    /// Plural name, as used in paths and storage keys.
    pub const fn name(self) -> &'static str {
        match self {
            Collection::Projects => "projects",
            Collection::Technologies => "technologies",
        }
    }

    /// Singular name, for messages ("project not found").
    pub const fn singular(self) -> &'static str {
        match self {
            Collection::Projects => "project",
            Collection::Technologies => "technology",
        }
    }

    pub fn from_name(name: &str) -> Option<Collection> {
        Collection::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// Stable identifier of an item. UUIDv7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ItemId(pub Uuid);

impl ItemId {
    pub fn new() -> Self {
        ItemId(Uuid::now_v7())
    }
}

impl Default for ItemId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for ItemId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A stored project or technology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: ItemId,
    /// Unique within its collection; the key clients address the item by.
    pub name: String,
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Who created it (the caller's Cognito username), when the request was authenticated.
    pub created_by: Option<String>,
}

/// A validated request to create an item. The only way to get one is [`NewItem::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    name: String,
    description: String,
    created_by: Option<String>,
}

impl NewItem {
    /// Validates raw input, reporting every bad field at once rather than the first.
    ///
    /// The name is trimmed; the description is kept as given (it may be multi-line).
    pub fn parse(
        name: &str,
        description: Option<&str>,
        created_by: Option<String>,
    ) -> Result<NewItem, ValidationError> {
        let mut errors = ValidationError::default();
        let name = name.trim();
        if let Err(problem) = validation::check_name(name) {
            errors.push("name", problem);
        }
        let description = description.unwrap_or("");
        if let Err(problem) = validation::check_description(description) {
            errors.push("description", problem);
        }
        errors.into_result()?;
        Ok(NewItem {
            name: name.to_owned(),
            description: description.to_owned(),
            created_by,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn created_by(&self) -> Option<&str> {
        self.created_by.as_deref()
    }

    /// Gives the item its identity and creation time; done by the store at insert time.
    pub fn into_item(self) -> Item {
        Item {
            id: ItemId::new(),
            name: self.name,
            description: self.description,
            created_at: OffsetDateTime::now_utc()
                .replace_nanosecond(0)
                .unwrap_or_else(|_| OffsetDateTime::now_utc()),
            created_by: self.created_by,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_names_round_trip() {
        for c in Collection::ALL {
            assert_eq!(Collection::from_name(c.name()), Some(c));
        }
        assert_eq!(Collection::from_name("users"), None);
    }

    #[test]
    fn item_serializes_with_rfc3339_time_and_string_id() {
        let item = NewItem::parse("Rust", Some("a language"), Some("alice".into()))
            .unwrap()
            .into_item();
        let json = serde_json::to_value(&item).unwrap();
        assert!(json["id"].as_str().unwrap().len() == 36);
        assert!(json["created_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(json["created_by"], "alice");
        let back: Item = serde_json::from_value(json).unwrap();
        assert_eq!(back, item);
    }

    #[test]
    fn ids_sort_by_creation() {
        let a = ItemId::new();
        let b = ItemId::new();
        assert!(a.0 < b.0);
    }
}
