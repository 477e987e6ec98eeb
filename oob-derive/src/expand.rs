//! Code generation: the `impl OobPayload`, with the errors beside it when there are any.

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use syn::DeriveInput;

use crate::ast::Input;
use crate::valid::{self, Ctxt, Payload};

/// Expands `#[derive(OobPayload)]` on `node`.
///
/// On mistakes, the errors are emitted together with the impl built from placeholders
/// (`KIND = ""`, `ROUTE = "/{id}"`), so the type still implements the trait and no
/// "trait not implemented" error cascades from the one mistake.
pub(crate) fn derive(node: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::new();
    let input = Input::from_syn(node, &mut cx);
    let payload = valid::check(&input, &mut cx);
    let imp = impl_payload(&input, &payload);
    match cx.finish() {
        Ok(()) => imp,
        Err(errors) => {
            let errors = errors.into_compile_error();
            quote! {
                #errors
                #imp
            }
        }
    }
}

fn impl_payload(input: &Input<'_>, payload: &Payload) -> TokenStream {
    let ident = input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let Payload {
        kind,
        route,
        ttl_secs,
        krate,
    } = payload;
    let default_ttl = ttl_secs.map(|secs| {
        let secs = Literal::u64_unsuffixed(secs);
        quote! {
            const DEFAULT_TTL: ::core::option::Option<::core::time::Duration> =
                ::core::option::Option::Some(::core::time::Duration::from_secs(#secs));
        }
    });
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::OobPayload for #ident #ty_generics #where_clause {
            const KIND: &'static ::core::primitive::str = #kind;
            const ROUTE: &'static ::core::primitive::str = #route;
            #default_ttl
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn expand(node: DeriveInput) -> String {
        derive(&node).to_string()
    }

    #[test]
    fn expands_to_a_plain_impl() {
        let got = expand(parse_quote! {
            #[derive(OobPayload)]
            #[oob(kind = "device_code", route = "/oob/device/{id}")]
            #[oob(ttl = "1h30m")]
            struct DeviceCode<T: Clone>
            where
                T: Send,
            {
                code: T,
            }
        });
        let want = quote! {
            #[automatically_derived]
            impl<T: Clone> ::oob::OobPayload for DeviceCode<T>
            where
                T: Send,
            {
                const KIND: &'static ::core::primitive::str = "device_code";
                const ROUTE: &'static ::core::primitive::str = "/oob/device/{id}";
                const DEFAULT_TTL: ::core::option::Option<::core::time::Duration> =
                    ::core::option::Option::Some(::core::time::Duration::from_secs(5400));
            }
        };
        println!("{got}");
        assert_eq!(got, want.to_string());
    }

    #[test]
    fn no_ttl_and_crate_override() {
        let got = expand(parse_quote! {
            #[oob(kind = "k", route = "/?id={id}", crate = "my_reexport::oob")]
            enum E { A, B }
        });
        let want = quote! {
            #[automatically_derived]
            impl my_reexport::oob::OobPayload for E {
                const KIND: &'static ::core::primitive::str = "k";
                const ROUTE: &'static ::core::primitive::str = "/?id={id}";
            }
        };
        assert_eq!(got, want.to_string());
    }

    #[test]
    fn errors_come_with_a_stub_impl() {
        let got = expand(parse_quote! {
            #[oob(knd = "k", route = "/oob", ttl = "10min")]
            union U { a: u8 }
        });
        assert_eq!(got.matches("compile_error").count(), 4, "{got}");
        assert!(got.contains("unions"), "{got}");
        assert!(
            got.contains("unknown oob attribute `knd` (did you mean `kind`?)"),
            "{got}"
        );
        assert!(got.contains("no `{id}` placeholder"), "{got}");
        assert!(got.contains("unknown `ttl` unit `min`"), "{got}");
        assert!(!got.contains("missing"), "{got}");
        let stub = quote! {
            #[automatically_derived]
            impl ::oob::OobPayload for U {
                const KIND: &'static ::core::primitive::str = "";
                const ROUTE: &'static ::core::primitive::str = "/{id}";
            }
        };
        assert!(got.ends_with(&stub.to_string()), "{got}");
    }

    #[test]
    fn missing_keys() {
        let got = expand(parse_quote! { struct S; });
        assert_eq!(got.matches("compile_error").count(), 1, "{got}");
        assert!(got.contains("missing `#[oob(...)]` attribute"), "{got}");

        let got = expand(parse_quote! { #[oob()] struct S; });
        assert_eq!(got.matches("compile_error").count(), 2, "{got}");
        assert!(got.contains("missing `kind`"), "{got}");
        assert!(got.contains("missing `route`"), "{got}");
    }

    #[test]
    fn an_unknown_key_hides_only_the_key_it_may_spell() {
        // `colour` looks like no key: the missing `route` is reported beside it.
        let got = expand(parse_quote! {
            #[oob(kind = "device_code", colour = "blue")]
            struct S;
        });
        assert_eq!(got.matches("compile_error").count(), 2, "{got}");
        assert!(got.contains("unknown oob attribute `colour`;"), "{got}");
        assert!(got.contains("missing `route`"), "{got}");

        // `rote` may be the route: not reported missing; the kind is.
        let got = expand(parse_quote! {
            #[oob(rote = "/oob/{id}")]
            struct S;
        });
        assert_eq!(got.matches("compile_error").count(), 2, "{got}");
        assert!(got.contains("(did you mean `route`?)"), "{got}");
        assert!(got.contains("missing `kind`"), "{got}");
        assert!(!got.contains("missing `route`"), "{got}");

        // A missing comma after an unknown key hides the key it swallowed: not reported
        // missing.
        let got = expand(parse_quote! {
            #[oob(colour route = "/x/{id}", kind = "k")]
            struct S;
        });
        assert!(got.contains("unknown oob attribute `colour`"), "{got}");
        assert!(!got.contains("missing `route`"), "{got}");

        // A syntax error may hide any key: nothing is reported missing.
        let got = expand(parse_quote! {
            #[oob(kind = "device_code" colour = "blue")]
            struct S;
        });
        assert_eq!(got.matches("compile_error").count(), 1, "{got}");
        assert!(!got.contains("missing"), "{got}");
    }
}
