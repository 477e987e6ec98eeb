//! The core contract: transitions, errors, namespaces, atomicity, indexes.
//!
//! One file each: creating (`create`), transitions (`transitions`), namespaces
//! (`namespaces`), namespace providers (`providers`), and the store's own transitions and
//! retention (`store`).

#[path = "core/create.rs"]
mod create;

#[path = "core/transitions.rs"]
mod transitions;

#[path = "core/namespaces.rs"]
mod namespaces;

#[path = "core/providers.rs"]
mod providers;

#[path = "core/store.rs"]
mod store;
