//! How an item is laid out in the table: one item per catalog item, keyed by collection and name.
//!
//! | attribute | type | what |
//! |---|---|---|
//! | `collection` | S | partition key: `projects` or `technologies` |
//! | `name` | S | sort key: the item's name; DynamoDB orders it by UTF-8 bytes, as the API does |
//! | `name_folded` | S | the name ASCII-lowercased, which the name filter's `contains` reads |
//! | `id`, `description`, `created_at` | S | as in the API (`created_at` in RFC 3339) |
//! | `created_by` | S | absent when the write was anonymous |

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use catalog::{Collection, Item, ItemId};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub const PARTITION_KEY: &str = "collection";
pub const SORT_KEY: &str = "name";
pub const NAME_FOLDED: &str = "name_folded";

pub type Attributes = HashMap<String, AttributeValue>;

/// The key of `name` in `collection`.
pub fn key(collection: Collection, name: &str) -> Attributes {
    HashMap::from([
        (
            PARTITION_KEY.to_owned(),
            AttributeValue::S(collection.name().to_owned()),
        ),
        (SORT_KEY.to_owned(), AttributeValue::S(name.to_owned())),
    ])
}

/// The attributes that store `item` in `collection`.
pub fn to_attributes(collection: Collection, item: &Item) -> Attributes {
    let mut attributes = key(collection, &item.name);
    let mut put = |name: &str, value: String| {
        attributes.insert(name.to_owned(), AttributeValue::S(value));
    };
    put(NAME_FOLDED, item.name.to_ascii_lowercase());
    put("id", item.id.to_string());
    put("description", item.description.clone());
    put(
        "created_at",
        item.created_at
            .format(&Rfc3339)
            .expect("a UTC time always formats as RFC 3339"),
    );
    if let Some(author) = &item.created_by {
        put("created_by", author.clone());
    }
    attributes
}

/// An attribute that is missing or not what this store writes: the table holds something this
/// store did not put there.
#[derive(Debug, thiserror::Error)]
#[error("attribute {attribute:?} of an item in the table is missing or malformed")]
pub struct MalformedItem {
    pub attribute: &'static str,
}

fn text<'a>(attributes: &'a Attributes, attribute: &'static str) -> Result<&'a str, MalformedItem> {
    match attributes.get(attribute) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(MalformedItem { attribute }),
    }
}

/// The item that `attributes` store.
pub fn from_attributes(attributes: &Attributes) -> Result<Item, MalformedItem> {
    fn malformed<E>(attribute: &'static str) -> impl FnOnce(E) -> MalformedItem {
        move |_| MalformedItem { attribute }
    }
    Ok(Item {
        id: ItemId(text(attributes, "id")?.parse().map_err(malformed("id"))?),
        name: text(attributes, SORT_KEY)?.to_owned(),
        description: text(attributes, "description")?.to_owned(),
        created_at: OffsetDateTime::parse(text(attributes, "created_at")?, &Rfc3339)
            .map_err(malformed("created_at"))?,
        created_by: match attributes.get("created_by") {
            None | Some(AttributeValue::Null(true)) => None,
            Some(AttributeValue::S(author)) => Some(author.clone()),
            Some(_) => {
                return Err(MalformedItem {
                    attribute: "created_by",
                });
            }
        },
    })
}

/// The name in a key that DynamoDB returned (`LastEvaluatedKey`).
pub fn name_of(key: &Attributes) -> Result<&str, MalformedItem> {
    text(key, SORT_KEY)
}

#[cfg(test)]
mod tests {
    use catalog::NewItem;

    use super::*;

    #[test]
    fn items_round_trip_with_and_without_an_author() {
        for author in [Some("alice".to_owned()), None] {
            let item = NewItem::parse("Atlas Ünï", Some("maps"), author)
                .unwrap()
                .into_item();
            let attributes = to_attributes(Collection::Projects, &item);
            assert_eq!(
                attributes[NAME_FOLDED],
                AttributeValue::S("atlas Ünï".into()),
                "only ASCII is folded, as the API's filter does"
            );
            assert_eq!(
                attributes[PARTITION_KEY],
                AttributeValue::S("projects".into())
            );
            assert_eq!(from_attributes(&attributes).unwrap(), item);
        }
    }

    #[test]
    fn a_malformed_item_names_its_attribute() {
        let item = NewItem::parse("Atlas", None, None).unwrap().into_item();
        let mut attributes = to_attributes(Collection::Projects, &item);
        attributes.insert("created_at".into(), AttributeValue::N("1".into()));
        assert_eq!(
            from_attributes(&attributes).unwrap_err().attribute,
            "created_at"
        );
        attributes.remove("id");
        assert_eq!(from_attributes(&attributes).unwrap_err().attribute, "id");
    }
}
