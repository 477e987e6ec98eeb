//! A borrowed view of the derive input: only what the derive looks at.

use proc_macro2::Span;
use syn::{Attribute, Data, DeriveInput, Fields, Generics, Ident};

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
            Data::Struct(data) => {
                misplaced(&data.fields, cx);
                Shape::Struct
            }
            Data::Enum(data) => {
                for variant in &data.variants {
                    misplaced_attrs(&variant.attrs, "an enum variant", cx);
                    misplaced(&variant.fields, cx);
                }
                Shape::Enum
            }
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

/// `#[oob(...)]` on the fields of `fields`: errors (the derive reads the type's only).
fn misplaced(fields: &Fields, cx: &mut Ctxt) {
    for field in fields {
        misplaced_attrs(&field.attrs, "a field", cx);
    }
}

/// `#[oob(...)]` among `attrs` of `what` (a field or a variant): an error each, since the
/// derive would otherwise ignore it.
fn misplaced_attrs(attrs: &[Attribute], what: &str, cx: &mut Ctxt) {
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("oob")) {
        cx.at(crate::valid::ITEM);
        cx.error_spanned(
            attr,
            format!(
                "`#[oob(...)]` on {what} is not read: the kind, route and ttl belong to the \
                 type; move this attribute above the `struct` or `enum`"
            ),
        );
    }
}
