//! The catalog's domain: projects and technologies, their validation, and the storage contract.
//!
//! Projects and technologies have the same shape and rules, so one [`Item`] type serves both and a
//! [`Collection`] says which one is meant. Nothing here knows of HTTP, Lambda or AWS.

mod cursor;
mod item;
mod repository;
mod validation;

pub use cursor::{Cursor, CursorCodec, CursorError};
pub use item::{Collection, Item, ItemId, NewItem};
pub use repository::{
    DEFAULT_PAGE_SIZE, ListQuery, MAX_PAGE_SIZE, Page, Repository, RepositoryError,
};
pub use validation::{DESCRIPTION_MAX_CHARS, FieldError, NAME_MAX_CHARS, ValidationError};
