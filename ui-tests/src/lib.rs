//! trybuild contract suite.
