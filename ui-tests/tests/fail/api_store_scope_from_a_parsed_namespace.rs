// A store scope names the namespace a list or clear works on; only a verified caller's
// token (`token.scope()`) or the manager makes one, never a parsed namespace.
use oob::Namespace;
use oob::store::NamespaceScope;

fn main() {
    let victim: Namespace = "victim".parse().unwrap();
    let _scope = NamespaceScope::new(&victim);
}
