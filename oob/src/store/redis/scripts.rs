//! The store's Lua scripts (each `.lua` file's header names its KEYS and ARGV).

use std::sync::LazyLock;

use redis::Script;

/// A script and its source (for `EVAL` after a `NOSCRIPT`).
pub(crate) struct Lua {
    pub(crate) script: LazyLock<Script>,
    pub(crate) source: &'static str,
}

macro_rules! lua {
    ($name:ident, $file:literal) => {
        pub(crate) static $name: Lua = Lua {
            script: LazyLock::new(|| Script::new(include_str!($file))),
            source: include_str!($file),
        };
    };
}

lua!(CREATE, "create.lua");
lua!(TRANSITION, "transition.lua");
lua!(FINISH, "finish.lua");
lua!(FORGET, "forget.lua");
lua!(PURGE, "purge.lua");
lua!(CLEAR, "clear.lua");
