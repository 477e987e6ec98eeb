//! A borrowed view of the derive input: only what the derive looks at.

use proc_macro2::Span;
use syn::{Data, DeriveInput, Generics, Ident};

use crate::attr::{self, Attrs};
use crate::valid::Ctxt;

pub(crate) struct Input<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) generics: &'a Generics,
    pub(crate) shape: Shape,
    pub(crate) attrs: Attrs<'a>,
}

/// What kind of type the derive is on. Structs (named, tuple, unit) and enums are accepted
/// alike: the trait does not look at fields.
pub(crate) enum Shape {
    Struct,
    Enum,
    /// A union, with the span of its `union` keyword.
    Union(Span),
}

impl<'a> Input<'a> {
    /// Borrows `node`, parsing its `#[oob(...)]` attributes; attribute syntax errors go to `cx`.
    pub(crate) fn from_syn(node: &'a DeriveInput, cx: &mut Ctxt) -> Self {
        let shape = match &node.data {
            Data::Struct(_) => Shape::Struct,
            Data::Enum(_) => Shape::Enum,
            Data::Union(data) => Shape::Union(data.union_token.span),
        };
        Input {
            ident: &node.ident,
            generics: &node.generics,
            shape,
            attrs: attr::parse(&node.attrs, cx),
        }
    }
}
