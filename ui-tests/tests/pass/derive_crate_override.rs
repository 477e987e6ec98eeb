//! A crate that re-exports oob under another path, and users who reach oob only through
//! it, with `crate = "..."`.
mod my_reexport {
    pub use oob;
}

mod user {
    // No `oob` in scope here: the impl goes through the re-export.
    use super::my_reexport::oob::OobPayload;

    #[derive(OobPayload)]
    #[oob(crate = "crate::my_reexport::oob")]
    #[oob(kind = "reexported", route = "/re/{id}", ttl = "5m")]
    pub struct Reexported;
}

mod absolute {
    #[derive(crate::my_reexport::oob::OobPayload)]
    #[oob(kind = "absolute", route = "/abs/{id}", crate = "::oob")]
    pub struct Absolute;
}

use oob::OobPayload;

fn main() {
    assert_eq!(user::Reexported::KIND, "reexported");
    assert_eq!(user::Reexported::ROUTE, "/re/{id}");
    assert_eq!(
        user::Reexported::DEFAULT_TTL,
        Some(std::time::Duration::from_secs(300))
    );
    assert_eq!(absolute::Absolute::KIND, "absolute");
}
