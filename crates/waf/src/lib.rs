//! The WAF IP allow-list: the project's one CIDR parser, IP sets with expiries, the backend trait
//! and the local backend (JSON files). The AWS WAF backend lives in the `waf-aws` crate, so that
//! only what talks to AWS links the SDK.
//!
//! As in AWS WAF, the web ACL blocks by default and lets a request through when its source IP
//! (the connection's peer, never a header) is in the allow-list. The allow-list is two IP sets,
//! one per IP version, named by [`IpSetNames::for_env`]: `catalog-<env>-allow-v4` and
//! `catalog-<env>-allow-v6`.
//!
//! - Managing it (`cargo xtask ip`): an [`AllowListBackend`], e.g. [`LocalBackend`].
//! - Enforcing it in the local gateway: [`LocalAllowList::allows`] on every request.

pub mod allow_list;
pub mod backend;
pub mod cidr;
pub mod local;

pub use allow_list::{
    AllowList, AllowListError, Allowed, Entry, IpSet, MAX_ENTRIES_PER_SET, MAX_NOTE_CHARS,
};
pub use backend::{
    AllowListBackend, BackendError, IpSetNames, NameError, Revoked, SetChange, janitor,
};
pub use cidr::{Cidr, CidrError, IpVersion};
pub use local::{LocalAllowList, LocalBackend};
